package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"

	"kilt"
	"kilt/internal/password/argon2"
)

// Params are Argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes (parallelism)
}

// Sizes of what Hash produces. 16 bytes of salt is what RFC 9106 recommends for password
// hashing; a 32-byte key leaves no room for a collision to matter.
const (
	SaltLen = 16
	KeyLen  = 32
)

// Limits on hashes read back (imported or stored). They keep a hostile or corrupt row from
// making one verification take gigabytes of memory or minutes of CPU.
const (
	maxMemory     = 1 << 20 // KiB: 1 GiB
	maxTime       = 1 << 10
	minStoredSalt = 8 // the PHC and reference implementation minimum
	maxStoredSalt = 64
	minStoredKey  = 4
	maxStoredKey  = 256
	maxBcryptCost = 16 // 2^16 rounds: far beyond any cost seen in practice, still under a few seconds
)

// DefaultParams returns the default cost, OWASP's Argon2id minimum: m=19456 KiB, t=2, p=1.
func DefaultParams() Params { return Params{Memory: 19456, Time: 2, Threads: 1} }

// Validate reports whether Argon2id can run with p, within the limits Verify accepts.
func (p Params) Validate() error {
	switch {
	case p.Threads < 1:
		return errors.New("argon2 threads must be at least 1")
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("argon2 time must be between 1 and %d", maxTime)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("argon2 memory must be between 8×threads and %d KiB", maxMemory)
	}
	return nil
}

func (p Params) String() string { return fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads) }

// Normalize returns pw in NFKC form. Every password is normalised the same way when it is
// set and when it is checked, so that the same visible password typed on another keyboard
// or pasted from another program (full-width letters, ligatures, composed or decomposed
// accents) is the same password. It is done here and nowhere else.
func Normalize(pw string) string { return norm.NFKC.String(pw) }

// Hasher hashes and verifies passwords. Every Argon2 and bcrypt computation runs inside its
// Pool. A Hasher is safe for concurrent use.
type Hasher struct {
	params Params
	pool   *Pool

	// dummy is a well-formed Argon2id hash at the configured cost of no known password,
	// verified on the unknown-account path so that it costs what a real account costs.
	dummy parsedHash

	// kdfRuns counts key derivations; tests use it to prove two paths do the same work.
	kdfRuns atomic.Uint64

	// budget is the work every check is padded to, work the work done (pad.go).
	budget budget
	work   workCounters

	// memories hold Argon2 working memory between computations, up to the configured
	// cost each (see package argon2): a hash then neither allocates its 19 MiB nor has the
	// runtime zero them, and leaves no garbage to collect. There is one per pool slot, since
	// every computation runs in a slot, and they are kept for the Hasher's life: the pool's
	// bound on hashing memory is the memory the server holds for it (a sync.Pool let the
	// collector take them back after two collections without a hash, and the next sign-in
	// allocated and faulted its 19 MiB in again). Reserve allocates them ahead of use;
	// ReleaseIdle gives their pages back to the system when no hash has run for a while.
	memories chan *argon2.Memory
	// lastUse is when a computation last gave its memory back (Unix nanoseconds), 0 once
	// ReleaseIdle has released the memories since.
	lastUse atomic.Int64
}

// NewHasher returns a Hasher producing Argon2id hashes at p and running all work in pool.
// A nil pool means NewPool(0, DefaultMaxWait). It panics if p is not valid (see
// Params.Validate): configuration is validated at start, so this is a programming error.
func NewHasher(p Params, pool *Pool) *Hasher {
	if err := p.Validate(); err != nil {
		panic("password: NewHasher: " + err.Error())
	}
	if pool == nil {
		pool = NewPool(0, DefaultMaxWait)
	}
	h := &Hasher{params: p, pool: pool, memories: make(chan *argon2.Memory, max(1, pool.Stats().Size))}
	for range cap(h.memories) {
		h.memories <- &argon2.Memory{Limit: p.Memory}
	}
	h.budget.memory, h.budget.time = p.Memory, p.Time
	h.dummy = parsedHash{alg: algArgon2id, params: p, salt: randomBytes(SaltLen), key: randomBytes(KeyLen)}
	return h
}

