package fs

import (
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/sftpmount/sftpmount/remote"
)

// idmap=file: remote ids with a line are shown as the local ones and
// chown maps back; others are shown as they are (nomap=ignore) or are
// EPERM (nomap=error), as in sshfs.
func TestIdmapFileMapsBothWaysAndNomapDecidesTheRest(t *testing.T) {
	uids, gids := NewIDMap(), NewIDMap()
	uids.Add(1003, 0) // remote 1003 is local root
	gids.Add(2000, 10)
	o := Owner{UIDs: uids, GIDs: gids}
	a := fuse.Attr{Owner: fuse.Owner{Uid: 1003, Gid: 2000}}
	o.show(&a)
	if a.Uid != 0 || a.Gid != 10 {
		t.Errorf("mapped ids shown as %d:%d, want 0:10", a.Uid, a.Gid)
	}
	a = fuse.Attr{Owner: fuse.Owner{Uid: 77, Gid: 88}}
	o.show(&a)
	if a.Uid != 77 || a.Gid != 88 || o.check(remote.Attr{UID: 77, GID: 88}) != 0 {
		t.Errorf("nomap=ignore: unmapped ids shown as %d:%d", a.Uid, a.Gid)
	}
	if uid, gid, errno := o.toRemote(0, 10, true, true); uid != 1003 || gid != 2000 || errno != 0 {
		t.Errorf("chown 0:10 sends %d:%d (%v), want 1003:2000", uid, gid, errno)
	}
	if uid, _, errno := o.toRemote(55, 0, true, false); uid != 55 || errno != 0 {
		t.Errorf("nomap=ignore: chown to an unmapped uid sends %d (%v)", uid, errno)
	}

	o.NoMapError = true
	if errno := o.check(remote.Attr{UID: 77, GID: 2000}); errno != syscall.EPERM {
		t.Errorf("nomap=error: an unmapped owner is %v, want EPERM", errno)
	}
	if errno := o.check(remote.Attr{UID: 1003, GID: 2000}); errno != 0 {
		t.Errorf("nomap=error: a mapped owner is %v", errno)
	}
	if _, _, errno := o.toRemote(55, 0, true, false); errno != syscall.EPERM {
		t.Errorf("nomap=error: chown to an unmapped uid is %v, want EPERM", errno)
	}
	if _, _, errno := o.toRemote(55, 10, false, true); errno != 0 {
		t.Errorf("nomap=error: a uid not given is not checked: %v", errno)
	}
}
