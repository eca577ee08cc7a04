package argon2

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// TestMemoryMatchesXCrypto computes Argon2id and Argon2i in one Memory, reused across costs
// that grow and shrink (so every computation but the first finds another's blocks), and
// checks each key against x/crypto's, which starts from zeroed memory. A first pass that
// XORed into the reused memory, as x/crypto's does into its fresh one, would fail here.
func TestMemoryMatchesXCrypto(t *testing.T) {
	var m Memory
	r := rand.New(rand.NewPCG(1, 2))
	for i, c := range []struct {
		time, memory uint32
		threads      uint8
	}{
		{1, 64, 1}, {2, 256, 1}, {3, 64, 1}, {1, 1024, 4}, {2, 100, 2}, {4, 512, 3}, {2, 1024, 1}, {1, 8, 1}, {2, 2048, 1}, {3, 37, 1},
	} {
		pw, salt := make([]byte, 1+r.IntN(40)), make([]byte, 8+r.IntN(24))
		for j := range pw {
			pw[j] = byte(r.Uint32())
		}
		for j := range salt {
			salt[j] = byte(r.Uint32())
		}
		keyLen := uint32(4 + r.IntN(60))
		t.Run(fmt.Sprintf("%d:t=%d,m=%d,p=%d", i, c.time, c.memory, c.threads), func(t *testing.T) {
			if got, want := m.IDKey(pw, salt, c.time, c.memory, c.threads, keyLen),
				xargon2.IDKey(pw, salt, c.time, c.memory, c.threads, keyLen); !bytes.Equal(got, want) {
				t.Errorf("Argon2id in a reused Memory: %x, x/crypto: %x", got, want)
			}
			if got, want := m.Key(pw, salt, c.time, c.memory, c.threads, keyLen),
				xargon2.Key(pw, salt, c.time, c.memory, c.threads, keyLen); !bytes.Equal(got, want) {
				t.Errorf("Argon2i in a reused Memory: %x, x/crypto: %x", got, want)
			}
		})
	}
	if m.Size() != 2048 {
		t.Errorf("the Memory holds %d KiB after costs up to 2048 KiB, want 2048", m.Size())
	}
}

// TestMemoryLimit: a Memory does not keep more than its limit, and computes beyond it right.
func TestMemoryLimit(t *testing.T) {
	m := Memory{Limit: 512}
	pw, salt := []byte("password"), []byte("somesaltsomesalt")
	m.IDKey(pw, salt, 1, 256, 1, 32)
	if m.Size() != 256 {
		t.Fatalf("Size %d after a 256 KiB computation, want 256", m.Size())
	}
	if got, want := m.IDKey(pw, salt, 1, 1024, 1, 32), xargon2.IDKey(pw, salt, 1, 1024, 1, 32); !bytes.Equal(got, want) {
		t.Errorf("beyond the limit: %x, want %x", got, want)
	}
	if m.Size() != 256 {
		t.Errorf("Size %d after a computation beyond the limit of 512 KiB, want the 256 it had", m.Size())
	}
}

// TestMemoryReserve: a reserved Memory holds its KiB before any computation, computes in them
// what x/crypto computes, and reserves nothing beyond its limit.
func TestMemoryReserve(t *testing.T) {
	m := Memory{Limit: 1024}
	m.Reserve(2048)
	if m.Size() != 0 {
		t.Fatalf("Size %d after reserving 2048 KiB beyond the limit of 1024, want 0", m.Size())
	}
	m.Reserve(1024)
	if m.Size() != 1024 {
		t.Fatalf("Size %d after reserving 1024 KiB, want 1024", m.Size())
	}
	pw, salt := []byte("password"), []byte("somesaltsomesalt")
	if got, want := m.IDKey(pw, salt, 2, 1024, 1, 32), xargon2.IDKey(pw, salt, 2, 1024, 1, 32); !bytes.Equal(got, want) {
		t.Errorf("in reserved memory: %x, want %x", got, want)
	}
	m.Reserve(512)
	if m.Size() != 1024 {
		t.Errorf("Size %d after reserving less than it holds, want the 1024 it had", m.Size())
	}
}

// BenchmarkIDKeyDefaultCost compares x/crypto's IDKey, which allocates its 19 MiB on every
// call, with IDKey in a reused Memory, at Kilt's default cost (m=19456 KiB, t=2, p=1), on
// GOMAXPROCS goroutines at once as the hashing pool runs them: compare ns/op (a hash per
// core), B/op and the collections (gc/op) within one run.
func BenchmarkIDKeyDefaultCost(b *testing.B) {
	pw, salt := []byte("Saryarka-Kokpar-Zhel-39!"), []byte("0123456789abcdef")
	gcs := func(b *testing.B, run func()) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		run()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.NumGC-before.NumGC)/float64(b.N), "gc/op")
	}
	b.Run("x-crypto", func(b *testing.B) {
		b.ReportAllocs()
		gcs(b, func() {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					xargon2.IDKey(pw, salt, 2, 19456, 1, 32)
				}
			})
		})
	})
	b.Run("memory", func(b *testing.B) {
		b.ReportAllocs()
		gcs(b, func() {
			b.RunParallel(func(pb *testing.PB) {
				var m Memory
				for pb.Next() {
					m.IDKey(pw, salt, 2, 19456, 1, 32)
				}
			})
		})
	})
}