// Computations returns how many Argon2 and bcrypt computations h has made, padding (pad.go)
// aside: tests count what a flow costs with it, never timing it.
func (h *Hasher) Computations() uint64 { return h.kdfRuns.Load() }

// Params returns the cost at which h hashes.
func (h *Hasher) Params() Params { return h.params }

// Pool returns the pool h runs its work in.
func (h *Hasher) Pool() *Pool { return h.pool }

// Hash returns the Argon2id PHC string of the NFKC form of pw at h's cost, with a fresh
// random salt: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, salt and key in standard
// base64 without padding, as the reference implementation writes them. It fails only when
// the pool is busy or ctx ends.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	return h.hashBytes(ctx, []byte(Normalize(pw)))
}

// hashBytes hashes secret as given, without normalisation (history skeletons are binary).
func (h *Hasher) hashBytes(ctx context.Context, secret []byte) (string, error) {
	ph := parsedHash{alg: algArgon2id, params: h.params, salt: randomBytes(SaltLen)}
	err := h.pool.Do(ctx, func() { ph.key = h.derive(ph, secret) })
	if err != nil {
		return "", err
	}
	return ph.String(), nil
}

// Verify reports whether pw matches encoded, and whether encoded should be replaced by a
// fresh Hash of pw (rehash), which it should when it matched and is not Argon2id at least
// at h's cost: lower memory, time or threads, a salt shorter or key other than Hash makes,
// or another algorithm (argon2i, bcrypt).
//
// encoded may be $argon2id$ or $argon2i$ (version 19) or bcrypt $2a$, $2b$, $2y$; anything
// else, including argon2d, which golang.org/x/crypto does not implement, is a
// kilt.KindInternal error, since stored hashes are our own data. Keys are compared in
// constant time.
//
// pw is checked in its NFKC form only: one hash per attempt, whatever the password, so that
// a password NFKC changes costs no more than another (docs/security.md, section "Hashing").
// A hash imported from a system that hashed such a password unnormalised does not match;
// its owner recovers the account. The check is padded to the cost of any other (pad.go).
func (h *Hasher) Verify(ctx context.Context, pw, encoded string) (ok, rehash bool, err error) {
	ph, err := parseHash(encoded)
	if err != nil {
		return false, false, err
	}
	ok, err = h.verify(ctx, ph, pw)
	if err != nil || !ok {
		return false, false, err
	}
	return true, h.needsRehash(ph), nil
}

// DummyVerify does the work of a Verify of pw against an account's hash at h's cost and
// discards the result. It is called where no account was found so that the answer takes as
// long as for a real account. It returns the error Verify would have returned (busy pool,
// ended ctx), so that an unknown account gets the same 503 as a known one under overload.
func (h *Hasher) DummyVerify(ctx context.Context, pw string) error {
	_, err := h.verify(ctx, h.dummy, pw)
	return err
}

// verify checks the NFKC form of pw against ph in one pool slot, padded to the budget
// (pad.go) so that it costs what any other check costs.
func (h *Hasher) verify(ctx context.Context, ph parsedHash, pw string) (ok bool, err error) {
	normal := []byte(Normalize(pw))
	err = h.pool.Do(ctx, func() {
		ok = h.matches(ph, normal)
		h.pad(ph)
	})
	if err != nil {
		return false, err
	}
	return ok, nil
}

// verifyBytes checks secret as given against encoded in one pool slot.
func (h *Hasher) verifyBytes(ctx context.Context, secret []byte, encoded string) (bool, error) {
	ph, err := parseHash(encoded)
	if err != nil {
		return false, err
	}
	var ok bool
	if err := h.pool.Do(ctx, func() { ok = h.matches(ph, secret) }); err != nil {
		return false, err
	}
	return ok, nil
}

