package cache

import (
	"strings"
	"sync"
	"time"
)

// DefaultMaxEntries bounds a Map's memory on huge trees: some 40 MiB of
// attributes. A listing of a directory larger than the bound would
// otherwise be cleared while `ls -l` still stats its names, each then a
// round trip of its own.
const DefaultMaxEntries = 250_000

// Limits bound a Map, as sshfs's dcache_max_size, dcache_clean_interval
// and dcache_min_clean_interval do its cache. Zero fields take the
// defaults.
type Limits struct {
	// MaxEntries: past it, expired entries are dropped (no more often
	// than MinCleanInterval), and when that is not enough, all are.
	MaxEntries int
	// CleanInterval: expired entries are dropped at least this often
	// (on the next store), so memory does not hold what cannot be used.
	CleanInterval time.Duration
	// MinCleanInterval spaces the drops that MaxEntries triggers.
	MinCleanInterval time.Duration
}

// DefaultLimits are sshfs's intervals and our (larger) size.
var DefaultLimits = Limits{MaxEntries: DefaultMaxEntries, CleanInterval: time.Minute, MinCleanInterval: 5 * time.Second}

func (l Limits) orDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultLimits.MaxEntries
	}
	if l.CleanInterval <= 0 {
		l.CleanInterval = DefaultLimits.CleanInterval
	}
	if l.MinCleanInterval <= 0 {
		l.MinCleanInterval = DefaultLimits.MinCleanInterval
	}
	return l
}

// Map is a path-keyed cache whose entries expire after a fixed time. A zero
// or negative timeout makes a Map that stores nothing.
type Map[V any] struct {
	ttl    time.Duration
	limits Limits
	now    func() time.Time // replaced in tests
	base   time.Time        // what expiry times count from

	// vouch, when set, keeps an expired entry: it reports whether what
	// was stored for key at stored is known to hold still (the server's
	// change feed watched its directory since before, and has told no
	// change since). It is called with the Map locked: it must not call
	// the Map. Guarded by mu.
	vouch func(key string, v V, stored time.Time) bool

	mu      sync.Mutex // guards entries, below and cleaned
	entries map[string]entry[V]
	below   map[string]int // entries below each path, for DeleteTree: rm -r of a big tree would scan every entry per name
	cleaned time.Time      // when expired entries were last dropped
}

// entry's expiry is a count of nanoseconds from the Map's base, not a
// time.Time: 8 bytes and no pointer in each of up to MaxEntries entries.
type entry[V any] struct {
	value   V
	expires time.Duration
}

// New returns a Map whose entries live for ttl, with DefaultLimits.
func New[V any](ttl time.Duration) *Map[V] { return NewLimited[V](ttl, DefaultLimits) }

// NewLimited returns a Map whose entries live for ttl, bounded by l.
func NewLimited[V any](ttl time.Duration, l Limits) *Map[V] {
	now := time.Now()
	return &Map[V]{ttl: ttl, limits: l.orDefaults(), now: time.Now, base: now, entries: map[string]entry[V]{}, below: map[string]int{}, cleaned: now}
}

// Vouch sets what keeps an entry past its timeout (see Map.vouch); nil
// lets every entry expire. It may be set at any time.
func (m *Map[V]) Vouch(fn func(key string, stored time.Time) bool) {
	if fn == nil {
		m.VouchValue(nil)
		return
	}
	m.VouchValue(func(key string, _ V, stored time.Time) bool { return fn(key, stored) })
}

// VouchValue is Vouch for a rule that looks at the value held too. It
// may be set while the Map is in use (a mount's feed starts once it
// serves).
func (m *Map[V]) VouchValue(fn func(key string, v V, stored time.Time) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.vouch = fn
}

// vouchedLocked reports whether e, expired, is kept all the same.
func (m *Map[V]) vouchedLocked(key string, e entry[V]) bool {
	return m.vouch != nil && m.vouch(key, e.value, m.base.Add(e.expires-m.ttl))
}

