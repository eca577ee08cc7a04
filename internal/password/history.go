package password

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"kilt"
)

// HistoryEntry is one past password of an account, as kept for the "not similar to the last
// N" rule: only hashes, never the password or its skeleton in clear.
//
// An entry comes in one of three formats. Entries made since migration 0050 have a Key;
// entries made before it have a SkeletonHash (the legacy format, checked the old way until
// newer passwords push them out of the history); an imported account's first entry has
// neither and is checked by its PasswordHash.
type HistoryEntry struct {
	// PasswordHash is the account's password hash as it was stored (any format Verify reads).
	PasswordHash string
	// SkeletonHash (legacy format) is an Argon2id PHC hash of HMAC-SHA256(pepper,
	// Skeleton(password)) under a salt of its own. Empty in entries made since 0050.
	SkeletonHash string
	// Key is an Argon2id PHC hash of historySecret(pepper, password) under the account's
	// history salt, which every keyed entry of the account shares: one computation for a new
	// password compares against all of them at once.
	Key       string
	CreatedAt time.Time
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

// skeletonSecret keys the skeleton with the server secret: the secret of the legacy
// SkeletonHash. The skeleton of a password has far less entropy than the password, so a
// dump of the history table alone must not be enough to test guesses against it: without
// the pepper the hashed value is unguessable.
func skeletonSecret(pepper []byte, skeleton string) []byte {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(skeleton))
	return m.Sum(nil)
}

// historySecret is what a history Key hashes: the skeleton of pw when it has at least
// minSkeleton letters, else the NFKC form of pw itself, each under its own label and keyed
// with the pepper (for skeletonSecret's reason). Two passwords are similar when they are
// equal, or when their skeletons are equal and have at least minSkeleton letters; equal
// passwords have equal skeletons, and equal skeletons are equally long, so two passwords
// are similar exactly when their history secrets are equal, and one value per entry
// decides the rule.
func historySecret(pepper []byte, pw string) []byte {
	m := hmac.New(sha256.New, pepper)
	if skeleton := Skeleton(pw); utf8.RuneCountInString(skeleton) >= minSkeleton {
		m.Write([]byte("kilt history skeleton\x00"))
		m.Write([]byte(skeleton))
	} else {
		m.Write([]byte("kilt history password\x00"))
		m.Write([]byte(Normalize(pw)))
	}
	return m.Sum(nil)
}

func checkPepper(pepper []byte) error {
	if len(pepper) == 0 {
		return kilt.Errorf(kilt.KindInternal, kilt.CodeInternal, "password history: empty pepper")
	}
	return nil
}

// NewHistoryEntry hashes pw for the account and makes its history entry, the two Argon2id
// computations in parallel: PasswordHash is the account hash, Key the key of pw under the
// history salt of history (the account's entries, newest first; a fresh salt when none is
// keyed). The key is made even when the skeleton is too short to be compared, so that
// nothing in the database tells that a password has almost no letters. pepper must be the
// server secret and never empty.
func (h *Hasher) NewHistoryEntry(ctx context.Context, pepper []byte, pw string, history []HistoryEntry, now time.Time) (HistoryEntry, error) {
	e, _, err := h.newEntry(ctx, pepper, pw, history, nil, now)
	return e, err
}

// Similar reports whether pw is similar to any entry of history: equal to its password,
// or, when pw's skeleton has at least 4 letters, with an equal skeleton. It costs one
// computation for all the keyed entries of the account, plus one per legacy entry, all in
// parallel through the pool (checkHistory).
func (h *Hasher) Similar(ctx context.Context, pepper []byte, pw string, history []HistoryEntry) (bool, error) {
	if len(history) == 0 {
		return false, nil
	}
	if err := checkPepper(pepper); err != nil {
		return false, err
	}
	similar, _, err := h.checkHistory(ctx, pepper, pw, keyTarget{}, history)
	return similar, err
}

// newEntry does NewHistoryEntry's work and, at the same time, checks pw against check
// (Similar): the account hash, the history key and the check all run in parallel, and the
// key computed for the check is the key of the new entry, so setting a password over a
// keyed history costs two computations whatever the history holds. The entry is valid
// only when pw is not similar.
func (h *Hasher) newEntry(ctx context.Context, pepper []byte, pw string, history, check []HistoryEntry, now time.Time) (HistoryEntry, bool, error) {
	if err := checkPepper(pepper); err != nil {
		return HistoryEntry{}, false, err
	}
	type hashed struct {
		hash string
		err  error
	}
	ctx = Together(ctx)
	done := make(chan hashed, 1)
	go func() {
		hash, err := h.Hash(ctx, pw)
		done <- hashed{hash, err}
	}()
	similar, key, err := h.checkHistory(ctx, pepper, pw, h.keyTarget(history), check)
	hr := <-done
	if err == nil {
		err = hr.err
	}
	if err != nil || similar {
		return HistoryEntry{}, similar, err
	}
	return HistoryEntry{PasswordHash: hr.hash, Key: key, CreatedAt: now}, false, nil
}

// keyTarget is the hash a new password's key is made with; want is false when no key is
// needed (a check alone).
type keyTarget struct {
	ph   parsedHash
	want bool
}

