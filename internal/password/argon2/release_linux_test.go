package argon2

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// residentBytes is the process's resident set, from /proc/self/statm.
func residentBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// TestMemoryRelease: a released Memory leaves the resident set, holds nothing of the last
// computation, keeps its size, and computes right again in the same blocks.
func TestMemoryRelease(t *testing.T) {
	const kib = 16 << 10
	var m Memory
	pw, salt := []byte("Saryarka-Kokpar-Zhel-39!"), []byte("0123456789abcdef")
	want := xargon2.IDKey(pw, salt, 1, kib, 1, 32)
	if got := m.IDKey(pw, salt, 1, kib, 1, 32); !bytes.Equal(got, want) {
		t.Fatalf("IDKey: %x, want %x", got, want)
	}
	first := &m.blocks[0]
	before := residentBytes(t)
	m.Release()
	after := residentBytes(t)
	if drop := before - after; drop < 12<<20 {
		t.Errorf("resident set %d → %d bytes after releasing 16 MiB: dropped %d, want at least 12 MiB", before, after, drop)
	}
	for i := range m.blocks {
		if m.blocks[i] != (block{}) {
			t.Fatalf("block %d holds %x… after Release, want zeros", i, m.blocks[i][:2])
		}
	}
	if m.Size() != kib || &m.blocks[0] != first {
		t.Errorf("after Release: %d KiB, same blocks %v; want %d KiB, the same blocks", m.Size(), &m.blocks[0] == first, kib)
	}
	if got := m.IDKey(pw, salt, 1, kib, 1, 32); !bytes.Equal(got, want) {
		t.Errorf("IDKey after Release: %x, want %x", got, want)
	}
}
