package password

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"kilt"
	argon2m "kilt/internal/password/argon2"
)

// testParams keeps tests fast; one test runs at the default cost.
var testParams = Params{Memory: 64, Time: 1, Threads: 1}

func newTestHasher(t *testing.T) *Hasher {
	t.Helper()
	return NewHasher(testParams, NewPool(4, time.Minute))
}

// argon2Hash encodes an Argon2 hash of secret made here, independently of Hash.
func argon2Hash(t *testing.T, variant string, secret string, p Params, salt []byte) string {
	t.Helper()
	var key []byte
	switch variant {
	case "argon2id":
		key = argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, 32)
	case "argon2i":
		key = argon2.Key([]byte(secret), salt, p.Time, p.Memory, p.Threads, 32)
	default:
		t.Fatalf("unknown variant %q", variant)
	}
	return fmt.Sprintf("$%s$v=19$m=%d,t=%d,p=%d$%s$%s", variant, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestHashVerifyRoundTrip(t *testing.T) {
	h := newTestHasher(t)
	ctx := context.Background()
	tests := []struct {
		name, set, try string
		want           bool
	}{
		{name: "ascii", set: "Tulpar-Sunkar-7", try: "Tulpar-Sunkar-7", want: true},
		{name: "kazakh", set: "Сәлем-Әлем-2024!", try: "Сәлем-Әлем-2024!", want: true},
		{name: "wrong", set: "Tulpar-Sunkar-7", try: "Tulpar-Sunkar-8", want: false},
		{name: "case matters", set: "Tulpar-Sunkar-7", try: "tulpar-sunkar-7", want: false},
		{name: "full-width is the same after NFKC", set: "Ｔｕｌｐａｒ-7", try: "Tulpar-7", want: true},
		{name: "ligature is the same after NFKC", set: "ﬁnal-Sunkar-7", try: "final-Sunkar-7", want: true},
		{name: "decomposed is the same after NFKC", set: "Мои\u0306-Tulpar-7", try: "Мой-Tulpar-7", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded, err := h.Hash(ctx, tt.set)
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			ok, rehash, err := h.Verify(ctx, tt.try, encoded)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if ok != tt.want || rehash {
				t.Errorf("Verify: got ok=%v rehash=%v, want ok=%v rehash=false", ok, rehash, tt.want)
			}
		})
	}
}

func TestHashFormat(t *testing.T) {
	h := newTestHasher(t)
	a, err := h.Hash(context.Background(), "Tulpar-Sunkar-7")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Hash(context.Background(), "Tulpar-Sunkar-7")
	if err != nil {
		t.Fatal(err)
	}
	// 16 bytes of salt and 32 of key in unpadded standard base64: 22 and 43 characters.
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(a) {
		t.Errorf("Hash: got %q, want a PHC argon2id string at m=64,t=1,p=1", a)
	}
	if a == b {
		t.Errorf("two hashes of one password are equal (%q): the salt is not random", a)
	}
	ph, err := parseHash(a)
	if err != nil {
		t.Fatalf("parseHash(Hash()): %v", err)
	}
	if ph.alg != algArgon2id || ph.params != testParams || len(ph.salt) != SaltLen || len(ph.key) != KeyLen {
		t.Errorf("parsed: got alg %v params %v salt %d key %d, want argon2id %v %d %d",
			ph.alg, ph.params, len(ph.salt), len(ph.key), testParams, SaltLen, KeyLen)
	}
	if got := ph.String(); got != a {
		t.Errorf("re-encoded: got %q, want %q", got, a)
	}
}

// TestVerifyReferenceVector checks a hash printed by the Argon2 reference implementation
// (its README: echo -n "password" | ./argon2 somesalt -t 2 -m 16 -p 4 -l 24).
func TestVerifyReferenceVector(t *testing.T) {
	h := newTestHasher(t)
	const ref = "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
	for _, tt := range []struct {
		pw   string
		want bool
	}{{"password", true}, {"passwore", false}} {
		ok, rehash, err := h.Verify(context.Background(), tt.pw, ref)
		if err != nil {
			t.Fatalf("Verify(%q): %v", tt.pw, err)
		}
		// argon2i is another algorithm, so a match asks for a rehash.
		if ok != tt.want || rehash != tt.want {
			t.Errorf("Verify(%q): got ok=%v rehash=%v, want %v %v", tt.pw, ok, rehash, tt.want, tt.want)
		}
	}
}

