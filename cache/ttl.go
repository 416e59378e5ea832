// Package cache keeps what sftpmount already learned from the server, so
// that a kernel request can be answered without a round trip. It knows
// nothing of FUSE or SSH: keys are slash-separated paths relative to the
// mount's root ("" is the root), values are whatever the caller stores.
package cache

import (
	"strings"
	"sync"
	"time"
)

// DefaultMaxEntries bounds a Map's memory on huge trees.
const DefaultMaxEntries = 100_000

// Map is a path-keyed cache whose entries expire after a fixed time. A zero
// or negative timeout makes a Map that stores nothing.
type Map[V any] struct {
	ttl        time.Duration
	maxEntries int
	now        func() time.Time // replaced in tests

	mu      sync.Mutex // guards entries
	entries map[string]entry[V]
}

type entry[V any] struct {
	value   V
	expires time.Time
}

// New returns a Map whose entries live for ttl.
func New[V any](ttl time.Duration) *Map[V] {
	return &Map[V]{ttl: ttl, maxEntries: DefaultMaxEntries, now: time.Now, entries: map[string]entry[V]{}}
}

// Get returns the value stored for key if it has not expired.
func (m *Map[V]) Get(key string) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok {
		var zero V
		return zero, false
	}
	if !m.now().Before(e.expires) {
		delete(m.entries, key)
		var zero V
		return zero, false
	}
	return e.value, true
}

// Put stores value for key, replacing what was there.
func (m *Map[V]) Put(key string, value V) {
	if m.ttl <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if len(m.entries) >= m.maxEntries {
		m.evictLocked(now)
	}
	m.entries[key] = entry[V]{value: value, expires: now.Add(m.ttl)}
}

// evictLocked drops expired entries, and everything if that was not enough:
// a cold cache costs round trips, an unbounded one costs the machine.
func (m *Map[V]) evictLocked(now time.Time) {
	for k, e := range m.entries {
		if !now.Before(e.expires) {
			delete(m.entries, k)
		}
	}
	if len(m.entries) >= m.maxEntries {
		clear(m.entries)
	}
}

// Delete forgets key.
func (m *Map[V]) Delete(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
}

// DeleteTree forgets key and every path below it, for a directory that was
// renamed or removed.
func (m *Map[V]) DeleteTree(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
	if key == "" {
		clear(m.entries)
		return
	}
	prefix := key + "/"
	for k := range m.entries {
		if strings.HasPrefix(k, prefix) {
			delete(m.entries, k)
		}
	}
}

// Len is the number of entries held, expired or not.
func (m *Map[V]) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
