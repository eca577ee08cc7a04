//go:build !linux

package argon2

// release clears b: where madvise is not used, the pages stay resident but hold nothing of
// the last computation.
func release(b []block) { clear(b) }
