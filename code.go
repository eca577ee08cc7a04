package kilt

import (
	"crypto/hmac"
	"time"
)

// OneTimeCode is the state of a code that may be entered a bounded number of times: a
// registration code or a recovery code. Both are checked by CheckCode, the one routine that
// raises the attempt counter, compares and consumes.
type OneTimeCode struct {
	MAC       []byte // nil: no live code (a wrong answer to anything entered)
	Attempts  int
	ExpiresAt time.Time
}

// CodeResult is what CheckCode decided.
type CodeResult int

const (
	CodeMatched CodeResult = iota // correct: the code is consumed
	CodeWrong                     // wrong: counted (the last allowed wrong entry kills the code)
	CodeSpent                     // no attempt left: nothing counted
	CodeExpired                   // the lifetime is over: nothing counted
)

// CheckCode checks mac (the MAC of what was entered) against c and updates c, which the
// caller stores in the same transaction that read it. The attempt is counted before the
// comparison, so parallel guesses are all counted; the comparison takes constant time; a
// match consumes the code (MAC nil), and so does the max-th wrong entry.
func CheckCode(c *OneTimeCode, mac []byte, max int, now time.Time) CodeResult {
	if c.Attempts >= max {
		return CodeSpent
	}
	if !now.Before(c.ExpiresAt) {
		return CodeExpired
	}
	c.Attempts++
	if c.MAC != nil && hmac.Equal(c.MAC, mac) {
		c.MAC = nil
		return CodeMatched
	}
	if c.Attempts >= max {
		c.MAC = nil
	}
	return CodeWrong
}