func TestVerifyImported(t *testing.T) {
	h := newTestHasher(t)
	ctx := context.Background()
	const pw = "Tulpar-Sunkar-7"
	salt := []byte("0123456789abcdef")
	bc, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bcrypt2a := string(bc)
	if !strings.HasPrefix(bcrypt2a, "$2a$") {
		t.Fatalf("bcrypt made %q, want a $2a$ hash", bcrypt2a)
	}
	tests := []struct {
		name       string
		encoded    string
		wantRehash bool
	}{
		{name: "argon2id at the configured cost", encoded: argon2Hash(t, "argon2id", pw, testParams, salt), wantRehash: false},
		{name: "argon2id above the cost", encoded: argon2Hash(t, "argon2id", pw, Params{Memory: 128, Time: 3, Threads: 2}, salt), wantRehash: false},
		{name: "argon2id lower memory", encoded: argon2Hash(t, "argon2id", pw, Params{Memory: 32, Time: 4, Threads: 2}, salt), wantRehash: true},
		{name: "argon2id short salt", encoded: argon2Hash(t, "argon2id", pw, testParams, salt[:8]), wantRehash: true},
		{name: "argon2i", encoded: argon2Hash(t, "argon2i", pw, Params{Memory: 256, Time: 3, Threads: 1}, salt), wantRehash: true},
		{name: "bcrypt 2a", encoded: bcrypt2a, wantRehash: true},
		{name: "bcrypt 2b", encoded: "$2b$" + bcrypt2a[4:], wantRehash: true},
		{name: "bcrypt 2y", encoded: "$2y$" + bcrypt2a[4:], wantRehash: true},
		{name: "padded base64", encoded: argon2Hash(t, "argon2id", pw, testParams, salt[:15]) + "=", wantRehash: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, pw, tt.encoded)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !ok || rehash != tt.wantRehash {
				t.Errorf("Verify: got ok=%v rehash=%v, want ok=true rehash=%v", ok, rehash, tt.wantRehash)
			}
			ok, rehash, err = h.Verify(ctx, pw+"x", tt.encoded)
			if err != nil || ok || rehash {
				t.Errorf("Verify of a wrong password: got %v %v %v, want false false nil", ok, rehash, err)
			}
		})
	}
}

func TestVerifyRehashWhenCostRaised(t *testing.T) {
	ctx := context.Background()
	old, err := NewHasher(testParams, nil).Hash(ctx, "Tulpar-Sunkar-7")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		params     Params
		wantRehash bool
	}{
		{name: "same", params: testParams, wantRehash: false},
		{name: "lower", params: Params{Memory: 32, Time: 1, Threads: 1}, wantRehash: false},
		{name: "more memory", params: Params{Memory: 128, Time: 1, Threads: 1}, wantRehash: true},
		{name: "more time", params: Params{Memory: 64, Time: 2, Threads: 1}, wantRehash: true},
		{name: "more threads", params: Params{Memory: 64, Time: 1, Threads: 2}, wantRehash: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := NewHasher(tt.params, nil).Verify(ctx, "Tulpar-Sunkar-7", old)
			if err != nil || !ok || rehash != tt.wantRehash {
				t.Errorf("Verify: got %v %v %v, want true %v nil", ok, rehash, err, tt.wantRehash)
			}
		})
	}
}

