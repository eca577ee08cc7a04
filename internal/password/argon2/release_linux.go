package argon2

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// release hands the whole pages of b back to the system: they leave the process's resident
// set, and read as zeros when next touched. The allocation stays the Go heap's: b's blocks
// hold no pointers, and the next computation writes every block it reads.
func release(b []block) {
	if len(b) == 0 {
		return
	}
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), len(b)*int(unsafe.Sizeof(b[0])))
	page := uintptr(unix.Getpagesize())
	start := uintptr(unsafe.Pointer(&mem[0]))
	first := (start + page - 1) &^ (page - 1)
	last := (start + uintptr(len(mem))) &^ (page - 1)
	if last <= first {
		clear(b)
		return
	}
	// The bytes before the first whole page and after the last are cleared by hand.
	clear(mem[:first-start])
	clear(mem[last-start:])
	if err := unix.Madvise(mem[first-start:last-start], unix.MADV_DONTNEED); err != nil {
		clear(mem[first-start : last-start])
	}
}
