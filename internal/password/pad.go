package password

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"

	"kilt/internal/password/argon2"
)

// Every check of a password costs the same, whatever hash it is checked against: Verify
// and DummyVerify pad the work of the stored hash up to one budget, so that the time of a
// sign-in tells neither that an account exists nor that its hash was imported or made
// before the operator raised the cost (docs/security.md, section "Hashing").
//
// The budget has two parts, each padded within its own algorithm (a bcrypt round and an
// Argon2 block cost different, unknown amounts of time, so one cannot pay for the other):
//
//   - Argon2: M·T block compressions (M KiB, T passes) — the configured cost, raised to the
//     costliest Argon2 hash seen. A hash of m KiB and t passes is padded by one Argon2id of
//     m KiB and T−t passes, then one of M−m KiB and T passes: m·t + m·(T−t) + (M−m)·T = M·T.
//     A bcrypt hash is padded by a whole Argon2id of M KiB and T passes.
//   - bcrypt: 2^P rounds, P the highest bcrypt cost seen (none at all until one is). A hash
//     of cost c < P is padded by bcrypts of cost c, c+1, …, P−1: 2^c + 2^c + … + 2^(P−1)
//     = 2^P. An Argon2 hash is padded by one bcrypt of cost P.
//
// The budget only rises: when the server starts, with the hashes the database holds
// (Observe), and at the latest the first time a costlier hash is checked.

// budget is the work every check is padded to.
type budget struct {
	mu           sync.Mutex
	memory, time uint32 // Argon2: KiB and passes
	bcryptCost   int    // 0: no bcrypt hash seen
}

// raise makes the budget cover ph and returns it.
func (b *budget) raise(ph parsedHash) (memory, time uint32, bcryptCost int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ph.alg {
	case algBcrypt:
		if c, err := bcrypt.Cost(ph.bcrypt); err == nil && c > b.bcryptCost {
			b.bcryptCost = c
		}
	default:
		b.memory = max(b.memory, ph.params.Memory)
		b.time = max(b.time, ph.params.Time)
	}
	return b.memory, b.time, b.bcryptCost
}

// Work is the work the hasher did, in the units its padding makes equal: Argon2 block
// compressions (KiB × passes; the first pass is the one that fills the memory) and bcrypt
// rounds.
type Work struct {
	Argon2Blocks uint64 // KiB × passes, summed
	BcryptRounds uint64 // 2^cost, summed
}

type workCounters struct{ blocks, rounds atomic.Uint64 }

// Work returns the total work of every check h made, own and padding: tests compare it
// between paths.
func (h *Hasher) Work() Work {
	return Work{Argon2Blocks: h.work.blocks.Load(), BcryptRounds: h.work.rounds.Load()}
}

func (h *Hasher) countArgon2(memory, time uint32) {
	h.work.blocks.Add(uint64(memory) * uint64(time))
}

func (h *Hasher) countBcrypt(cost int) { h.work.rounds.Add(1 << cost) }

// padSecret and padSalt feed the padding computations, whose results are thrown away.
var padSecret, padSalt = []byte("kilt padding"), []byte("kilt-padding-salt")

// pad does the work that brings a check of ph up to the budget. It must run inside the
// pool, right after the check itself.
func (h *Hasher) pad(ph parsedHash) {
	memory, time, cost := h.budget.raise(ph)
	argon := func(m, t uint32) {
		if m < 8 || t < 1 {
			return // below Argon2's minimum: a difference of a few KiB
		}
		h.countArgon2(m, t)
		mem := h.memory()
		_ = mem.IDKey(padSecret, padSalt, t, m, 1, KeyLen)
		h.putMemory(mem)
	}
	bcryptPad := func(c int) {
		h.countBcrypt(c)
		_, _ = bcrypt.GenerateFromPassword(padSecret, c)
	}
	if ph.alg == algBcrypt {
		own, _ := bcrypt.Cost(ph.bcrypt)
		for c := own; c < cost; c++ {
			bcryptPad(c)
		}
		argon(memory, time)
		return
	}
	m, t := ph.params.Memory, ph.params.Time
	if t < time {
		argon(m, time-t)
	}
	if m < memory {
		argon(memory-m, time)
	}
	if cost >= bcrypt.MinCost {
		bcryptPad(cost)
	}
}