// matches computes the hash of secret with ph's algorithm, cost and salt and compares it to
// ph's key in constant time. It must run inside the pool.
func (h *Hasher) matches(ph parsedHash, secret []byte) bool {
	if ph.alg == algBcrypt {
		h.kdfRuns.Add(1)
		if c, err := bcrypt.Cost(ph.bcrypt); err == nil {
			h.countBcrypt(c)
		}
		// CompareHashAndPassword compares in constant time. Like every bcrypt, it uses only
		// the first 72 bytes of secret, which is what the system that made the hash did.
		return bcrypt.CompareHashAndPassword(ph.bcrypt, secret) == nil
	}
	return subtle.ConstantTimeCompare(h.derive(ph, secret), ph.key) == 1
}

// derive returns the Argon2 key of secret with ph's variant, cost, salt and key length (KeyLen
// when ph has no key yet). It must run inside the pool.
func (h *Hasher) derive(ph parsedHash, secret []byte) []byte {
	h.kdfRuns.Add(1)
	h.countArgon2(ph.params.Memory, ph.params.Time)
	n := uint32(len(ph.key))
	if n == 0 {
		n = KeyLen
	}
	p := ph.params
	mem := h.memory()
	defer h.putMemory(mem)
	if ph.alg == algArgon2i {
		return mem.Key(secret, ph.salt, p.Time, p.Memory, p.Threads, n)
	}
	return mem.IDKey(secret, ph.salt, p.Time, p.Memory, p.Threads, n)
}

// memory returns a working memory for one computation: a kept one, or (when a pool shared
// with another Hasher runs more at once than h keeps) a new one.
func (h *Hasher) memory() *argon2.Memory {
	select {
	case m := <-h.memories:
		return m
	default:
		return &argon2.Memory{Limit: h.params.Memory}
	}
}

// putMemory gives m back after its computation.
func (h *Hasher) putMemory(m *argon2.Memory) {
	h.lastUse.Store(time.Now().UnixNano())
	h.putKept(m)
}

// putKept keeps m; a memory beyond the kept ones is left to the collector.
func (h *Hasher) putKept(m *argon2.Memory) {
	select {
	case h.memories <- m:
	default:
	}
}

// Reserve allocates every kept working memory at the configured cost now instead of at the
// first hashes, and returns the KiB h then keeps. kilt serve calls it at start, so that the
// collector paces itself against the heap the server holds once it has hashed — from the
// first request, whatever that request is — and the first sign-ins allocate nothing large.
// Memory fresh from the system is not resident until a hash writes it: the idle server's
// RSS does not grow.
func (h *Hasher) Reserve() uint64 {
	h.eachKept(func(m *argon2.Memory) { m.Reserve(h.params.Memory) })
	return h.KeptMemory()
}

// ReleaseIdle gives the pages of the kept memories back to the system when no computation
// has ended for idle (and none was made since the last release), and returns the KiB
// released. The memories stay allocated (the collector's pace is unchanged) and the next
// hash faults its pages in again: a server that hashes all day keeps them resident, an idle
// one returns to the resident size it started with, and no password's blocks stay in its
// memory. Memories in use at the moment are not touched.
func (h *Hasher) ReleaseIdle(idle time.Duration) uint64 {
	last := h.lastUse.Load()
	if last == 0 || time.Since(time.Unix(0, last)) < idle || !h.lastUse.CompareAndSwap(last, 0) {
		return 0
	}
	var kib uint64
	h.eachKept(func(m *argon2.Memory) {
		m.Release()
		kib += uint64(m.Size())
	})
	return kib
}

// KeptMemory returns the KiB of working memory h keeps now (those of computations running
// at the moment not counted).
func (h *Hasher) KeptMemory() uint64 {
	var kib uint64
	h.eachKept(func(m *argon2.Memory) { kib += uint64(m.Size()) })
	return kib
}

