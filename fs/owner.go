package fs

import (
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/sftpmount/sftpmount/remote"
)

// Owner rewrites ownership and permissions as sshfs's -o uid=, gid=,
// umask= and idmap=user do. The server's own values are unchanged; only
// what the kernel is told differs (and chown's ids, mapped back).
type Owner struct {
	UID, GID *uint32 // every file shown as owned by these, when set
	Umask    uint32  // permission bits cleared from every mode shown

	// MapUser: files of the remote login user appear as the local user's,
	// and chown to the local user sets the remote user (idmap=user).
	MapUser             bool
	LocalUID, RemoteUID uint32
	LocalGID, RemoteGID uint32

	// UIDs and GIDs, when set, map ids both ways (idmap=file, with
	// uidfile= and gidfile=). An id with no mapping makes stat and chown
	// fail with EPERM when NoMapError (nomap=error, sshfs's default), or
	// is shown as it is.
	UIDs, GIDs *IDMap
	NoMapError bool
}

// IDMap maps remote ids to local ones and back.
type IDMap struct {
	ToLocal, ToRemote map[uint32]uint32
}

// NewIDMap returns an empty map.
func NewIDMap() *IDMap {
	return &IDMap{ToLocal: map[uint32]uint32{}, ToRemote: map[uint32]uint32{}}
}

// Add maps remote id to local and back.
func (m *IDMap) Add(remote, local uint32) {
	m.ToLocal[remote] = local
	m.ToRemote[local] = remote
}

// translate maps id through to; ok is false when it has no mapping.
func translate(m *IDMap, to map[uint32]uint32, id uint32) (uint32, bool) {
	if m == nil {
		return id, true
	}
	if mapped, ok := to[id]; ok {
		return mapped, true
	}
	return id, false
}

// check is EPERM when a's owner or group has no mapping and nomap=error.
func (o *Owner) check(a remote.Attr) syscall.Errno {
	if !o.NoMapError {
		return 0
	}
	_, uok := o.local(o.UIDs, a.UID)
	_, gok := o.local(o.GIDs, a.GID)
	if !uok || !gok {
		return syscall.EPERM
	}
	return 0
}

func (o *Owner) local(m *IDMap, id uint32) (uint32, bool) {
	if m == nil {
		return id, true
	}
	return translate(m, m.ToLocal, id)
}

func (o *Owner) show(a *fuse.Attr) {
	a.Uid, _ = o.local(o.UIDs, a.Uid)
	a.Gid, _ = o.local(o.GIDs, a.Gid)
	if o.MapUser {
		if a.Uid == o.RemoteUID {
			a.Uid = o.LocalUID
		}
		if a.Gid == o.RemoteGID {
			a.Gid = o.LocalGID
		}
	}
	if o.UID != nil {
		a.Uid = *o.UID
	}
	if o.GID != nil {
		a.Gid = *o.GID
	}
	a.Mode &^= o.Umask & 07777
}

// toRemote maps ids given to chown back to the server's; the ones not
// given (uok, gok false) are left. It fails with EPERM for an id that has
// no mapping under nomap=error.
func (o *Owner) toRemote(uid, gid uint32, uok, gok bool) (uint32, uint32, syscall.Errno) {
	if o.MapUser {
		if uid == o.LocalUID {
			uid = o.RemoteUID
		}
		if gid == o.LocalGID {
			gid = o.RemoteGID
		}
	}
	var ok bool
	if uok && o.UIDs != nil {
		if uid, ok = translate(o.UIDs, o.UIDs.ToRemote, uid); !ok && o.NoMapError {
			return 0, 0, syscall.EPERM
		}
	}
	if gok && o.GIDs != nil {
		if gid, ok = translate(o.GIDs, o.GIDs.ToRemote, gid); !ok && o.NoMapError {
			return 0, 0, syscall.EPERM
		}
	}
	return uid, gid, 0
}
