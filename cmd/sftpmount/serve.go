package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	sftpfs "github.com/sftpmount/sftpmount/fs"
	"github.com/sftpmount/sftpmount/fs/writeback"
	"github.com/sftpmount/sftpmount/remote"
	"github.com/sftpmount/sftpmount/remote/sshconf"
)

// startup is what only the start of a mount uses: the terminal to ask
// on, a password from stdin, and where the outcome and notices go.
type startup struct {
	tty      *os.File // nil when there is no terminal
	password []byte   // -o password_stdin; wiped once logged in
	ready    func(error)
	notice   func(string)
	// after, once set, is where notices go when the start is over
	// (the background process's status pipe is closed by then): a
	// reconnect refused for its host key must still be said.
	after atomic.Pointer[func(string)]
}

// say sends a notice of the connection: to the start's notices until the
// mount is ready, then to the later ones (stderr, or syslog).
func (st *startup) say(msg string) {
	if f := st.after.Load(); f != nil {
		(*f)(msg)
		return
	}
	st.notice(msg)
}

// serve connects, mounts and serves until unmounted. st.ready is called
// once with the outcome of the start: here, the one place a start-up
// failure is reported.
func serve(o options, st *startup) error {
	// Before the mount appears: Go's own SIGQUIT would end the process.
	defer dumpOnSIGQUIT()()
	if os.Getenv("GOMEMLIMIT") == "" {
		defer followLiveHeap(250 * time.Millisecond)()
	}
	var debug *log.Logger
	if o.Debug {
		debug = log.New(os.Stderr, "sftpmount: ", log.Ltime|log.Lmicroseconds)
	}
	m, err := mount(o, st, debug)
	defer m.close()
	if err != nil {
		st.ready(err)
		return asFailure(err)
	}
	root, rc, server, say := m.root, m.rc, m.server, m.say
	st.after.Store(&say)
	st.ready(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	// Once the signals are ours: a SIGTERM right after the mount
	// appears unmounts, rather than ending a start still in progress.
	stopControl, err := serveControl(o.Mountpoint, root.FS(), rc, m.transport, say)
	if err != nil {
		say(fmt.Sprintf("sftpmount status and sync will not answer: %v", err))
		stopControl = func() {}
	}
	defer stopControl()
	unmounted := make(chan struct{})
	go func() {
		server.Wait()
		close(unmounted)
	}()
	select {
	case <-unmounted: // fusermount3 -u, umount, or the kernel went away
	case sig := <-sigs:
		if debug != nil {
			debug.Printf("%v: unmounting %s", sig, o.Mountpoint)
		}
		unmount(server, o.Mountpoint)
	}
	err = drain(root.FS(), max(2*time.Minute, 4*o.Timeout), say)
	// What drain left (it gave up, or failed) stays in the journal for
	// the next mount: Close cuts it now, records whole, and ends every
	// goroutine the mount started.
	cut, cancel := context.WithCancel(context.Background())
	cancel()
	root.FS().Close(cut)
	return err
}

// mounted is what a start opened: closed, in the reverse order, when
// serve returns, whether the start failed or the mount was served.
type mounted struct {
	rc     *remote.Client
	root   *sftpfs.Node
	server *fuse.Server
	say    func(string) // where notices go once the mount runs
	// transport names what carries SFTP (transportName), for the -d
	// log and sftpmount status.
	transport string
	closes    []func()
}

func (m *mounted) close() {
	for i := len(m.closes) - 1; i >= 0; i-- {
		m.closes[i]()
	}
}

// mount connects and mounts; its error is the start's failure, which
// serve reports.
func mount(o options, st *startup, debug *log.Logger) (*mounted, error) {
	m := &mounted{}
	var owner sftpfs.Owner // idmap=file's maps, read before anything is asked of the server
	if err := o.idMaps(&owner); err != nil {
		return m, err
	}
	rc, cfg, err := connect(o, st, debug)
	wipeBytes(st.password)
	if st.tty != nil {
		st.tty.Close()
	}
	if err != nil {
		return m, err
	}
	m.rc = rc
	m.closes = append(m.closes, func() { rc.Close() })
	m.transport = o.transportName(cfg)
	if debug != nil {
		debug.Printf("transport: %s", m.transport)
	}
	if o.FsName == "" {
		o.FsName = fmt.Sprintf("%s@%s:%s", cfg.Target.User, o.Host, o.Dir)
	}

	caches := o.Cache.fsCaches()
	fsOpts := sftpfs.Options{
		Caches:            caches,
		KernelCache:       o.Cache.KernelCache,
		DirectIO:          o.Cache.DirectIO,
		DisableHardlink:   o.DisableHardlink,
		SeparateLinks:     o.SeparateLinks,
		Timeout:           o.Timeout,
		Debug:             debug,
		ContainSymlinks:   o.ContainSymlinks,
		TransformSymlinks: o.TransformSymlinks,
		FollowSymlinks:    o.FollowSymlinks,
		Owner: sftpfs.Owner{UID: o.UID, GID: o.GID, Umask: o.Umask, MapUser: o.IDMapUser,
			UIDs: owner.UIDs, GIDs: owner.GIDs, NoMapError: owner.NoMapError},
	}
	if st, err := rc.StatFS(context.Background(), ""); err == nil {
		fsOpts.NameMax = int(st.NameMax)
	}
	if o.IDMapUser {
		fsOpts.Owner.RemoteUID, fsOpts.Owner.RemoteGID = rc.LoginOwner()
		fsOpts.Owner.LocalUID, fsOpts.Owner.LocalGID = uint32(os.Getuid()), uint32(os.Getgid())
	}
	say := laterNotices(o.Foreground)
	m.say = say
	journalOf := writeback.JournalRemote{User: cfg.Target.User, Host: cfg.Target.Host, Port: cfg.Target.Port, Dir: rc.Root()}
	if fsOpts.Writeback, err = openWriteback(o, journalOf, say); err != nil {
		return m, err
	}
	if wb := fsOpts.Writeback; wb != nil {
		m.closes = append(m.closes, func() { wb.Journal.Close() }) // after the wait at unmount
	}
	root := sftpfs.NewRoot(rc, fsOpts)
	m.root = root
	if k, err := root.FS().LoadJournal(); err != nil {
		return m, fail(ExitConfig, fmt.Sprintf("write-back journal: %v", err))
	} else if k > 0 {
		msg := fmt.Sprintf("%d files left in the journal %s by an earlier mount are being uploaded", k, fsOpts.Writeback.Journal.Dir())
		if st.notice != nil {
			st.notice(msg)
		} else {
			say(msg)
		}
	}
	mo := fuse.MountOptions{
		FsName:     o.FsName,
		Name:       "sftpmount",
		AllowOther: o.AllowOther,
		MaxWrite:   o.Cache.MaxWrite,
		// Readdirplus, adaptive: the kernel asks for attributes with
		// the first batch of a listing and with the next ones only while
		// its reader stats the names (ls -l), so `ls -f` makes no node
		// per name and `ls -l` of 100 000 names makes no lookup per
		// name. Names the kernel already holds are passed over (see
		// fs/dirhandle.go): a warm `ls -lR` is answered by its dentries.
		ExtraCapabilities: fuse.CAP_READDIRPLUS_AUTO,
	}
	if o.DefaultPermissions {
		mo.Options = append(mo.Options, "default_permissions")
	}
	if o.ReadOnly {
		mo.Options = append(mo.Options, "ro")
	}
	if o.Cache.MaxRead > 0 {
		mo.Options = append(mo.Options, fmt.Sprintf("max_read=%d", o.Cache.MaxRead))
	}
	server, err := fusefs.Mount(o.Mountpoint, root, &fusefs.Options{
		MountOptions: mo,
		EntryTimeout: &caches.KernelEntry,
		AttrTimeout:  &caches.KernelAttr,
		// An absent name is remembered by the kernel for
		// negative_timeout (1 s): git and compilers probe many absent
		// names again and again, and a file another client makes is
		// found within it. Our own creates update the kernel's cache.
		NegativeTimeout: &caches.Negative,
		NullPermissions: true,
		// Every other node's number derives from the root's (fs/identity).
		RootStableAttr: &fusefs.StableAttr{Ino: fuse.FUSE_ROOT_ID},
	})
	if err != nil {
		return m, fail(ExitMount, fmt.Sprintf("mount %s: %v", o.Mountpoint, err))
	}
	root.FS().Start()
	m.server = server
	return m, nil
}

// connect reaches the server over our SSH, or the stream -o ssh_command,
// directport or passive give (streams.go).
func connect(o options, st *startup, debug *log.Logger) (*remote.Client, remote.Config, error) {
	if !o.streamMode() {
		cfg, err := connectConfig(o, st, debug)
		if err != nil {
			return nil, cfg, err
		}
		rc, err := remote.Connect(context.Background(), cfg)
		return rc, cfg, err
	}
	return connectStream(o, st, debug)
}

// unmount detaches the mount. A busy mount (a shell sitting in it) cannot
// be unmounted the ordinary way; then it is detached lazily and we return
// anyway, as libfuse does: the process exits, and whoever still holds the
// detached tree gets ENOTCONN instead of a mount that never goes away.
func unmount(server *fuse.Server, mountpoint string) {
	if err := server.Unmount(); err == nil {
		return
	}
	exec.Command("fusermount3", "-u", "-z", mountpoint).Run()
}

// asFailure classifies a startup error for its exit code.
func asFailure(err error) *failure {
	var f *failure
	if errors.As(err, &f) {
		return f
	}
	var ue *sshconf.UserError
	if errors.As(err, &ue) {
		return fail(ExitUsage, ue.Error())
	}
	var ce *sshconf.ConfigError
	if errors.As(err, &ce) {
		return fail(ExitConfig, ce.Error())
	}
	var se *remote.StartupError
	if errors.As(err, &se) {
		code := map[remote.StartupKind]int{
			remote.StartupConnect:   ExitConnect,
			remote.StartupHostKey:   ExitHostKey,
			remote.StartupAuth:      ExitAuth,
			remote.StartupRemoteDir: ExitRemoteDir,
			remote.StartupConfig:    ExitConfig,
		}[se.Kind]
		if code == 0 {
			code = ExitInternal
		}
		return fail(code, se.Error())
	}
	return fail(ExitInternal, err.Error())
}
