package main

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	sftpfs "github.com/sftpmount/sftpmount/fs"
)

func TestSshfsStyleArgumentsParse(t *testing.T) {
	o, err := parseArgs([]string{"alice@example.org:/srv/data", "/mnt/x", "-p", "2222", "-o", "IdentityFile=/k1,ro", "-oIdentityFile=/k2", "-f", "-o", "timeout=7,cache_timeout=0,_netdev"})
	if err != nil {
		t.Fatal(err)
	}
	if o.User != "alice" || o.Host != "example.org" || o.Dir != "/srv/data" || o.Mountpoint != "/mnt/x" {
		t.Errorf("remote/mountpoint: %+v", o)
	}
	if o.SSH["port"][0] != "2222" || !o.ReadOnly || !o.Foreground || o.Timeout != 7*time.Second || o.Cache.Stat != 0 || o.Cache.Dir != 0 || o.Cache.Link != 0 {
		t.Errorf("options: %+v", o)
	}
	if strings.Join(o.SSH["identityfile"], ",") != "/k1,/k2" {
		t.Errorf("identity files in order: %v", o.SSH["identityfile"])
	}
	if o.SSH["user"][0] != "alice" {
		t.Errorf("user@ is not passed on as User: %v", o.SSH)
	}
}

func TestRemoteSpecForms(t *testing.T) {
	cases := []struct{ spec, user, host, dir string }{
		{"host:", "", "host", ""},
		{"host:rel/dir", "", "host", "rel/dir"},
		{"u@host:/abs", "u", "host", "/abs"},
		{"u@[::1]:/d", "u", "::1", "/d"},
		{"[fe80::1]:", "", "fe80::1", ""},
		{"u@h:dir:with:colons", "u", "h", "dir:with:colons"},
		{"first.last@h:d", "first.last", "h", "d"},
	}
	for _, c := range cases {
		var o options
		if err := o.setRemote(c.spec); err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if (c.user != "" && o.User != c.user) || o.Host != c.host || o.Dir != c.dir {
			t.Errorf("%q: got user %q host %q dir %q", c.spec, o.User, o.Host, o.Dir)
		}
	}
}

func TestBadArgumentsAreRefusedWithAReason(t *testing.T) {
	cases := map[string][]string{
		"one argument":        {"host:"},
		"three arguments":     {"host:", "/mnt", "extra"},
		"no colon":            {"host", "/mnt"},
		"empty host":          {":dir", "/mnt"},
		"empty user":          {"@host:", "/mnt"},
		"unclosed bracket":    {"[::1:/d", "/mnt"},
		"unknown option":      {"host:", "/mnt", "-o", "frobnicate"},
		"unknown flag":        {"host:", "/mnt", "-x"},
		"bad port":            {"host:", "/mnt", "-p", "99999"},
		"port not a number":   {"host:", "/mnt", "-o", "port=ssh"},
		"missing -o value":    {"host:", "/mnt", "-o"},
		"flag with value":     {"host:", "/mnt", "-o", "ro=1"},
		"negative timeout":    {"host:", "/mnt", "-o", "timeout=-1"},
		"zero timeout":        {"host:", "/mnt", "-o", "timeout=0"},
		"empty identityfile":  {"host:", "/mnt", "-o", "IdentityFile="},
		"bad cache":           {"host:", "/mnt", "-o", "cache=maybe"},
		"countmax zero":       {"host:", "/mnt", "-o", "ServerAliveCountMax=0"},
		"ignored with value":  {"host:", "/mnt", "-o", "nodev=1"},
		"bad strict mode":     {"host:", "/mnt", "-o", "StrictHostKeyChecking=maybe"},
		"bad yes/no":          {"host:", "/mnt", "-o", "IdentitiesOnly=perhaps"},
		"empty ssh_command":   {"host:", "/mnt", "-o", "ssh_command="},
		"ssh_protocol 1":      {"host:", "/mnt", "-o", "ssh_protocol=1"},
		"ssh_protocol 3":      {"host:", "/mnt", "-o", "ssh_protocol=3"},
		"directport zero":     {"host:", "/mnt", "-o", "directport=0"},
		"directport word":     {"host:", "/mnt", "-o", "directport=sftp"},
		"directport too big":  {"host:", "/mnt", "-o", "directport=70000"},
		"passive with value":  {":", "/mnt", "-o", "passive=yes"},
		"blank ssh_command":   {"host:", "/mnt", "-o", "ssh_command=  "},
		"two transports":      {"host:", "/mnt", "-o", "ssh_command=ssh,directport=2222"},
		"passive and port":    {":", "/mnt", "-o", "passive,directport=2222"},
		"stream and pw":       {"host:", "/mnt", "-o", "ssh_command=ssh,password_stdin"},
		"directport jump":     {"host:", "/mnt", "-o", "directport=2222,ProxyJump=gw"},
		"directport and -p":   {"host:", "/mnt", "-p", "22", "-o", "directport=2222"},
		"directport key":      {"host:", "/mnt", "-o", "directport=2222,IdentityFile=/k"},
		"passive and -F":      {":", "/mnt", "-F", "/dev/null", "-o", "passive"},
		"passive sftp_server": {":", "/mnt", "-o", "passive,sftp_server=/x"},
		"max_conns zero":      {"host:", "/mnt", "-o", "max_conns=0"},
		"max_conns too many":  {"host:", "/mnt", "-o", "max_conns=11"},
		"bad dcache timeout":  {"host:", "/mnt", "-o", "dcache_timeout=soon"},
		"-F without file":     {"host:", "/mnt", "-F"},
	}
	for name, args := range cases {
		_, err := parseArgs(args)
		if err == nil || errors.Is(err, errHelp) || errors.Is(err, errVersion) {
			t.Errorf("%s: %v accepted", name, args)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: message is more than one line: %q", name, err)
		}
	}
}

