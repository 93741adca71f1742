// Package boundedmap is a map of bounded size safe for concurrent use, for the read side's
// small caches of things it re-validates on every use (decoded tables, login bindings, the heads
// of listings): when full, an arbitrary entry makes room, which is all such a cache needs.
package boundedmap

import "sync"

// Map holds at most its capacity of entries. A nil *Map holds nothing.
type Map[K comparable, V any] struct {
	mu  sync.Mutex
	m   map[K]V
	max int
}

// New returns a map of at most max entries.
func New[K comparable, V any](max int) *Map[K, V] {
	return &Map[K, V]{m: make(map[K]V, min(max, 1024)), max: max}
}

// Get returns the value stored under k.
func (b *Map[K, V]) Get(k K) (V, bool) {
	var zero V
	if b == nil {
		return zero, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[k]
	return v, ok
}

// Put stores v under k, dropping an arbitrary other entry when the map is full.
func (b *Map[K, V]) Put(k K, v V) {
	if b == nil || b.max <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.m[k]; !ok && len(b.m) >= b.max {
		for old := range b.m {
			delete(b.m, old)
			break
		}
	}
	b.m[k] = v
}

// Len is the number of entries.
func (b *Map[K, V]) Len() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}
