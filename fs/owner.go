package fs

import "github.com/hanwen/go-fuse/v2/fuse"

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
}

func (o *Owner) show(a *fuse.Attr) {
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

// toRemote maps ids given to chown back to the server's.
func (o *Owner) toRemote(uid, gid uint32) (uint32, uint32) {
	if o.MapUser {
		if uid == o.LocalUID {
			uid = o.RemoteUID
		}
		if gid == o.LocalGID {
			gid = o.RemoteGID
		}
	}
	return uid, gid
}