// keyTarget returns the target of the key of a new password of an account with history:
// Argon2id at h's cost, under the salt of the newest keyed entry (the account's history
// salt), or under a fresh salt for an account that has none yet.
func (h *Hasher) keyTarget(history []HistoryEntry) keyTarget {
	salt := randomBytes(SaltLen)
	for _, e := range history {
		if ph, err := parseHash(e.Key); e.Key != "" && err == nil && ph.alg == algArgon2id {
			salt = ph.salt
			break
		}
	}
	return keyTarget{ph: parsedHash{alg: algArgon2id, params: h.params, salt: salt}, want: true}
}

// keyGroup is the keyed entries one computation decides: those of one cost, salt and key
// length. ph is the first of them (its key gives only the length to derive).
type keyGroup struct {
	ph     parsedHash
	keys   [][]byte
	target bool
}

// groupOf names the group of ph.
func groupOf(ph parsedHash) string {
	n := len(ph.key)
	if n == 0 {
		n = KeyLen
	}
	return fmt.Sprintf("%v$%x$%d", ph.params, ph.salt, n)
}

// checkHistory reports whether pw is similar to an entry of history and returns the key of
// pw at target (when target.want and pw is not similar).
//
// Keyed entries are grouped by cost and salt: one computation of historySecret per group,
// compared in constant time with every key of the group. An account's keyed entries share
// one salt, so at a constant cost they are one group, the target's: the check and the key
// of the new entry are one computation. A legacy entry costs one verification, as it did
// before keys: its skeleton hash when pw's skeleton has at least 4 letters, else its
// password hash (which is also how an imported entry without a skeleton hash is checked).
// All computations run in parallel (firstMatch).
func (h *Hasher) checkHistory(ctx context.Context, pepper []byte, pw string, target keyTarget, history []HistoryEntry) (bool, string, error) {
	var checks []check
	groups := map[string]*keyGroup{}
	if target.want {
		groups[groupOf(target.ph)] = &keyGroup{ph: target.ph, target: true}
	}
	legacy := legacySecret(pepper, pw)
	for _, e := range history {
		if e.Key == "" {
			checks = append(checks, h.legacyCheck(legacy, pw, e))
			continue
		}
		ph, err := parseHash(e.Key)
		if err == nil && ph.alg != algArgon2id {
			err = malformed(HashUnsupported, "history key is not argon2id")
		}
		if err != nil {
			checks = append(checks, func(context.Context) (bool, error) { return false, err })
			continue
		}
		g := groups[groupOf(ph)]
		if g == nil {
			g = &keyGroup{ph: ph}
			groups[groupOf(ph)] = g
		}
		g.keys = append(g.keys, ph.key)
	}
	secret := historySecret(pepper, pw)
	var key []byte // the target's, written before its result is sent
	for _, g := range groups {
		checks = append(checks, func(ctx context.Context) (bool, error) {
			k, err := h.deriveIn(ctx, g.ph, secret)
			if g.target {
				key = k
			}
			return err == nil && matchesAny(k, g.keys), err
		})
	}
	similar, err := firstMatch(ctx, checks)
	if similar || err != nil || !target.want {
		return similar, "", err
	}
	ph := target.ph
	ph.key = key
	return false, ph.String(), nil
}

// check is one computation of a history check: whether it found a match.
type check func(ctx context.Context) (bool, error)

// legacySecret is the secret legacy skeleton hashes are checked with, or nil when pw's
// skeleton is too short to count (its password hash decides then).
func legacySecret(pepper []byte, pw string) []byte {
	if skeleton := Skeleton(pw); utf8.RuneCountInString(skeleton) >= minSkeleton {
		return skeletonSecret(pepper, skeleton)
	}
	return nil
}

// legacyCheck checks pw against an entry without a key, the way every entry was checked
// before keys: equal passwords have equal skeletons, so with a long enough skeleton
// (secret not nil) only the skeleton hash is checked, and otherwise, or when the entry has
// none (an imported account's), only the password hash.
func (h *Hasher) legacyCheck(secret []byte, pw string, e HistoryEntry) check {
	return func(ctx context.Context) (bool, error) {
		if secret != nil && e.SkeletonHash != "" {
			return h.verifyBytes(ctx, secret, e.SkeletonHash)
		}
		ph, err := parseHash(e.PasswordHash)
		if err != nil {
			return false, err
		}
		return h.verify(ctx, ph, pw)
	}
}

// deriveIn derives the key of secret at ph in one pool slot.
func (h *Hasher) deriveIn(ctx context.Context, ph parsedHash, secret []byte) ([]byte, error) {
	var key []byte
	if err := h.pool.Do(ctx, func() { key = h.derive(ph, secret) }); err != nil {
		return nil, err
	}
	return key, nil
}

// matchesAny compares key with every one of keys in constant time, all of them whatever
// matched, so that the time of a check tells nothing of which entry matched.
func matchesAny(key []byte, keys [][]byte) bool {
	eq := 0
	for _, k := range keys {
		eq |= subtle.ConstantTimeCompare(key, k)
	}
	return eq == 1
}

// firstMatch runs every check at once, each in its own pool slot, so that a reset waits
// for the slowest, not for their sum. The first match ends the wait and cancels the checks
// still waiting for a slot. An error (busy pool, malformed hash) is returned only if no
// check matched.
func firstMatch(ctx context.Context, checks []check) (bool, error) {
	ctx, cancel := context.WithCancel(Together(ctx))
	defer cancel()
	type result struct {
		similar bool
		err     error
	}
	results := make(chan result, len(checks)) // buffered: no sender blocks after we return
	for _, c := range checks {
		go func() {
			similar, err := c(ctx)
			results <- result{similar, err}
		}()
	}
	var firstErr error
	for range checks {
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
