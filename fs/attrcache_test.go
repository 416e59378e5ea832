package fs

import (
	"os"
	"testing"
	"time"

	"github.com/sftpmount/sftpmount/cache"
	"github.com/sftpmount/sftpmount/remote"
)

// The attribute cache keeps attributes packed; what comes out is what
// went in, zero times and nanoseconds included.
func TestTheAttributeCacheGivesBackWhatItWasGiven(t *testing.T) {
	c := newAttrCache(time.Minute, cache.DefaultLimits)
	for i, a := range []remote.Attr{
		{},
		{Mode: os.ModeDir | os.ModeSetgid | 0755, Size: 4096, UID: 1000, GID: 1000, Atime: time.Unix(1, 0), Mtime: time.Unix(1_700_000_000, 0), Nlink: 7},
		{Mode: os.ModeSymlink | 0777, Size: 1 << 62, UID: 1<<32 - 1, GID: 1<<32 - 2, Mtime: time.Unix(4_000_000_000, 999_999_999)},
		{Mode: os.ModeSetuid | os.ModeSticky | 0o4711, Atime: time.Unix(0, 0), Mtime: time.Now()},
	} {
		c.Put("f", a)
		got, ok := c.Get("f")
		if !ok {
			t.Fatalf("%d: not kept", i)
		}
		if got.Mode != a.Mode || got.Size != a.Size || got.UID != a.UID || got.GID != a.GID || got.Nlink != a.Nlink ||
			!got.Atime.Equal(a.Atime) || !got.Mtime.Equal(a.Mtime) || got.Atime.IsZero() != a.Atime.IsZero() || got.Mtime.IsZero() != a.Mtime.IsZero() {
			t.Errorf("%d: put %+v, got %+v", i, a, got)
		}
	}
	c.Delete("f")
	if _, ok := c.Get("f"); ok {
		t.Error("kept after Delete")
	}
}