func TestUnknownOptionMessageNamesTheOption(t *testing.T) {
	_, err := parseArgs([]string{"h:", "/m", "-o", "allow_other,sshfs_sync_frob"})
	if err == nil || !strings.Contains(err.Error(), "sshfs_sync_frob") {
		t.Fatalf("got %v", err)
	}
}

func TestHelpAndVersionAreNotErrors(t *testing.T) {
	for _, a := range []string{"-h", "--help"} {
		if _, err := parseArgs([]string{a}); !errors.Is(err, errHelp) {
			t.Errorf("%s: %v", a, err)
		}
	}
	if _, err := parseArgs([]string{"-V"}); !errors.Is(err, errVersion) {
		t.Error("-V")
	}
}

func TestDebugImpliesForeground(t *testing.T) {
	o, err := parseArgs([]string{"h:", "/m", "-d"})
	if err != nil || !o.Debug || !o.Foreground {
		t.Fatalf("%+v %v", o, err)
	}
}

func TestRelativePathsBecomeAbsolute(t *testing.T) {
	o, err := parseArgs([]string{"h:", "mnt", "-o", "IdentityFile=keys/id,UserKnownHostsFile=kh"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{o.Mountpoint, o.SSH["identityfile"][0], o.SSH["userknownhostsfile"][0]} {
		if !filepath.IsAbs(p) {
			t.Errorf("%q is not absolute", p)
		}
	}
}

func TestDefaultsAreSane(t *testing.T) {
	o := defaultOptions()
	if o.Timeout <= 0 || o.Timeout > 30*time.Second || defaultConnectTimeout <= 0 || defaultKeepaliveInterval <= 0 || defaultKeepaliveCountMax < 1 || !o.Reconnect {
		t.Fatalf("%+v", o)
	}
}

// FuzzParseArgs: no input panics, and every accepted input yields a
// complete remote and mountpoint.
func FuzzParseArgs(f *testing.F) {
	for _, seed := range []string{"h: /m", "u@h:/d /m -p 22 -o ro", "[::1]:d m -oport=1", "h: /m -o ,,,", "-o a=b,c h: m"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		o, err := parseArgs(strings.Fields(line))
		if err != nil {
			return
		}
		if o.Host == "" || o.Mountpoint == "" || o.Timeout <= 0 {
			t.Fatalf("accepted %q as %+v", line, o)
		}
	})
}

func TestSshfsOnlyOptionsGetANoticeOrARefusalWithAReason(t *testing.T) {
	o, err := parseArgs([]string{"h:", "/m", "-o", "sshfs_sync,workaround=rename,big_writes,x-systemd.automount,nofail"})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Notices) != 3 {
		t.Fatalf("notices %q", o.Notices)
	}
	for _, n := range o.Notices {
		if strings.Contains(n, "\n") || !strings.Contains(n, "option ") {
			t.Errorf("notice %q", n)
		}
	}
	_, err = parseArgs([]string{"h:", "/m", "-o", "allow_root"})
	if err == nil || !strings.Contains(err.Error(), "allow_root") || !strings.Contains(err.Error(), "allow_other") {
		t.Fatalf("allow_root: %v", err)
	}
}