// TestVerifyOneHashPerAttempt: a password that NFKC changes costs one key derivation, on a
// real account as on the unknown path; it is checked in its NFKC form only, so a hash made
// elsewhere from the unnormalised form does not match.
func TestVerifyOneHashPerAttempt(t *testing.T) {
	h := newTestHasher(t)
	ctx := context.Background()
	const raw = "ﬁnal-Sunkar-7" // NFKC turns the ligature into "fi"
	if Normalize(raw) == raw {
		t.Fatal("test password is unchanged by NFKC")
	}
	imported := argon2Hash(t, "argon2id", raw, testParams, []byte("0123456789abcdef"))
	normal := argon2Hash(t, "argon2id", Normalize(raw), testParams, []byte("0123456789abcdef"))
	if ok, _, err := h.Verify(ctx, raw, normal); err != nil || !ok {
		t.Errorf("Verify against the hash of the NFKC form: got %v %v, want true nil", ok, err)
	}
	for _, pw := range []string{raw, "ﬁnal-Sunkar-8", "Tulpar-Sunkar-8"} {
		before := h.kdfRuns.Load()
		if ok, _, err := h.Verify(ctx, pw, imported); ok || err != nil {
			t.Fatalf("Verify(%q) against an unnormalised hash: got %v %v, want false nil", pw, ok, err)
		}
		if n := h.kdfRuns.Load() - before; n != 1 {
			t.Errorf("%q: Verify derived %d keys, want 1", pw, n)
		}
		before = h.kdfRuns.Load()
		_ = h.DummyVerify(ctx, pw)
		if n := h.kdfRuns.Load() - before; n != 1 {
			t.Errorf("%q: DummyVerify derived %d keys, want 1", pw, n)
		}
	}
}

func TestDummyVerifyWorksAtConfiguredCost(t *testing.T) {
	h := newTestHasher(t)
	before := h.Pool().Stats().Served
	if err := h.DummyVerify(context.Background(), "Tulpar-Sunkar-7"); err != nil {
		t.Fatal(err)
	}
	if got := h.Pool().Stats().Served - before; got != 1 {
		t.Errorf("pool runs: got %d, want 1", got)
	}
	if h.dummy.alg != algArgon2id || h.dummy.params != h.Params() || len(h.dummy.key) != KeyLen || len(h.dummy.salt) != SaltLen {
		t.Errorf("dummy hash: got %v %v key %d salt %d, want argon2id at %v", h.dummy.alg, h.dummy.params,
			len(h.dummy.key), len(h.dummy.salt), h.Params())
	}
}