// eachKept calls fn with each memory kept at the moment (not those of computations running),
// taking it out while fn runs.
func (h *Hasher) eachKept(fn func(*argon2.Memory)) {
	for range len(h.memories) {
		select {
		case m := <-h.memories:
			fn(m)
			h.putKept(m)
		default:
			return
		}
	}
}

func (h *Hasher) needsRehash(ph parsedHash) bool {
	return ph.alg != algArgon2id ||
		ph.params.Memory < h.params.Memory ||
		ph.params.Time < h.params.Time ||
		ph.params.Threads < h.params.Threads ||
		len(ph.salt) < SaltLen || len(ph.key) != KeyLen
}

// CheckHash reports whether Verify can check encoded: nil, or the kilt.KindInternal error
// Verify would return, whose chain holds a *HashError saying why. The import uses it to
// refuse a bad row before storing it.
func CheckHash(encoded string) error {
	_, err := parseHash(encoded)
	return err
}

type algorithm int

const (
	algArgon2id algorithm = iota
	algArgon2i
	algBcrypt
)

// parsedHash is a stored hash taken apart.
type parsedHash struct {
	alg       algorithm
	params    Params // Argon2 only
	salt, key []byte // Argon2 only
	bcrypt    []byte // bcrypt only: the whole modular-crypt string
}

// String encodes an Argon2 hash in PHC form.
func (ph parsedHash) String() string {
	name := "argon2id"
	if ph.alg == algArgon2i {
		name = "argon2i"
	}
	return fmt.Sprintf("$%s$v=%d$%s$%s$%s", name, argon2.Version, ph.params,
		base64.RawStdEncoding.EncodeToString(ph.salt), base64.RawStdEncoding.EncodeToString(ph.key))
}

// HashReason is why a stored hash cannot be checked.
type HashReason int

// The reasons a hash is refused.
const (
	// HashUnsupported: not a scheme or version Verify computes (argon2d, Argon2 version 16,
	// a bcrypt variant other than $2a$, $2b$, $2y$, anything else).
	HashUnsupported HashReason = iota + 1
	// HashMalformed: a known scheme whose string does not parse.
	HashMalformed
	// HashBeyondLimits: it parses, but its cost, salt or key is outside what Verify accepts.
	HashBeyondLimits
)

func (r HashReason) String() string {
	switch r {
	case HashUnsupported:
		return "unsupported"
	case HashMalformed:
		return "malformed"
	case HashBeyondLimits:
		return "beyond_limits"
	}
	return fmt.Sprintf("hash_reason(%d)", int(r))
}

// HashError is the error of a stored hash Verify cannot check, found in the chain of the
// errors of Verify and CheckHash. Detail names the problem in English, never the hash.
type HashError struct {
	Reason HashReason
	Detail string
}

func (e *HashError) Error() string { return "password hash: " + e.Detail }

// malformed returns the error for a stored hash Verify cannot check: of kind internal, since
// stored hashes are Kilt's own data, with the *HashError as its cause.
func malformed(reason HashReason, format string, args ...any) error {
	he := &HashError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
	return &kilt.Error{Kind: kilt.KindInternal, Code: kilt.CodeInternal, Message: he.Error(), Err: he}
}

// parseHash takes a PHC Argon2 string or a bcrypt string apart and checks it is one Verify
// can compute within the limits above.
func parseHash(encoded string) (parsedHash, error) {
	switch {
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		return parseBcrypt(encoded)
	case strings.HasPrefix(encoded, "$2"):
		return parsedHash{}, malformed(HashUnsupported, "unsupported bcrypt variant (only $2a$, $2b$, $2y$)")
	case strings.HasPrefix(encoded, "$argon2d$"):
		return parsedHash{}, malformed(HashUnsupported, "argon2d is not supported (golang.org/x/crypto implements argon2i and argon2id only)")
	case strings.HasPrefix(encoded, "$argon2id$"), strings.HasPrefix(encoded, "$argon2i$"):
		return parseArgon2(encoded)
	}
	return parsedHash{}, malformed(HashUnsupported, "unknown algorithm")
}

