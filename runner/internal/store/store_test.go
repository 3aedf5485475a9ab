package store

import (
	"fmt"
	"testing"
)

// implementations runs the contract against each store kind.
func implementations(t *testing.T, partitioned bool) map[string]func() Store {
	return map[string]func() Store{
		"memory": func() Store { return NewMemory(partitioned) },
		"pebble": func() Store {
			s, err := OpenPebble(t.TempDir(), partitioned)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"cached pebble": func() Store {
			s, err := OpenPebble(t.TempDir(), partitioned)
			if err != nil {
				t.Fatal(err)
			}
			return NewCached(s, partitioned, 1000)
		},
		"cached memory, 1 key a shard": func() Store { return NewCached(NewMemory(partitioned), partitioned, 1) },
	}
}

func get(t *testing.T, s Store, p int32, key string) (string, bool) {
	t.Helper()
	var out string
	ok, err := s.Get(p, []byte(key), func(v []byte) { out = string(v) })
	if err != nil {
		t.Fatal(err)
	}
	return out, ok
}

func scan(t *testing.T, s Store, p int32) []string {
	t.Helper()
	var out []string
	if err := s.Scan(p, func(k, v []byte) error {
		out = append(out, string(k)+"="+string(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPartitionedContract(t *testing.T) {
	for name, open := range implementations(t, true) {
		t.Run(name, func(t *testing.T) {
			s := open()
			defer s.Close()
			var b Batch
			b.Set(0, []byte("b"), []byte("2"))
			b.Set(0, []byte("a"), []byte("1"))
			b.Set(1, []byte("a"), []byte("other partition"))
			b.SetCheckpoint(0, 10)
			b.SetCheckpoint(1, 3)
			if err := s.Apply(&b); err != nil {
				t.Fatal(err)
			}
			if v, ok := get(t, s, 0, "a"); !ok || v != "1" {
				t.Fatalf("get 0/a = %q %v", v, ok)
			}
			if v, ok := get(t, s, 1, "a"); !ok || v != "other partition" {
				t.Fatalf("get 1/a = %q %v", v, ok)
			}
			if _, ok := get(t, s, 2, "a"); ok {
				t.Fatal("partition 2 has no keys")
			}
			if got := fmt.Sprint(scan(t, s, 0)); got != "[a=1 b=2]" {
				t.Fatalf("scan 0 = %s", got)
			}
			if o, ok, _ := s.Checkpoint(0); !ok || o != 10 {
				t.Fatalf("checkpoint 0 = %d %v", o, ok)
			}

			b.Reset()
			b.Delete(0, []byte("a"))
			b.SetCheckpoint(0, 11)
			if err := s.Apply(&b); err != nil {
				t.Fatal(err)
			}
			if _, ok := get(t, s, 0, "a"); ok {
				t.Fatal("deleted key still there")
			}
			if o, _, _ := s.Checkpoint(0); o != 11 {
				t.Fatalf("checkpoint after delete = %d", o)
			}

			if err := s.Drop(1); err != nil {
				t.Fatal(err)
			}
			if _, ok := get(t, s, 1, "a"); ok {
				t.Fatal("dropped partition still has keys")
			}
			if _, ok, _ := s.Checkpoint(1); ok {
				t.Fatal("dropped partition still has a checkpoint")
			}
			if got := fmt.Sprint(scan(t, s, 0)); got != "[b=2]" {
				t.Fatalf("drop of 1 touched 0: %s", got)
			}
		})
	}
}

func TestGlobalContract(t *testing.T) {
	for name, open := range implementations(t, false) {
		t.Run(name, func(t *testing.T) {
			s := open()
			defer s.Close()
			var b Batch
			b.Set(3, []byte("k1"), []byte("from 3"))
			b.Set(5, []byte("k2"), []byte("from 5"))
			b.SetCheckpoint(3, 1)
			b.SetCheckpoint(5, 1)
			if err := s.Apply(&b); err != nil {
				t.Fatal(err)
			}
			// Global stores find a key whatever partition is asked.
			if v, ok := get(t, s, 0, "k2"); !ok || v != "from 5" {
				t.Fatalf("global get = %q %v", v, ok)
			}
			if got := fmt.Sprint(scan(t, s, 0)); got != "[k1=from 3 k2=from 5]" {
				t.Fatalf("scan = %s", got)
			}
			stopped := 0
			if err := s.Scan(0, func(k, v []byte) error { stopped++; return ErrStop }); err != nil || stopped != 1 {
				t.Fatalf("ErrStop: err %v after %d", err, stopped)
			}
			if err := s.Drop(0); err != nil {
				t.Fatal(err)
			}
			if len(scan(t, s, 0)) != 0 {
				t.Fatal("drop left values")
			}
			if _, ok, _ := s.Checkpoint(5); ok {
				t.Fatal("drop left checkpoints")
			}
		})
	}
}

func TestPebbleKeepsValuesAndCheckpointAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenPebble(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	for i := range 1000 {
		b.Set(int32(i%4), fmt.Appendf(nil, "key-%d", i), fmt.Appendf(nil, "%d", i))
	}
	b.SetCheckpoint(2, 250)
	if err := s.Apply(&b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenPebble(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, ok := get(t, s, 2, "key-998"); !ok || v != "998" {
		t.Fatalf("after reopen: %q %v", v, ok)
	}
	if o, ok, _ := s.Checkpoint(2); !ok || o != 250 {
		t.Fatalf("checkpoint after reopen = %d %v", o, ok)
	}
	if n := len(scan(t, s, 1)); n != 250 {
		t.Fatalf("partition 1 has %d keys, want 250", n)
	}
}

// BenchmarkGet reads 10,000 keys in turn from Pebble's memtable, directly
// and through the read cache.
func BenchmarkGet(b *testing.B) {
	for name, wrap := range map[string]func(Store) Store{
		"pebble":        func(s Store) Store { return s },
		"cached pebble": func(s Store) Store { return NewCached(s, true, 100_000) },
	} {
		b.Run(name, func(b *testing.B) {
			p, err := OpenPebble(b.TempDir(), true)
			if err != nil {
				b.Fatal(err)
			}
			s := wrap(p)
			defer s.Close()
			var batch Batch
			keys := make([][]byte, 10000)
			for i := range keys {
				keys[i] = fmt.Appendf(nil, "key-%d", i)
				batch.Set(0, keys[i], []byte("value"))
			}
			if err := s.Apply(&batch); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, err := s.Get(0, keys[i%len(keys)], func([]byte) {}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