func TestBusyPoolErrorsAlike(t *testing.T) {
	pool := NewPool(1, 0)
	h := NewHasher(testParams, pool)
	ctx := context.Background()
	encoded, err := h.Hash(ctx, "Tulpar-Sunkar-7")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	held := make(chan struct{})
	go func() { _ = pool.Do(ctx, func() { close(held); <-release }) }()
	<-held
	defer close(release)

	_, _, verifyErr := h.Verify(ctx, "Tulpar-Sunkar-7", encoded)
	dummyErr := h.DummyVerify(ctx, "Tulpar-Sunkar-7")
	_, hashErr := h.Hash(ctx, "Tulpar-Sunkar-7")
	for name, err := range map[string]error{"Verify": verifyErr, "DummyVerify": dummyErr, "Hash": hashErr} {
		if e, ok := kilt.AsError(err); !ok || e.Kind != kilt.KindUnavailable || e.Code != kilt.CodeBusy {
			t.Errorf("%s in a full pool: got %v, want busy", name, err)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := newTestHasher(t)
	good := argon2Hash(t, "argon2id", "x", testParams, []byte("0123456789abcdef"))
	parts := strings.Split(good, "$") // "", argon2id, v=19, params, salt, key
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("x"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, encoded, wantMessage string
	}{
		{name: "empty", encoded: ""},
		{name: "plain text", encoded: "Tulpar-Sunkar-7"},
		{name: "argon2d", encoded: with(1, "argon2d"), wantMessage: "argon2d is not supported"},
		{name: "scrypt", encoded: "$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaA"},
		{name: "missing version", encoded: "$argon2id$m=64,t=1,p=1$" + parts[4] + "$" + parts[5], wantMessage: "version"},
		{name: "version 16", encoded: with(2, "v=16")},
		{name: "missing key", encoded: strings.Join(parts[:5], "$")},
		{name: "extra field", encoded: good + "$x"},
		{name: "zero memory", encoded: with(3, "m=0,t=1,p=1")},
		{name: "zero time", encoded: with(3, "m=64,t=0,p=1")},
		{name: "zero threads", encoded: with(3, "m=64,t=1,p=0")},
		{name: "memory below 8 per thread", encoded: with(3, "m=64,t=1,p=9")},
		{name: "memory over the limit", encoded: with(3, "m=4194304,t=1,p=1")},
		{name: "threads over 255", encoded: with(3, "m=4096,t=1,p=256")},
		{name: "unknown parameter", encoded: with(3, "m=64,t=1,p=1,keyid=a")},
		{name: "repeated parameter", encoded: with(3, "m=64,m=64,t=1")},
		{name: "missing parameter", encoded: with(3, "m=64,t=1")},
		{name: "negative", encoded: with(3, "m=-64,t=1,p=1")},
		{name: "not a number", encoded: with(3, "m=64k,t=1,p=1")},
		{name: "salt not base64", encoded: with(4, "salt!!")},
		{name: "salt too short", encoded: with(4, "c2FsdA")},
		{name: "key not base64", encoded: with(5, "*")},
		{name: "empty key", encoded: with(5, "")},
		{name: "bcrypt 2x", encoded: "$2x$" + string(bc)[4:]},
		{name: "bcrypt truncated", encoded: string(bc)[:59]},
		{name: "bcrypt trailing", encoded: string(bc) + "x"},
		{name: "bcrypt cost too high", encoded: "$2a$31$" + string(bc)[7:]},
		{name: "bcrypt bad cost", encoded: "$2a$xx$" + string(bc)[7:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(context.Background(), "x", tt.encoded)
			if err == nil || ok || rehash {
				t.Fatalf("Verify: got %v %v %v, want an error", ok, rehash, err)
			}
			if got := kilt.ErrorKind(err); got != kilt.KindInternal {
				t.Errorf("kind: got %v, want internal", got)
			}
			if !strings.Contains(err.Error(), tt.wantMessage) {
				t.Errorf("error: got %q, want it to mention %q", err, tt.wantMessage)
			}
			if tt.encoded != "" && strings.Contains(err.Error(), tt.encoded) {
				t.Errorf("error %q contains the hash", err)
			}
			if CheckHash(tt.encoded) == nil {
				t.Errorf("CheckHash: got nil, want the error Verify gave")
			}
			var he *HashError
			if !errors.As(CheckHash(tt.encoded), &he) || he.Reason < HashUnsupported || he.Reason > HashBeyondLimits ||
				strings.Contains(he.Detail, "password hash") {
				t.Errorf("CheckHash: %v holds no *HashError with a reason and a bare detail", CheckHash(tt.encoded))
			}
		})
	}
	if err := CheckHash(good); err != nil {
		t.Errorf("CheckHash(good): got %v, want nil", err)
	}
	for encoded, want := range map[string]HashReason{
		"$argon2d$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s": HashUnsupported,
		"$2a$xx$" + string(bc)[7:]: HashMalformed,
		"$2a$31$" + string(bc)[7:]: HashBeyondLimits,
	} {
		var he *HashError
		if err := CheckHash(encoded); !errors.As(err, &he) || he.Reason != want {
			t.Errorf("CheckHash: got %v, want reason %v", err, want)
		}
	}
	if got := h.kdfRuns.Load(); got != 0 {
		t.Errorf("key derivations for malformed hashes: got %d, want 0", got)
	}
}

func TestVerifyContextEnded(t *testing.T) {
	h := newTestHasher(t)
	encoded, err := h.Hash(context.Background(), "Tulpar-Sunkar-7")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := h.Verify(ctx, "Tulpar-Sunkar-7", encoded); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify: got %v, want context.Canceled", err)
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name    string
		params  Params
		wantErr bool
	}{
		{name: "default", params: DefaultParams()},
		{name: "cheap", params: testParams},
		{name: "no threads", params: Params{Memory: 64, Time: 1}, wantErr: true},
		{name: "no time", params: Params{Memory: 64, Threads: 1}, wantErr: true},
		{name: "too little memory", params: Params{Memory: 15, Time: 1, Threads: 2}, wantErr: true},
		{name: "too much memory", params: Params{Memory: maxMemory + 1, Time: 1, Threads: 1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.params.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate: got %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// TestDefaultParams runs one hash at the default cost.
func TestDefaultParams(t *testing.T) {
	if got, want := DefaultParams(), (Params{Memory: 19456, Time: 2, Threads: 1}); got != want {
		t.Fatalf("DefaultParams: got %v, want %v", got, want)
	}
	h := NewHasher(DefaultParams(), NewPool(1, time.Minute))
	encoded, err := h.Hash(context.Background(), "Tulpar-Sunkar-7")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("Hash: got %q, want the default cost", encoded)
	}
	ok, rehash, err := h.Verify(context.Background(), "Tulpar-Sunkar-7", encoded)
	if err != nil || !ok || rehash {
		t.Errorf("Verify: got %v %v %v, want true false nil", ok, rehash, err)
	}
}

func BenchmarkHashDefault(b *testing.B) {
	h := NewHasher(DefaultParams(), NewPool(0, time.Minute))
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Hash(ctx, "Tulpar-Sunkar-7"); err != nil {
				b.Error(err)
			}
		}
	})
}

// TestHasherKeepsMemories: the Hasher keeps one Argon2 working memory per pool slot for its
// whole life — Reserve allocates them at the configured cost, hashes run in them, and
// collections in between take none away (a sync.Pool lost them after two collections, and
// the next hash allocated its memory again).
func TestHasherKeepsMemories(t *testing.T) {
	p := Params{Memory: 1024, Time: 1, Threads: 1}
	h := NewHasher(p, NewPool(3, time.Minute))
	if got := h.Reserve(); got != 3*1024 {
		t.Fatalf("Reserve: %d KiB kept, want 3 × 1024", got)
	}
	kept := map[*argon2m.Memory]bool{}
	for range 3 {
		m := <-h.memories
		kept[m] = true
		h.memories <- m
	}
	ctx := context.Background()
	for round := range 3 {
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				if _, err := h.Hash(ctx, fmt.Sprintf("Kokpar-%d-%d!", round, i)); err != nil {
					t.Errorf("Hash: %v", err)
				}
			})
		}
		wg.Wait()
		runtime.GC()
		runtime.GC()
		runtime.GC()
	}
	if len(h.memories) != 3 {
		t.Fatalf("%d memories kept after the hashes, want 3", len(h.memories))
	}
	for range 3 {
		m := <-h.memories
		if !kept[m] || m.Size() != 1024 {
			t.Errorf("a memory of %d KiB, kept from the start: %v; want the reserved ones of 1024 KiB", m.Size(), kept[m])
		}
	}
}

