package cache

import "sync"

// Budget bounds the memory that read-ahead and write-behind may hold
// across every handle of a mount, so that many transfers at once cannot
// grow the process without limit. Taking never blocks: read-ahead that
// finds the budget spent is simply not started (a read then fetches what
// it needs directly), and a write is sent unbuffered (see WriteBehind).
type Budget struct {
	mu   sync.Mutex // guards left; nothing is taken under it
	left int64
}

// NewBudget returns a budget of n bytes.
func NewBudget(n int64) *Budget { return &Budget{left: n} }

// TryTake takes n bytes if that many are left.
func (b *Budget) TryTake(n int64) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.left < n {
		return false
	}
	b.left -= n
	return true
}

// Give returns n bytes taken before.
func (b *Budget) Give(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.left += n
}

// Left is how much is left.
func (b *Budget) Left() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.left
}
