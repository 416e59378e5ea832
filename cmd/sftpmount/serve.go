package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	sftpfs "github.com/sftpmount/sftpmount/fs"
	"github.com/sftpmount/sftpmount/remote"
)

// serve connects, mounts and serves until unmounted. ready, if not nil, is
// called once with the outcome of the start.
func serve(o options, ready func(error)) error {
	if ready == nil {
		ready = func(error) {}
	}
	var debug *log.Logger
	if o.Debug {
		debug = log.New(os.Stderr, "sftpmount: ", log.Ltime|log.Lmicroseconds)
	}
	home, _ := os.UserHomeDir()
	known := o.KnownHostsFiles
	if len(known) == 0 {
		known = defaultKnownHostsFiles(home)
	}
	cfg := remote.Config{
		Host: o.Host, Port: o.Port, User: o.User, Dir: o.Dir,
		UseAgent:             true,
		IdentityFiles:        o.IdentityFiles,
		DefaultIdentityFiles: defaultIdentityFiles(home),
		KnownHostsFiles:      known,
		ConnectTimeout:       o.ConnectTimeout,
		Timeout:              o.Timeout,
		Reconnect:            o.Reconnect,
		KeepaliveInterval:    o.KeepaliveInterval,
		KeepaliveCountMax:    o.KeepaliveCountMax,
		Debug:                debug,
	}
	rc, err := remote.Connect(context.Background(), cfg)
	if err != nil {
		ready(err)
		return asFailure(err)
	}
	defer rc.Close()

	fsOpts := sftpfs.Options{
		CacheTimeout:      o.CacheTimeout,
		Debug:             debug,
		ContainSymlinks:   o.ContainSymlinks,
		TransformSymlinks: o.TransformSymlinks,
		FollowSymlinks:    o.FollowSymlinks,
		Owner:             sftpfs.Owner{UID: o.UID, GID: o.GID, Umask: o.Umask, MapUser: o.IDMapUser},
	}
	if st, err := rc.StatFS(context.Background(), ""); err == nil {
		fsOpts.NameMax = int(st.NameMax)
	}
	if o.IDMapUser {
		fsOpts.Owner.RemoteUID, fsOpts.Owner.RemoteGID = rc.LoginOwner()
		fsOpts.Owner.LocalUID, fsOpts.Owner.LocalGID = uint32(os.Getuid()), uint32(os.Getgid())
	}
	root := sftpfs.NewRoot(rc, fsOpts)
	mo := fuse.MountOptions{
		FsName:     fmt.Sprintf("%s@%s:%s", o.User, o.Host, o.Dir),
		Name:       "sftpmount",
		AllowOther: o.AllowOther,
		MaxWrite:   1 << 20,
	}
	if o.DefaultPermissions {
		mo.Options = append(mo.Options, "default_permissions")
	}
	if o.ReadOnly {
		mo.Options = append(mo.Options, "ro")
	}
	server, err := fusefs.Mount(o.Mountpoint, root, &fusefs.Options{
		MountOptions:    mo,
		EntryTimeout:    &o.CacheTimeout,
		AttrTimeout:     &o.CacheTimeout,
		NullPermissions: true,
	})
	if err != nil {
		err = fail(ExitMount, fmt.Sprintf("mount %s: %v", o.Mountpoint, err))
		ready(err)
		return err
	}
	ready(nil)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
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
	return nil
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
