package kv

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// BenchmarkStore measures get and set per second on each backend:
// go test -run '^$' -bench Store -benchtime 2s ./kv
// The parallel cases run GOMAXPROCS*8 goroutines, like many VMs at once.
func BenchmarkStore(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B) Store
	}{
		{"sqlite", func(b *testing.B) Store {
			s, err := OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "kv.sqlite"))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"bolt", func(b *testing.B) Store {
			s, err := OpenBolt(filepath.Join(b.TempDir(), "kv.db"))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"redis", func(b *testing.B) Store {
			s, err := OpenRedis(context.Background(), startRedis(b))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			b.Cleanup(func() { s.Close() })
			ctx := context.Background()
			kv := s.Namespace("bench", Quota{MaxKeys: 1 << 30, MaxBytes: 1 << 40})
			const nkeys = 1000
			for i := 0; i < nkeys; i++ {
				if err := kv.Set(ctx, fmt.Sprint("key", i), "value-of-some-length-0123456789", 0); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("Get", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					if _, _, err := kv.Get(ctx, fmt.Sprint("key", i%nkeys)); err != nil {
						b.Fatal(err)
					}
				}
			})
			if ss, ok := s.(*sqlStore); ok && ss.cache != nil {
				// The read cache off: a get right after any write, anywhere.
				b.Run("GetUncached", func(b *testing.B) {
					c := ss.cache
					ss.cache = nil
					defer func() { ss.cache = c }()
					for i := 0; b.Loop(); i++ {
						if _, _, err := kv.Get(ctx, fmt.Sprint("key", i%nkeys)); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			b.Run("GetParallel", func(b *testing.B) {
				b.SetParallelism(8)
				var n atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, _, err := kv.Get(ctx, fmt.Sprint("key", n.Add(1)%nkeys)); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			b.Run("Set", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					if err := kv.Set(ctx, fmt.Sprint("key", i%nkeys), "value-of-some-length-0123456789", 0); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("SetParallel", func(b *testing.B) {
				b.SetParallelism(8)
				var n atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := kv.Set(ctx, fmt.Sprint("key", n.Add(1)%nkeys), "value-of-some-length-0123456789", 0); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			b.Run("IncrParallel", func(b *testing.B) {
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := kv.Incr(ctx, "counter", 1); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}