// Stored reports when key's entry was stored, if it is held and alive
// (or vouched for).
func (m *Map[V]) Stored(key string) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || (m.since() >= e.expires && !m.vouchedLocked(key, e)) {
		return time.Time{}, false
	}
	return m.base.Add(e.expires - m.ttl), true
}

// since is how long after base it is now.
func (m *Map[V]) since() time.Duration { return m.now().Sub(m.base) }

// Get returns the value stored for key if it has not expired.
func (m *Map[V]) Get(key string) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok {
		var zero V
		return zero, false
	}
	if m.since() >= e.expires && !m.vouchedLocked(key, e) {
		m.removeLocked(key)
		var zero V
		return zero, false
	}
	return e.value, true
}

// Left reports how long key's entry has left to live, if it is held; an
// entry vouched for has its whole timeout left.
func (m *Map[V]) Left(key string) (time.Duration, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok {
		return 0, false
	}
	if m.vouchedLocked(key, e) {
		return m.ttl, true // vouched for: as good as new
	}
	return max(0, e.expires-m.since()), true
}

// Put stores value for key, replacing what was there.
func (m *Map[V]) Put(key string, value V) {
	if m.ttl <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.cleanLocked(now)
	if _, held := m.entries[key]; !held {
		m.countLocked(key, 1)
	}
	m.entries[key] = entry[V]{value: value, expires: now.Sub(m.base) + m.ttl}
}

// countLocked moves the count of entries below each of key's ancestors
// ("" included) by delta.
func (m *Map[V]) countLocked(key string, delta int) {
	if key == "" {
		return
	}
	for dir := key; ; {
		i := strings.LastIndexByte(dir, '/')
		if i < 0 {
			dir = ""
		} else {
			dir = dir[:i]
		}
		if n := m.below[dir] + delta; n > 0 {
			m.below[dir] = n
		} else {
			delete(m.below, dir)
		}
		if dir == "" {
			return
		}
	}
}

// removeLocked forgets key, which may not be held.
func (m *Map[V]) removeLocked(key string) {
	if _, held := m.entries[key]; held {
		delete(m.entries, key)
		m.countLocked(key, -1)
	}
}

// clearLocked forgets everything.
func (m *Map[V]) clearLocked() {
	clear(m.entries)
	clear(m.below)
}

// cleanLocked drops expired entries every CleanInterval, or sooner (but
// not sooner than MinCleanInterval) when the Map is full; and everything
// if it is full still: a cold cache costs round trips, an unbounded one
// costs the machine.
func (m *Map[V]) cleanLocked(now time.Time) {
	since := now.Sub(m.cleaned)
	full := len(m.entries) >= m.limits.MaxEntries
	if since >= m.limits.CleanInterval || (full && since >= m.limits.MinCleanInterval) {
		at := now.Sub(m.base)
		for k, e := range m.entries {
			if at >= e.expires && !m.vouchedLocked(k, e) {
				m.removeLocked(k)
			}
		}
		m.cleaned = now
	}
	if len(m.entries) >= m.limits.MaxEntries {
		m.clearLocked()
	}
}

// Delete forgets key.
func (m *Map[V]) Delete(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.removeLocked(key)
}

// DeleteTree forgets key and every path below it, for a directory that was
// renamed or removed.
func (m *Map[V]) DeleteTree(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if key == "" {
		m.clearLocked()
		return
	}
	m.removeLocked(key)
	if m.below[key] == 0 {
		return // nothing below: no scan
	}
	prefix := key + "/"
	for k := range m.entries {
		if strings.HasPrefix(k, prefix) {
			m.removeLocked(k)
		}
	}
}

// Range calls fn for each live entry until fn returns false. fn runs
// with the Map locked: it must not call the Map.
func (m *Map[V]) Range(fn func(key string, value V) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	at := m.since()
	for k, e := range m.entries {
		if (at < e.expires || m.vouchedLocked(k, e)) && !fn(k, e.value) {
			return
		}
	}
}

// Len is the number of entries held, expired or not.
func (m *Map[V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
