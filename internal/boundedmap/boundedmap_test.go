package boundedmap

import (
	"fmt"
	"sync"
	"testing"
)

func TestMapNeverHoldsMoreThanItsCapacity(t *testing.T) {
	m := New[string, int](3)
	for i := range 10 {
		m.Put(fmt.Sprint(i), i)
		if m.Len() > 3 {
			t.Fatalf("%d entries after %d puts", m.Len(), i+1)
		}
		if v, ok := m.Get(fmt.Sprint(i)); !ok || v != i {
			t.Fatalf("the entry just put is %v, %v", v, ok)
		}
	}
	m.Put("9", 90) // replacing keeps the others
	if v, _ := m.Get("9"); v != 90 || m.Len() != 3 {
		t.Fatalf("replaced: %v, %d entries", v, m.Len())
	}
	var none *Map[string, int]
	none.Put("x", 1)
	if _, ok := none.Get("x"); ok || none.Len() != 0 {
		t.Fatal("a nil map holds something")
	}
}

func TestMapIsSafeForConcurrentUse(t *testing.T) {
	m := New[int, int](64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				m.Put(g*1000+i, i)
				m.Get(i)
			}
		})
	}
	wg.Wait()
	if m.Len() > 64 {
		t.Fatalf("%d entries", m.Len())
	}
}