func TestSSHKeywordsAndDashFArePassedOn(t *testing.T) {
	o, err := parseArgs([]string{"myhost:", "/m", "-F", "cfg", "-o", "ProxyJump=gw,HostKeyAlias=files,StrictHostKeyChecking=accept-new,CertificateFile=~/c"})
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(o.SSHConfigFile) || o.SSH["proxyjump"][0] != "gw" || o.SSH["hostkeyalias"][0] != "files" ||
		o.SSH["stricthostkeychecking"][0] != "accept-new" || o.SSH["certificatefile"][0] != "~/c" {
		t.Fatalf("%+v", o)
	}
	if _, ok := o.SSH["user"]; ok {
		t.Error("no user@ given, yet User is set: ssh_config could not supply it")
	}
}

func TestMountinfoFindsWhatIsMountedAtADirectory(t *testing.T) {
	info := `22 1 0:21 / /proc rw,nosuid - proc proc rw
91 22 0:50 / /mnt/with\040space rw,nosuid,nodev - fuse.sftpmount root@h:/srv rw,user_id=0
`
	if got := findMount(strings.NewReader(info), "/mnt/with space"); got != "root@h:/srv (fuse.sftpmount)" {
		t.Errorf("got %q", got)
	}
	if got := findMount(strings.NewReader(info), "/mnt"); got != "" {
		t.Errorf("/mnt is not a mount point, got %q", got)
	}
}

func TestHelpGivesEachOptionOneLine(t *testing.T) {
	for _, line := range strings.Split(helpText, "\n") {
		if len(line) > 100 {
			t.Errorf("line longer than 100 characters: %q", line)
		}
		// An option line starts with its flag; a continuation would not.
		if strings.HasPrefix(line, "    ") && !strings.HasPrefix(strings.TrimSpace(line), "-") {
			t.Errorf("option described over more than one line: %q", line)
		}
	}
	for _, opt := range []string{"IdentityFile", "StrictHostKeyChecking", "ProxyJump", "password_stdin", "reconnect", "cache_timeout", "idmap", "allow_other", "nonempty"} {
		if !strings.Contains(helpText, opt) {
			t.Errorf("--help does not mention %s", opt)
		}
	}
}

func TestVersionComesFromTheBuildInfo(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.1"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"},
		{Key: "vcs.time", Value: "2026-12-01T21:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	got := describeBuild("", info)
	want := "v0.3.1 (revision 0123456789ab, with uncommitted changes, committed 2026-12-01T21:00:00Z, go1.26.8)"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := describeBuild("v9", &debug.BuildInfo{GoVersion: "go1.26.8"}); got != "v9 (go1.26.8)" {
		t.Errorf("with -X main.version: %q", got)
	}
}

func TestCompressionIsNoticedAndSftpServerIsKept(t *testing.T) {
	o, err := parseArgs([]string{"h:", "/mnt/x", "-C", "-o", "sftp_server=sudo -n /usr/lib/openssh/sftp-server"})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Notices) != 1 || !strings.Contains(o.Notices[0], "compression") {
		t.Errorf("-C: notices %q, want one about compression", o.Notices)
	}
	if o.SFTPServer != "sudo -n /usr/lib/openssh/sftp-server" {
		t.Errorf("sftp_server kept as %q", o.SFTPServer)
	}
	if _, err := parseArgs([]string{"h:", "/mnt/x", "-o", "sftp_server"}); err == nil {
		t.Error("sftp_server without a command was accepted")
	}
}

