package password

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"kilt"
)

// HistoryEntry is one past password of an account, as kept for the "not similar to the last
// N" rule: only hashes, never the password or its skeleton in clear.
type HistoryEntry struct {
	// PasswordHash is the account's password hash as it was stored (any format Verify reads).
	PasswordHash string
	// SkeletonHash is an Argon2id PHC hash of HMAC-SHA256(pepper, Skeleton(password)), or
	// empty when the password was never seen in clear (an imported account's hash).
	SkeletonHash string
	CreatedAt    time.Time
}

// minSkeleton is the fewest letters a skeleton needs to count: below it, similarity falls
// back to plain equality, since "Ab" would make far too many passwords alike.
const minSkeleton = 4

// Skeleton returns what is left of pw after NFKC normalisation, lower-casing and dropping
// every code point that is not a letter of some script (digits, punctuation, symbols,
// spaces, combining marks): "Astana2024!" and "astana-2023" both give "astana".
//
// A skeleton is a fixed point (the skeleton of a skeleton is itself): dropping a digit can
// let Hangul jamo compose, and normalising a letter can give a non-letter (ͺ is a space and a
// combining mark in NFKC), so the steps are repeated until nothing changes. (Found by
// fuzzing; regression inputs in testdata/fuzz/FuzzSkeleton.)
func Skeleton(pw string) string {
	s := skeletonPass(pw)
	for range 3 {
		next := skeletonPass(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

// skeletonPass is one round of Skeleton. It normalises again after lower-casing: a
// lower-case letter can compose with a mark where its capital cannot (y and a ring above
// make ẙ; there is no capital Y with a ring), and the case a password was typed in must not
// change its skeleton.
func skeletonPass(s string) string {
	return lettersOnly(Normalize(strings.ToLower(Normalize(s))))
}

func lettersOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// skeletonSecret keys the skeleton with the server secret. The skeleton of a password has
// far less entropy than the password, so a dump of the history table alone must not be
// enough to test guesses against it: without the pepper the hashed value is unguessable.
func skeletonSecret(pepper []byte, skeleton string) []byte {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(skeleton))
	return m.Sum(nil)
}

func checkPepper(pepper []byte) error {
	if len(pepper) == 0 {
		return kilt.Errorf(kilt.KindInternal, kilt.CodeInternal, "password history: empty pepper")
	}
	return nil
}

// NewHistoryEntry returns the history entry of pw, whose account hash passwordHash was just
// made: PasswordHash is passwordHash itself (no second hash of the password), SkeletonHash a
// fresh hash of the keyed skeleton. The skeleton hash is made even when the skeleton is too
// short to be compared, so that an empty field never tells a reader of the database that a
// password has almost no letters. pepper must be the server secret and never empty.
func (h *Hasher) NewHistoryEntry(ctx context.Context, pepper []byte, pw, passwordHash string, now time.Time) (HistoryEntry, error) {
	if err := checkPepper(pepper); err != nil {
		return HistoryEntry{}, err
	}
	skeletonHash, err := h.hashBytes(ctx, skeletonSecret(pepper, Skeleton(pw)))
	if err != nil {
		return HistoryEntry{}, err
	}
	return HistoryEntry{PasswordHash: passwordHash, SkeletonHash: skeletonHash, CreatedAt: now}, nil
}

// Similar reports whether pw is similar to any entry of history: equal to its
// password, or, when pw's skeleton has at least 4 letters, with an equal skeleton.
//
// Equal passwords have equal skeletons, so with a long enough skeleton only the skeleton
// hashes are checked, and otherwise only the password hashes; an entry without a skeleton
// hash is checked by its password hash. That is one verification per entry, all run in
// parallel through the pool: a reset waits for the slowest one, not for their sum. The
// first match ends the wait. An error (busy pool, malformed hash) is returned only if no
// entry matched.
func (h *Hasher) Similar(ctx context.Context, pepper []byte, pw string, history []HistoryEntry) (bool, error) {
	if len(history) == 0 {
		return false, nil
	}
	if err := checkPepper(pepper); err != nil {
		return false, err
	}
	var secret []byte
	if skeleton := Skeleton(pw); utf8.RuneCountInString(skeleton) >= minSkeleton {
		secret = skeletonSecret(pepper, skeleton)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops entries still waiting for a slot once the answer is known
	type result struct {
		similar bool
		err     error
	}
	results := make(chan result, len(history)) // buffered: no sender blocks after we return
	for _, e := range history {
		go func() {
			var r result
			if secret != nil && e.SkeletonHash != "" {
				r.similar, r.err = h.verifyBytes(ctx, secret, e.SkeletonHash)
			} else if ph, err := parseHash(e.PasswordHash); err != nil {
				r.err = err
			} else {
				r.similar, r.err = h.verify(ctx, ph, pw)
			}
			results <- r
		}()
	}
	var firstErr error
	for range history {
		r := <-results
		if r.similar {
			return true, nil
		}
		if r.err != nil && firstErr == nil {
			firstErr = r.err
		}
	}
	return false, firstErr
}
