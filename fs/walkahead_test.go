package fs

import "testing"

// What was fetched ahead answers a read only where it holds every byte
// asked for, or the file's end; the rest is the file's to read.
func TestBytesFetchedAheadAnswerOnlyWhatTheyHold(t *testing.T) {
	whole := &aheadFile{data: []byte("0123456789"), whole: true}
	part := &aheadFile{data: []byte("0123456789")}
	for _, c := range []struct {
		e            *aheadFile
		off, len     int
		n            int
		eof, answers bool
	}{
		{whole, 0, 4, 4, false, true},
		{whole, 6, 4, 4, false, true},
		{whole, 6, 8, 4, true, true},
		{whole, 10, 8, 0, true, true},
		{whole, 20, 8, 0, true, true},
		{part, 0, 10, 10, false, true},
		{part, 6, 8, 4, false, false},
		{part, 10, 8, 0, false, false},
	} {
		p := make([]byte, c.len)
		n, eof, ok := c.e.read(p, int64(c.off))
		if n != c.n || eof != c.eof || ok != c.answers {
			t.Errorf("whole=%v read %d at %d: %d %v %v, want %d %v %v", c.e.whole, c.len, c.off, n, eof, ok, c.n, c.eof, c.answers)
		}
		if string(p[:n]) != string(c.e.data[min(c.off, len(c.e.data)):][:n]) {
			t.Errorf("read %d at %d gave %q", c.len, c.off, p[:n])
		}
	}
}