func TestAnEscapedCommaStaysInsideAnOptionsValue(t *testing.T) {
	got := splitOptions(`ProxyCommand=ncat --proxy-type socks5\,http %h %p,ro,a\\b`)
	want := []string{"ProxyCommand=ncat --proxy-type socks5,http %h %p", "ro", `a\b`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// sshfs's cache options, applied in order as sshfs applies them, and the
// kernel's as libfuse takes them; what the node tree and the kernel get.
func TestCacheOptionsHaveSshfsMeaning(t *testing.T) {
	parse := func(opts string) cacheOptions {
		t.Helper()
		o, err := parseArgs([]string{"h:", "/m", "-o", opts})
		if err != nil {
			t.Fatalf("%s: %v", opts, err)
		}
		if len(o.Notices) != 0 {
			t.Fatalf("%s: notices %q", opts, o.Notices)
		}
		return o.Cache
	}
	def := defaultCacheOptions().fsCaches()
	if def.Attr != 20*time.Second || def.Dir != 20*time.Second || def.Link != 20*time.Second ||
		def.KernelEntry != 20*time.Second || def.KernelAttr != 20*time.Second || def.Negative != time.Second {
		t.Errorf("defaults: %+v", def)
	}
	c := parse("dcache_timeout=5,dcache_stat_timeout=1")
	if c.Stat != time.Second || c.Dir != 5*time.Second || c.Link != 5*time.Second {
		t.Errorf("dcache_timeout then dcache_stat_timeout: %+v", c)
	}
	if c := parse("dcache_stat_timeout=1,dcache_timeout=5"); c.Stat != 5*time.Second {
		t.Errorf("a later dcache_timeout wins: %+v", c)
	}
	if c := parse("cache_dir_timeout=3,cache_link_timeout=4"); c.Dir != 3*time.Second || c.Link != 4*time.Second || c.Stat != 20*time.Second {
		t.Errorf("cache_* spellings: %+v", c)
	}
	fc := parse("dcache_timeout=1").fsCaches()
	if fc.Attr != time.Second || fc.KernelEntry != time.Second || fc.Negative != time.Second {
		t.Errorf("dcache_timeout=1: %+v", fc)
	}
	fc = parse("dir_cache=no,entry_timeout=0,attr_timeout=0").fsCaches()
	if fc.Attr != 0 || fc.Dir != 0 || fc.Link != 0 || fc.KernelEntry != 0 || fc.KernelAttr != 0 || fc.Negative != 0 {
		t.Errorf("dir_cache=no with zero kernel timeouts: %+v", fc)
	}
	fc = parse("dir_cache=no").fsCaches()
	if fc.Attr != 0 || fc.KernelEntry != time.Second || fc.KernelAttr != time.Second || fc.Negative != 0 {
		t.Errorf("dir_cache=no leaves libfuse's kernel timeouts: %+v", fc)
	}
	fc = parse("negative_timeout=0.25,attr_timeout=2.5").fsCaches()
	if fc.Negative != 250*time.Millisecond || fc.KernelAttr != 2500*time.Millisecond || fc.KernelEntry != 20*time.Second {
		t.Errorf("fractional kernel timeouts: %+v", fc)
	}
	c = parse("dcache_max_size=50,dcache_clean_interval=7,dcache_min_clean_interval=2,kernel_cache,direct_io,max_read=65536,max_write=131072")
	if c.Limits.MaxEntries != 50 || c.Limits.CleanInterval != 7*time.Second || c.Limits.MinCleanInterval != 2*time.Second ||
		!c.KernelCache || !c.DirectIO || c.MaxRead != 65536 || c.MaxWrite != 131072 {
		t.Errorf("limits and kernel options: %+v", c)
	}
	if c := parse("kernel_cache,auto_cache"); c.KernelCache {
		t.Errorf("auto_cache after kernel_cache: %+v", c)
	}
	for _, bad := range []string{"dcache_timeout=soon", "dcache_timeout=-1", "entry_timeout=x", "negative_timeout=-0.5",
		"dir_cache=maybe", "dcache_max_size=0", "max_write=2097152", "max_read=12", "kernel_cache=yes", "direct_io=1"} {
		if _, err := parseArgs([]string{"h:", "/m", "-o", bad}); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: accepted (%v)", bad, err)
		}
	}
}

// A host that starts with '-' or holds characters no host name or address
// has is refused as sshfs and ssh refuse it, before anything is looked up,
// also after "--".
func TestAnInvalidHostnameIsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"--", "-oProxyCommand=touch /tmp/pwned:/path", "/mnt"},
		{"--", "-x:", "/mnt"},
		{"host;reboot:/d", "/mnt"},
		{"a b:/d", "/mnt"},
		{"user@$(id):/d", "/mnt"},
		{"h`x`:", "/mnt"},
		{"h\tx:", "/mnt"},
	} {
		_, err := parseArgs(args)
		if err == nil || !strings.HasPrefix(err.Error(), "invalid hostname") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line starting \"invalid hostname\"", args, err)
		}
	}
	for _, ok := range []string{"example.org:", "my_alias:/d", "[fe80::1%eth0]:/d", "10.0.0.1:", "bastion-1.corp:"} {
		if _, err := parseArgs([]string{ok, "/mnt"}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// uidfile= and gidfile= as sshfs reads them: "local-name:remote-id" lines;
// a bad line is one line naming the file and line; idmap=file without
// either, or the files without idmap=file, are refused.
func TestIdmapFileReadsItsFilesAndRefusesBadOnes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("uids", "# local:remote\nroot:1003\n\n")
	o, err := parseArgs([]string{"h:", "/m", "-o", "idmap=file,uidfile=" + good + ",nomap=error"})
	if err != nil {
		t.Fatal(err)
	}
	var owner sftpfs.Owner
	if err := o.idMaps(&owner); err != nil {
		t.Fatal(err)
	}
	if owner.UIDs == nil || owner.UIDs.ToLocal[1003] != 0 || owner.UIDs.ToRemote[0] != 1003 || owner.GIDs != nil || !owner.NoMapError {
		t.Fatalf("maps: %+v", owner)
	}
	for text, want := range map[string]string{
		"root\n":                   ":1: want user-name:remote-id",
		"root:x\n":                 ":1: remote id",
		"no-such-user-here:5\n":    ":1: no local user",
		"root:1\nroot:2\nbad\n":    ":3: want",
		"root:99999999999999999\n": ":1: remote id",
	} {
		o, err := parseArgs([]string{"h:", "/m", "-o", "idmap=file,uidfile=" + write("bad", text)})
		if err != nil {
			t.Fatal(err)
		}
		err = o.idMaps(&sftpfs.Owner{})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "bad") {
			t.Errorf("%q: %v, want one line with %q", text, err, want)
		}
	}
	for _, opts := range []string{"idmap=file", "uidfile=" + good, "idmap=user,gidfile=" + good, "nomap=error", "nomap=sometimes", "idmap=both"} {
		if _, err := parseArgs([]string{"h:", "/m", "-o", opts}); err == nil {
			t.Errorf("%s: accepted", opts)
		}
	}
}