// Observe raises the check budget to cover encoded, a hash the database holds, so that the
// first check against it already costs no more than any other. encoded may be a whole hash
// or its head, the algorithm and cost without salt and key ("$2a$12$",
// "$argon2id$v=19$m=65536,t=3,p=4$"). What Verify cannot read is ignored.
func (h *Hasher) Observe(encoded string) {
	if ph, err := parseHash(encoded); err == nil {
		h.budget.raise(ph)
		return
	}
	parts := strings.Split(encoded, "$")
	switch {
	case len(parts) >= 3 && strings.HasPrefix(parts[1], "2") && len(parts[2]) == 2:
		c, err := strconv.Atoi(parts[2])
		if err == nil && c >= bcrypt.MinCost && c <= maxBcryptCost {
			h.budget.mu.Lock()
			h.budget.bcryptCost = max(h.budget.bcryptCost, c)
			h.budget.mu.Unlock()
		}
	case len(parts) >= 4 && (parts[1] == "argon2id" || parts[1] == "argon2i"):
		if p, err := parseArgon2Params(parts[3]); err == nil {
			h.budget.raise(parsedHash{alg: algArgon2id, params: p})
		}
	}
}

// HashHead returns the head of encoded, its algorithm and cost without salt and key
// ("$2a$12$", "$argon2id$v=19$m=65536,t=3,p=4$"), as Observe takes it; "" for what is
// neither bcrypt nor Argon2.
func HashHead(encoded string) string {
	parts := strings.SplitN(encoded, "$", 5)
	switch {
	case len(parts) >= 4 && parts[0] == "" && strings.HasPrefix(parts[1], "2"):
		return "$" + parts[1] + "$" + parts[2] + "$"
	case len(parts) == 5 && parts[0] == "" && strings.HasPrefix(parts[1], "argon2"):
		return strings.Join(parts[:4], "$") + "$"
	}
	return ""
}

// Head is the head of the hashes h makes: their algorithm and cost, without salt and key.
func (h *Hasher) Head() string { return fmt.Sprintf("$argon2id$v=%d$%s$", argon2.Version, h.params) }

// Minimum cost of an imported hash. Below it a hash is too cheap to crack to keep, even
// until its owner's first sign-in replaces it: bcrypt 10, and Argon2 at OWASP's lowest
// trade-off (7 MiB, m·t at least 36 MiB passes).
const (
	MinImportBcryptCost = 10
	minImportMemory     = 7168
	minImportBlocks     = 36864
)

// ErrWeakImport is returned by CheckImport for a hash below the minimum import cost.
var ErrWeakImport = errors.New("password hash below the minimum import cost")

// CheckImport reports whether encoded may be imported: it must be a hash Verify can check
// (CheckHash) and at least of the minimum import cost (an error wrapping ErrWeakImport).
// The importer calls it for every row.
func CheckImport(encoded string) error {
	ph, err := parseHash(encoded)
	if err != nil {
		return err
	}
	if ph.alg == algBcrypt {
		if c, _ := bcrypt.Cost(ph.bcrypt); c < MinImportBcryptCost {
			return fmt.Errorf("%w: bcrypt cost %d, want at least %d", ErrWeakImport, c, MinImportBcryptCost)
		}
		return nil
	}
	if m, t := ph.params.Memory, ph.params.Time; m < minImportMemory || uint64(m)*uint64(t) < minImportBlocks {
		name := strings.TrimPrefix(strings.SplitN(encoded, "$", 3)[1], "$")
		return fmt.Errorf("%w: %s m=%d,t=%d, want m at least %d and m·t at least %d", ErrWeakImport, name, m, t,
			minImportMemory, minImportBlocks)
	}
	return nil
}