func parseBcrypt(encoded string) (parsedHash, error) {
	// Checked here because bcrypt.Cost accepts trailing bytes and short strings it then
	// cannot compare.
	if len(encoded) != 60 {
		return parsedHash{}, malformed(HashMalformed, "bcrypt hash is %d bytes, want 60", len(encoded))
	}
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil {
		return parsedHash{}, malformed(HashMalformed, "bcrypt: %v", err)
	}
	if cost > maxBcryptCost {
		return parsedHash{}, malformed(HashBeyondLimits, "bcrypt cost %d is above the limit %d", cost, maxBcryptCost)
	}
	return parsedHash{alg: algBcrypt, bcrypt: []byte(encoded)}, nil
}

// parseArgon2 parses $argon2id$v=19$m=M,t=T,p=P$salt$key (also $argon2i$). The parameters
// may come in any order; salt and key are standard base64, padded or not.
func parseArgon2(encoded string) (parsedHash, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) == 5 {
		return parsedHash{}, malformed(HashUnsupported, "argon2 hash without v= is version 16, which is not supported")
	}
	if len(parts) != 6 || parts[0] != "" {
		return parsedHash{}, malformed(HashMalformed, "argon2 hash has %d fields, want 5", len(parts)-1)
	}
	ph := parsedHash{alg: algArgon2id}
	if parts[1] == "argon2i" {
		ph.alg = algArgon2i
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return parsedHash{}, malformed(HashUnsupported, "argon2 version field is not v=%d", argon2.Version)
	}
	params, err := parseArgon2Params(parts[3])
	if err != nil {
		return parsedHash{}, err
	}
	ph.params = params
	if ph.salt, err = decodeBase64(parts[4]); err != nil {
		return parsedHash{}, malformed(HashMalformed, "argon2 salt: %v", err)
	}
	if ph.key, err = decodeBase64(parts[5]); err != nil {
		return parsedHash{}, malformed(HashMalformed, "argon2 key: %v", err)
	}
	if n := len(ph.salt); n < minStoredSalt || n > maxStoredSalt {
		return parsedHash{}, malformed(HashBeyondLimits, "argon2 salt is %d bytes, want %d to %d", n, minStoredSalt, maxStoredSalt)
	}
	if n := len(ph.key); n < minStoredKey || n > maxStoredKey {
		return parsedHash{}, malformed(HashBeyondLimits, "argon2 key is %d bytes, want %d to %d", n, minStoredKey, maxStoredKey)
	}
	return ph, nil
}

func parseArgon2Params(s string) (Params, error) {
	var p Params
	seen := map[string]bool{}
	for field := range strings.SplitSeq(s, ",") {
		name, value, ok := strings.Cut(field, "=")
		if !ok || seen[name] {
			return Params{}, malformed(HashMalformed, "argon2 parameters are not m=..,t=..,p=..")
		}
		seen[name] = true
		n, err := strconv.ParseUint(value, 10, 32)
		if err != nil || (len(value) > 1 && value[0] == '0') {
			return Params{}, malformed(HashMalformed, "argon2 parameter %s is not a number", name)
		}
		switch name {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return Params{}, malformed(HashBeyondLimits, "argon2 parallelism %d is above 255", n)
			}
			p.Threads = uint8(n)
		default:
			return Params{}, malformed(HashMalformed, "argon2 parameter %s is not supported", name)
		}
	}
	if len(seen) != 3 {
		return Params{}, malformed(HashMalformed, "argon2 parameters are not m=..,t=..,p=..")
	}
	if err := p.Validate(); err != nil {
		return Params{}, malformed(HashBeyondLimits, "%v", err)
	}
	return p, nil
}

func decodeBase64(s string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// randomBytes returns n bytes from crypto/rand, which never fails on supported platforms
// (it aborts the program rather than return predictable bytes).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