// The table of sshfs options in docs/options.md is what the parser does:
// each option in a row is accepted without a notice ("same"), with one
// notice ("notice") or refused ("refused"), and every option sshfs 3.7's
// man page lists has a row.
func TestTheSshfsOptionTableInTheDocsIsWhatTheParserDoes(t *testing.T) {
	doc, err := os.ReadFile("../../docs/options.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "\n## Options written for the C sshfs\n")
	if start < 0 {
		t.Fatal("no sshfs table in docs/options.md")
	}
	text = text[start+1:]
	if end := strings.Index(text, "\n## "); end >= 0 {
		text = text[:end]
	}
	idFile := filepath.Join(t.TempDir(), "ids")
	if err := os.WriteFile(idFile, []byte("root:1\n"), 0644); err != nil {
		t.Fatal(err)
	}
	fill := strings.NewReplacer("PORT", "2222", "=N", "=5", "=T", "=0.5", "FILE", idFile, "=CMD", "=/bin/true",
		"=LIST", "=aes128-ctr", "=HOST", "=bastion", "=BYTES", "=65536")
	backticked := regexp.MustCompile("`([^`]+)`")
	documented := map[string]bool{}
	rows := 0
	for _, line := range strings.Split(text, "\n") {
		cols := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| `") || len(cols) != 3 {
			continue
		}
		rows++
		here := strings.TrimSuffix(cols[2], " |")
		var class string
		for _, c := range []string{"same", "notice", "refused"} {
			if strings.HasPrefix(here, c) {
				class = c
			}
		}
		if class == "" {
			t.Errorf("row %q: the last column must start with same, notice or refused", cols[0])
			continue
		}
		for _, m := range backticked.FindAllStringSubmatch(cols[0], -1) {
			opt := m[1]
			if strings.Contains(opt, "ProxyCommand=...") { // the hostname row, tested below
				continue
			}
			var args []string
			if rest, ok := strings.CutPrefix(opt, "-o "); ok {
				args = []string{"-o", fill.Replace(rest)}
				for _, o := range strings.Split(rest, ",") {
					name, _, _ := strings.Cut(o, "=")
					documented[name] = true
					documented[o] = true
				}
			} else {
				args = strings.Fields(fill.Replace(opt))
				documented[strings.Fields(opt)[0]] = true
			}
			remote := "h:"
			if opt == "-o slave" || opt == "-o passive" {
				remote = ":" // SFTP on stdin: no host
			}
			o, err := parseArgs(append([]string{remote, "/m"}, args...))
			switch {
			case class == "refused" && err == nil:
				t.Errorf("%s: accepted, docs/options.md says refused", opt)
			case class != "refused" && err != nil:
				t.Errorf("%s: %v, docs/options.md says %s", opt, err, class)
			case class == "same" && len(o.Notices) != 0:
				t.Errorf("%s: notices %q, docs/options.md says same", opt, o.Notices)
			case class == "notice" && len(o.Notices) != 1:
				t.Errorf("%s: notices %q, docs/options.md says one", opt, o.Notices)
			}
		}
	}
	if rows < 15 {
		t.Fatalf("only %d rows found in docs/options.md's sshfs table", rows)
	}
	// sshfs 3.7's man page (sshfs.rst), every option, and the FUSE
	// ones of point 1 of the drop-in issue.
	for _, opt := range []string{"-h", "-V", "-d", "-p", "-f", "-s", "-C", "-F", "-1", "reconnect", "delay_connect",
		"sshfs_sync", "no_readahead", "sync_readdir", "workaround", "idmap=none", "idmap=user", "idmap=file", "uidfile", "gidfile",
		"nomap=ignore", "nomap=error", "ssh_command", "ssh_protocol", "sftp_server", "directport", "slave", "disable_hardlink",
		"transform_symlinks", "follow_symlinks", "no_check_root", "password_stdin", "dir_cache", "dcache_max_size",
		"dcache_timeout", "dcache_stat_timeout", "dcache_link_timeout", "dcache_dir_timeout", "dcache_clean_interval",
		"dcache_min_clean_interval", "max_conns", "passive", "contain_symlinks", "no_contain_symlinks",
		"entry_timeout", "attr_timeout", "negative_timeout", "kernel_cache", "auto_cache", "direct_io", "max_read", "max_write"} {
		if opt == "-h" || opt == "-V" {
			continue // help and version: tested on their own
		}
		if !documented[opt] {
			t.Errorf("sshfs's %s has no row in docs/options.md's table", opt)
		}
	}
	// The hostname row.
	if _, err := parseArgs([]string{"--", "-oProxyCommand=x:/d", "/m"}); err == nil || !strings.HasPrefix(err.Error(), "invalid hostname") {
		t.Errorf("a host starting with '-': %v", err)
	}
}

func TestWritebackOptionsParseAndBadOnesAreRefused(t *testing.T) {
	o, err := parseArgs([]string{"h:", "/m", "-o", "writeback,writeback_dir=/j,writeback_limit=512M,writeback_delay=0"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.Writeback || o.WritebackDir != "/j" || o.WritebackLimit != 512<<20 || o.WritebackDelay != 0 {
		t.Errorf("parsed %v %q %d %v", o.Writeback, o.WritebackDir, o.WritebackLimit, o.WritebackDelay)
	}
	if d := defaultOptions(); d.Writeback || d.WritebackLimit != 1<<30 || d.WritebackDelay != 2*time.Second {
		t.Errorf("defaults: %v %d %v", d.Writeback, d.WritebackLimit, d.WritebackDelay)
	}
	for _, bad := range []string{"writeback=yes", "writeback_limit=lots", "writeback_limit=0", "writeback_delay=-1", "writeback_dir="} {
		if _, err := parseArgs([]string{"h:", "/m", "-o", bad}); err == nil || !strings.Contains(err.Error(), strings.SplitN(bad, "=", 2)[0]) {
			t.Errorf("-o %s: %v, want an error naming the option", bad, err)
		}
	}
}

// A user name ssh would refuse is a usage error, before anything is
// looked up: %r would put it into a ProxyCommand.
func TestAnInvalidUserNameIsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"x$(touch /tmp/p)@host:/d", "/mnt"},
		{"--", "-oops@host:/d", "/mnt"},
		{"a;b@host:", "/mnt"},
		{"host:", "/mnt", "-o", "User=x`id`"},
		{"host:", "/mnt", "-o", "User=a\x1bb"},
	} {
		_, err := parseArgs(args)
		if err == nil || !strings.Contains(err.Error(), "user name") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: %v, want one line about the user name", args, err)
		}
	}
	for _, ok := range []string{"alice@host:", "DOMAIN\\bob@host:", "a.b-c@host:"} {
		if _, err := parseArgs([]string{ok, "/mnt"}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// The one line the user sees shows an option's control characters as
// text: an escape sequence in a value given with -o never reaches the
// terminal, nor a newline a second line.
func TestTheOneLineShowsControlCharactersAsText(t *testing.T) {
	_, err := parseArgs([]string{"h:", "/m", "-o", "umask=\x1b]0;owned\x07\nsftpmount: fake"})
	if err == nil {
		t.Fatal("a bad umask was taken")
	}
	line := oneLine(err.Error())
	for _, r := range line {
		if r < 0x20 || r == 0x7f {
			t.Fatalf("a control character %q reaches the terminal: %q", r, line)
		}
	}
	if !strings.Contains(line, `\033]0;owned\007\012sftpmount: fake`) {
		t.Errorf("the value is not shown as text: %q", line)
	}
	if got := oneLine("naïve path/ü ok"); got != "naïve path/ü ok" {
		t.Errorf("printable text changed: %q", got)
	}
}

// max_conns given with a stream option is noticed in one line, not
// accepted in silence: the stream carries one session.
func TestMaxConnsOverAStreamIsNoticed(t *testing.T) {
	for _, opts := range []string{"ssh_command=ssh,max_conns=4", "directport=2222,max_conns=2"} {
		o, err := parseArgs([]string{"h:", "/m", "-o", opts})
		if err != nil {
			t.Fatalf("%s: %v", opts, err)
		}
		if len(o.Notices) != 1 || !strings.Contains(o.Notices[0], "max_conns") || !strings.Contains(o.Notices[0], "no effect") {
			t.Errorf("%s: notices %q, want one about max_conns", opts, o.Notices)
		}
	}
	for _, opts := range []string{"ssh_command=ssh", "max_conns=4", "ssh_command=ssh,max_conns=1"} {
		o, err := parseArgs([]string{"h:", "/m", "-o", opts})
		if err != nil || len(o.Notices) != 0 {
			t.Errorf("%s: %v, notices %q, want none", opts, err, o.Notices)
		}
	}
}
