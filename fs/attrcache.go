package fs

import (
	"math"
	"os"
	"time"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/remote"
)

// attrCache holds the attributes of every name the mount has seen within
// the attribute timeout: a million of them for a listed directory of a
// million names. Each is kept as a packedAttr, 40 bytes without pointers,
// rather than a remote.Attr (80 bytes, two of them pointers the collector
// scans): the cache of a million names takes about 100 MB instead of 190.
type attrCache struct{ m *cache.Map[packedAttr] }

type packedAttr struct {
	size         uint64
	atime, mtime int64 // Unix nanoseconds; noTime for a zero time.Time
	mode         uint32
	uid, gid     uint32
	nlink        uint32
}

// noTime stands for time.Time{}, whose Unix nanoseconds int64 cannot hold.
const noTime = math.MinInt64

func packTime(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

func unpackTime(ns int64) time.Time {
	if ns == noTime {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func pack(a remote.Attr) packedAttr {
	return packedAttr{size: a.Size, atime: packTime(a.Atime), mtime: packTime(a.Mtime), mode: uint32(a.Mode), uid: a.UID, gid: a.GID, nlink: a.Nlink}
}

func (p packedAttr) unpack() remote.Attr {
	return remote.Attr{Mode: os.FileMode(p.mode), Size: p.size, UID: p.uid, GID: p.gid, Atime: unpackTime(p.atime), Mtime: unpackTime(p.mtime), Nlink: p.nlink}
}

func newAttrCache(ttl time.Duration, l cache.Limits) attrCache {
	return attrCache{cache.NewLimited[packedAttr](ttl, l)}
}

func (c attrCache) Get(rel string) (remote.Attr, bool) {
	p, ok := c.m.Get(rel)
	if !ok {
		return remote.Attr{}, false
	}
	return p.unpack(), true
}

func (c attrCache) Put(rel string, a remote.Attr)         { c.m.Put(rel, pack(a)) }
func (c attrCache) Left(rel string) (time.Duration, bool) { return c.m.Left(rel) }
func (c attrCache) Delete(rel string)                     { c.m.Delete(rel) }
func (c attrCache) DeleteTree(rel string)                 { c.m.DeleteTree(rel) }
