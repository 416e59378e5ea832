package remote

import "strings"

// The change feed's command on the server: a small POSIX sh program, sent
// whole as the exec request (nothing is installed or uploaded), that runs
// inotifywait (inotify-tools) for the directories the mount asks about.
// It is one line in the end (feedCommand joins these lines with spaces,
// comments dropped), in single quotes for `sh -c`, so that whatever the
// user's login shell is, it only has to run `sh -c '...'`: the text holds
// no single quote, and every line ends where a space may join it to the
// next (`;`, `do`, `then`, `in`, `;;`, `{`).
//
// What it reads on its stdin, a line each:
//
//	s ID          the lines after it, up to an empty one, are the absolute
//	              paths of directories for a new watcher named ID
//	k PID         end the watcher whose subshell is PID (as "S" told)
//	f PID         forget PID (its watcher ended by itself: "X" told)
//	anything else is ignored (the first line is "hello": see feed.go)
//
// What it writes on its stdout: event records from inotifywait, in the
// format feedFormat (the watched directory with a slash, NUL, the name,
// NUL, the events, LF: one write(2) each, so records from several
// watchers never interleave), and lines of its own, each one write(2):
//
//	F notfound    inotifywait is not on the server's PATH; it exits
//	L N Q         the server's max_user_watches and max_queued_events
//	              (/proc/sys/fs/inotify)
//	S ID PID      watcher ID started, in the subshell PID
//	P ID PID      watcher ID's inotifywait is PID
//	X ID STATUS   watcher ID's inotifywait ended by itself
//
// and inotifywait's own stderr, unchanged ("Setting up watches.",
// "Watches established.", "Couldn't watch DIR: ERROR"): the mount starts
// one watcher at a time and waits for its "Watches established." before
// it tells anyone the directories are watched.
//
// It ends, and ends every inotifywait it started (and waits for them),
// when its stdin ends (the mount closed the channel, or sshd closed the
// pipes of a connection that died) or at HUP, TERM, INT or PIPE: no
// watcher outlives the mount on the server.
const feedScript = `
# No inotifywait: say so and end (the mount reports it and does not ask again).
command -v inotifywait >/dev/null 2>&1 || { echo "F notfound"; exit 0; } ;
# The per-user limit of inotify watches (the mount's own bound), and the events an inotify queue holds.
echo "L $(cat /proc/sys/fs/inotify/max_user_watches 2>/dev/null) $(cat /proc/sys/fs/inotify/max_queued_events 2>/dev/null)" ;
# kids: the subshells running a watcher each.
kids= ;
# bye: end every watcher, wait for them (each waits for its inotifywait), exit.
bye() { trap "" HUP TERM INT PIPE ; for k in $kids ; do kill $k 2>/dev/null ; done ; wait ; exit 0 ; } ;
trap bye HUP TERM INT PIPE ;
# wstop: a watcher told to end ends its inotifywait (t notes it, should p not be set yet).
wstop() { t=1 ; [ -z "$p" ] || kill $p 2>/dev/null ; } ;
# w ID LIST: one watcher, in a subshell of its own: inotifywait over the directories
# in LIST (one a line, given on its stdin by a pipe: no file is written on the server),
# its stderr with the events; it says its pid, waits for it, and says how it ended
# unless it was told to end.
w() {
  t= ; p= ; trap wstop HUP TERM INT PIPE ;
  printf "%s\n" "$2" | inotifywait -m -e create -e delete -e moved_from -e moved_to -e modify -e close_write -e attrib -e delete_self -e move_self -e unmount --format "%w%0%f%0%e%n" --no-newline --fromfile - 2>&1 & p=$! ;
  [ -z "$t" ] || kill $p 2>/dev/null ;
  echo "P $1 $p" ;
  wait $p ; s=$? ;
  if [ -n "$t" ] ; then wait $p ; exit 0 ; fi ;
  echo "X $1 $s" ;
} ;
# The requests, a line each, until stdin ends.
while IFS= read -r c ; do
  case $c in
  # s ID: the directories up to an empty line, kept in memory, then a watcher starts on them.
  "s "*) id=${c#s } ; l=$(while IFS= read -r d && [ -n "$d" ] ; do printf "%s\n" "$d" ; done) ;
    w "$id" "$l" & kids="$kids $!" ; echo "S $id $!" ;;
  # k PID: end one of ours (never any other pid).
  "k "*) x=${c#k } ; n= ; for k in $kids ; do if [ "$k" = "$x" ] ; then kill $k 2>/dev/null ; else n="$n $k" ; fi ; done ; kids=$n ;;
  # f PID: forget one of ours that ended by itself.
  "f "*) x=${c#f } ; n= ; for k in $kids ; do [ "$k" = "$x" ] || n="$n $k" ; done ; kids=$n ;;
  esac ;
done ;
bye
`

// feedFormat is inotifywait's --format above: directory, NUL, name, NUL,
// events, LF.
const feedFormat = "%w%0%f%0%e%n"

// feedCommand is the exec request: feedScript joined into one line, for
// `/bin/sh -c`, named sftpmount-feed in ps; exec, so that the login
// shell is replaced by it and a signal to the one is a signal to the other.
var feedCommand = func() string {
	var b strings.Builder
	for _, line := range strings.Split(feedScript, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(line)
	}
	if strings.Contains(b.String(), "'") {
		panic("feedScript holds a single quote")
	}
	return "exec /bin/sh -c '" + b.String() + "' sftpmount-feed"
}()
