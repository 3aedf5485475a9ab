package store

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
)

// racingStore applies a write in the middle of a Get, after the old value
// was read: the moment a read cache could keep a stale value.
type racingStore struct {
	Store
	during func()
}

func (r *racingStore) Get(p int32, key []byte, fn func([]byte)) (bool, error) {
	var old []byte
	ok, err := r.Store.Get(p, key, func(v []byte) { old = append([]byte(nil), v...) })
	if r.during != nil {
		during := r.during
		r.during = nil
		during()
	}
	if ok {
		fn(old)
	}
	return ok, err
}

func TestCachedNeverKeepsAValueReadBeforeAWrite(t *testing.T) {
	for _, partitioned := range []bool{true, false} {
		t.Run(fmt.Sprint("partitioned=", partitioned), func(t *testing.T) {
			racing := &racingStore{Store: NewMemory(partitioned)}
			c := NewCached(racing, partitioned, 100)
			var b Batch
			b.Set(0, []byte("k"), []byte("old"))
			if err := c.Apply(&b); err != nil {
				t.Fatal(err)
			}
			racing.during = func() {
				var w Batch
				w.Set(0, []byte("k"), []byte("new"))
				if err := c.Apply(&w); err != nil {
					t.Error(err)
				}
			}
			if v, _ := get(t, c, 0, "k"); v != "old" {
				t.Fatalf("the racing read saw %q", v)
			}
			if v, _ := get(t, c, 0, "k"); v != "new" {
				t.Fatalf("after the write the cache still answers %q", v)
			}
		})
	}
}

func TestCachedRemembersAbsentKeysUntilWritten(t *testing.T) {
	mem := NewMemory(true)
	c := NewCached(mem, true, 100)
	if _, ok := get(t, c, 0, "k"); ok {
		t.Fatal("empty store has k")
	}
	// Written behind the cache's back: the cached absence still answers,
	// which shows the absence was cached.
	var b Batch
	b.Set(0, []byte("k"), []byte("v"))
	if err := mem.Apply(&b); err != nil {
		t.Fatal(err)
	}
	if _, ok := get(t, c, 0, "k"); ok {
		t.Fatal("the absence of k was not cached")
	}
	// Through the cache the write is seen.
	if err := c.Apply(&b); err != nil {
		t.Fatal(err)
	}
	if v, ok := get(t, c, 0, "k"); !ok || v != "v" {
		t.Fatalf("get after write = %q %v", v, ok)
	}
}

// Readers of a key that a writer keeps increasing never see it go back,
// whatever the cache's size (run with -race).
func TestCachedReadersSeeWritesInOrder(t *testing.T) {
	for _, limit := range []int{1, 1000} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			c := NewCached(NewMemory(false), false, limit)
			const writes = 2000
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 1; i <= writes; i++ {
					var b Batch
					b.Set(0, []byte("counter"), []byte(strconv.Itoa(i)))
					b.Set(0, []byte(fmt.Sprint("other-", i%50)), []byte("x"))
					if err := c.Apply(&b); err != nil {
						t.Error(err)
						return
					}
				}
			}()
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					last := 0
					for last < writes {
						var n int
						if _, err := c.Get(0, []byte("counter"), func(v []byte) { n, _ = strconv.Atoi(string(v)) }); err != nil {
							t.Error(err)
							return
						}
						if n < last {
							t.Errorf("read %d after %d", n, last)
							return
						}
						last = n
						c.Get(0, []byte(fmt.Sprint("other-", n%50)), func([]byte) {})
					}
				}()
			}
			wg.Wait()
		})
	}
}