// TestHasherReleaseIdle: the kept memories are released once no hash has ended for the idle
// time — not before any hash, not twice without a hash in between — and hashing goes on in
// them afterwards.
func TestHasherReleaseIdle(t *testing.T) {
	p := Params{Memory: 2048, Time: 1, Threads: 1}
	h := NewHasher(p, NewPool(2, time.Minute))
	h.Reserve()
	if got := h.ReleaseIdle(0); got != 0 {
		t.Errorf("ReleaseIdle before any hash released %d KiB, want 0", got)
	}
	ctx := context.Background()
	encoded, err := h.Hash(ctx, "Saryarka-Kokpar-39!")
	if err != nil {
		t.Fatal(err)
	}
	if got := h.ReleaseIdle(time.Hour); got != 0 {
		t.Errorf("ReleaseIdle(1h) right after a hash released %d KiB, want 0", got)
	}
	if got := h.ReleaseIdle(0); got != 2*2048 {
		t.Errorf("ReleaseIdle(0) after a hash released %d KiB, want 2 × 2048", got)
	}
	if got := h.ReleaseIdle(0); got != 0 {
		t.Errorf("ReleaseIdle(0) again with no hash since released %d KiB, want 0", got)
	}
	if ok, _, err := h.Verify(ctx, "Saryarka-Kokpar-39!", encoded); err != nil || !ok {
		t.Fatalf("Verify after the release: %v, %v", ok, err)
	}
	if got := h.ReleaseIdle(0); got != 2*2048 {
		t.Errorf("ReleaseIdle(0) after a verification released %d KiB, want 2 × 2048", got)
	}
	if kib := h.KeptMemory(); kib != 2*2048 {
		t.Errorf("%d KiB kept after the releases, want 2 × 2048", kib)
	}
}
