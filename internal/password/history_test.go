package password

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"

	"kilt"
)

var testPepper = []byte("0123456789abcdef0123456789abcdef")

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// historyOf returns the history of an account whose passwords were pws, in order (so the
// last is current and comes first), kept as the policy keeps it.
func historyOf(t *testing.T, h *Hasher, pws ...string) []HistoryEntry {
	t.Helper()
	var history []HistoryEntry
	for _, pw := range pws {
		history = setPassword(t, h, history, pw)
	}
	return history
}

// setPassword does what a password change does with the history.
func setPassword(t *testing.T, h *Hasher, history []HistoryEntry, pw string) []HistoryEntry {
	t.Helper()
	e, err := h.NewHistoryEntry(context.Background(), testPepper, pw, history, testNow)
	if err != nil {
		t.Fatalf("NewHistoryEntry: %v", err)
	}
	return DefaultPolicy().AddHistory(history, e)
}

// legacyHistoryOf is historyOf in the format written before history keys (migration 0050):
// each entry with a skeleton hash under a salt of its own.
func legacyHistoryOf(t *testing.T, h *Hasher, pws ...string) []HistoryEntry {
	t.Helper()
	ctx := context.Background()
	var history []HistoryEntry
	for _, pw := range pws {
		hash, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatalf("Hash: %v", err)
		}
		skeletonHash, err := h.hashBytes(ctx, skeletonSecret(testPepper, Skeleton(pw)))
		if err != nil {
			t.Fatalf("hashBytes: %v", err)
		}
		history = DefaultPolicy().AddHistory(history, HistoryEntry{PasswordHash: hash, SkeletonHash: skeletonHash, CreatedAt: testNow})
	}
	return history
}

// formats are the ways the entry of one password can be kept: keyed, and legacy.
var formats = []struct {
	name string
	of   func(t *testing.T, h *Hasher, pws ...string) []HistoryEntry
}{{"keyed", historyOf}, {"legacy", legacyHistoryOf}}

func TestSkeleton(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Astana2024!", "astana"},
		{"Astana2023!", "astana"},
		{"pASSword1!", "password"},
		{"Password7?", "password"},
		{"Сәлем 123!", "сәлем"},
		{"ҚАЗАҚ-stan", "қазақstan"},
		{"Ｔｕｌｐａｒ７", "tulpar"},
		{"ﬁre", "fire"},
		{"Мои\u0306", "мой"},
		{"12345!", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Skeleton(tt.in); got != tt.want {
				t.Errorf("Skeleton(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSimilar(t *testing.T) {
	h := newTestHasher(t)
	ctx := context.Background()
	tests := []struct {
		name, old, new string
		want           bool
	}{
		{name: "same", old: "Tulpar-Sunkar-7", new: "Tulpar-Sunkar-7", want: true},
		{name: "year changed", old: "Astana2023!", new: "Astana2024!", want: true},
		{name: "case, digit and symbol changed", old: "Password7?", new: "pASSword1!", want: true},
		{name: "Kazakh, case and digits changed", old: "Сәлем2023!", new: "СӘЛЕМ-2024", want: true},
		{name: "same after NFKC", old: "Ｔulpar-Sunkar-7", new: "Tulpar-Sunkar-7", want: true},
		{name: "words swapped", old: "Tulpar-Sunkar-7", new: "Sunkar-Tulpar-7", want: false},
		{name: "short skeleton, same", old: "Ab1!2345", new: "Ab1!2345", want: true},
		{name: "short skeleton, digit changed", old: "Ab1!2345", new: "Ab1!2346", want: false},
		{name: "short skeleton, case changed", old: "Ab1!2345", new: "AB1!2345", want: false},
		{name: "four letters, digits and case changed", old: "Abcd1!23", new: "aBCD9?87", want: true},
		{name: "four letters after three", old: "Abc1!234", new: "Abcd1!23", want: false},
		{name: "three letters after four", old: "Abcd1!23", new: "Abc1!234", want: false},
		{name: "no letters at all, same", old: "12345678!", new: "12345678!", want: true},
		{name: "no letters at all, changed", old: "12345678!", new: "12345679!", want: false},
	}
	// Each case with the old password kept in either format, alone and among unrelated
	// entries of the other format (a history part migrated).
	for _, tt := range tests {
		for _, old := range formats {
			for _, other := range formats {
				t.Run(tt.name+"/"+old.name+" among "+other.name, func(t *testing.T) {
					history := append(other.of(t, h, "Kokzhal-1a", "Berkut-2b"), old.of(t, h, tt.old)...)
					history = append(history, other.of(t, h, "Zhuldyz-3c")...)
					got, err := h.Similar(ctx, testPepper, tt.new, history)
					if err != nil {
						t.Fatalf("Similar: %v", err)
					}
					if got != tt.want {
						t.Errorf("Similar(%q after %q): got %v, want %v", tt.new, tt.old, got, tt.want)
					}
				})
			}
		}
	}
}

func TestSimilarNeedsThePepper(t *testing.T) {
	h := newTestHasher(t)
	ctx := context.Background()
	history := historyOf(t, h, "Astana2023!")
	got, err := h.Similar(ctx, []byte("another secret"), "Astana2024!", history)
	if err != nil || got {
		t.Errorf("Similar with another pepper: got %v %v, want false nil", got, err)
	}
	if _, err := h.Similar(ctx, nil, "Astana2024!", history); kilt.ErrorKind(err) != kilt.KindInternal {
		t.Errorf("Similar without a pepper: got %v, want an internal error", err)
	}
	if _, err := h.NewHistoryEntry(ctx, nil, "Astana2024!", nil, testNow); err == nil {
		t.Error("NewHistoryEntry without a pepper: got nil, want an error")
	}
}

func TestNewHistoryEntry(t *testing.T) {
	h := newTestHasher(t)
	ctx := context.Background()
	for _, pw := range []string{"Astana2023!", "Ab1!2345"} {
		before := h.kdfRuns.Load()
		e, err := h.NewHistoryEntry(ctx, testPepper, pw, nil, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.kdfRuns.Load() - before; got != 2 {
			t.Errorf("%q: key derivations: got %d, want 2 (the account hash and the key)", pw, got)
		}
		if ok, _, err := h.Verify(ctx, pw, e.PasswordHash); err != nil || !ok || !e.CreatedAt.Equal(testNow) {
			t.Errorf("%q: got %+v (%v %v), want the account hash of pw and the given time", pw, e, ok, err)
		}
		// Made even for a short skeleton, so its absence tells nothing.
		ph, err := parseHash(e.Key)
		if err != nil || ph.alg != algArgon2id || ph.params != h.Params() || len(ph.salt) != SaltLen {
			t.Errorf("%q: Key %q: want an argon2id hash at %v (%v)", pw, e.Key, h.Params(), err)
		}
		if ok, err := h.verifyBytes(ctx, historySecret(testPepper, pw), e.Key); err != nil || !ok {
			t.Errorf("%q: Key does not verify the history secret: %v %v", pw, ok, err)
		}
		if e.SkeletonHash != "" {
			t.Errorf("%q: SkeletonHash %q, want none in a keyed entry", pw, e.SkeletonHash)
		}
	}
}

// TestHistorySaltIsTheAccounts: every keyed entry of an account is made under the salt of
// its newest keyed entry, legacy entries or not; a first key gets a fresh one.
func TestHistorySaltIsTheAccounts(t *testing.T) {
	h := newTestHasher(t)
	salt := func(e HistoryEntry) string {
		t.Helper()
		ph, err := parseHash(e.Key)
		if err != nil {
			t.Fatalf("Key %q: %v", e.Key, err)
		}
		return string(ph.salt)
	}
	mixed := historyOf(t, h, "Kokzhal-1a")
	mixed = append(legacyHistoryOf(t, h, "Berkut-2b"), mixed...)
	for _, pw := range []string{"Zhuldyz-3c", "Bayterek-4d"} {
		mixed = setPassword(t, h, mixed, pw)
	}
	want := salt(mixed[len(mixed)-1])
	for i, e := range mixed {
		if e.Key != "" && salt(e) != want {
			t.Errorf("entry %d: another salt than the account's first key", i)
		}
	}
	if other := historyOf(t, h, "Kokzhal-1a"); salt(other[0]) == want {
		t.Error("two accounts share a history salt")
	}
}

func TestSimilarImportedEntry(t *testing.T) {
	h := newTestHasher(t)
	ctx := context.Background()
	bc, err := bcrypt.GenerateFromPassword([]byte("Astana2023!"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	// An imported account's current password: its hash, but no skeleton was ever seen.
	history := []HistoryEntry{{PasswordHash: string(bc)}}
	for pw, want := range map[string]bool{"Astana2023!": true, "Astana2024!": false} {
		got, err := h.Similar(ctx, testPepper, pw, history)
		if err != nil || got != want {
			t.Errorf("Similar(%q): got %v %v, want %v nil", pw, got, err, want)
		}
	}
}

func TestSimilarErrors(t *testing.T) {
	h := newTestHasher(t)
	ctx := context.Background()
	bad := HistoryEntry{PasswordHash: "not a hash"}
	good := historyOf(t, h, "Ab1!2345")
	if got, err := h.Similar(ctx, testPepper, "Ab1!2345", append([]HistoryEntry{bad}, good...)); err != nil || !got {
		t.Errorf("a match beside a malformed entry: got %v %v, want true nil", got, err)
	}
	if got, err := h.Similar(ctx, testPepper, "Ab1!9999", append([]HistoryEntry{bad}, good...)); err == nil || got {
		t.Errorf("no match beside a malformed entry: got %v %v, want false and an error", got, err)
	}
	if got, err := h.Similar(ctx, testPepper, "Ab1!2345", nil); err != nil || got {
		t.Errorf("empty history: got %v %v, want false nil", got, err)
	}
}

// TestSimilarRunsInParallel: all the verifications are asked of the pool at once, so a reset
// waits for the slowest of them rather than for their sum.
func TestSimilarRunsInParallel(t *testing.T) {
	h := newTestHasher(t)
	ctx := context.Background()
	// Legacy entries, one computation each (a keyed history is one computation in all).
	history := legacyHistoryOf(t, h, "Kokzhal-1a", "Berkut-2b", "Zhuldyz-3c", "Bayterek-4d", "Altyn-5e", "Dombyra-6f")
	if len(history) != 6 {
		t.Fatalf("history: got %d entries, want 6", len(history))
	}
	pool := NewPool(1, time.Minute)
	hp := NewHasher(testParams, pool)
	release := make(chan struct{})
	held := make(chan struct{})
	go func() { _ = pool.Do(ctx, func() { close(held); <-release }) }()
	<-held

	type result struct {
		similar bool
		err     error
	}
	done := make(chan result)
	go func() {
		similar, err := hp.Similar(ctx, testPepper, "Tulpar-Sunkar-7", history)
		done <- result{similar, err}
	}()
	waitFor(t, "six verifications waiting at once", func() bool { return pool.Stats().Waiting == 6 })
	close(release)
	if r := <-done; r.err != nil || r.similar {
		t.Errorf("Similar: got %v %v, want false nil", r.similar, r.err)
	}
}

// TestHistorySequence follows one account through registration and six changes with real
// hashes: the first password, and anything similar to it, is refused while it is among the
// last six, and allowed again once six newer ones have pushed it out.
func TestHistorySequence(t *testing.T) {
	h := newTestHasher(t)
	ctx := context.Background()
	p := DefaultPolicy()
	passwords := []string{
		"Tulpar-Sunkar-7",  // at registration
		"Kokzhal-Berkut-3", // change 1
		"Zhuldyz-Aspan-5",  // change 2
		"Bayterek-Orman-8", // change 3
		"Altyn-Kyran-2!",   // change 4
		"Dombyra-Kuy-4!",   // change 5
		"Saryarka-Dala-6",  // change 6
	}
	validate := func(history []HistoryEntry, pw string) error {
		t.Helper()
		return p.Validate(ctx, h, testPepper, pw, pw, Subject{Email: "a.user@mail.kz", History: history})
	}
	const similarToFirst = "TULPAR_sunkar#9"

	var history []HistoryEntry
	for i, pw := range passwords {
		if err := validate(history, pw); err != nil {
			t.Fatalf("step %d: Validate(%q): got %v, want nil", i, pw, err)
		}
		history = setPassword(t, h, history, pw)
		if want := min(i+1, 6); len(history) != want {
			t.Fatalf("step %d: history has %d entries, want %d", i, len(history), want)
		}
		if i < 6 {
			// The first password is among the last six (the current one included).
			for _, again := range []string{passwords[0], similarToFirst} {
				if got := kilt.ErrorCode(validate(history, again)); got != string(Reused) {
					t.Errorf("step %d: Validate(%q): got %q, want %q", i, again, got, Reused)
				}
			}
		}
	}
	// Six changes later the first password has left the history.
	for _, again := range []string{passwords[0], similarToFirst} {
		if err := validate(history, again); err != nil {
			t.Errorf("after six changes: Validate(%q): got %v, want nil", again, err)
		}
	}
	// The second is still there, and so are its look-alikes.
	err := validate(history, "kokzhal:BERKUT:1")
	e, _ := kilt.AsError(err)
	if e == nil || e.Kind != kilt.KindRule || e.Code != string(Reused) {
		t.Fatalf("Validate of a look-alike of the second password: got %v, want rule %q", err, Reused)
	}
	if diff := cmp.Diff([]string{string(Reused)}, e.Details["violations"]); diff != "" {
		t.Errorf("details.violations (-want +got):\n%s", diff)
	}
	// Only the policy's last six are considered, even if the caller keeps more.
	longer := append(append([]HistoryEntry{}, history...), historyOf(t, h, passwords[0])...)
	if err := validate(longer, passwords[0]); err != nil {
		t.Errorf("an entry beyond the sixth: got %v, want nil", err)
	}
}

// TestNewPasswordCost counts the computations of setting a password over a full history:
// two over keyed entries, whatever the password and whether it is refused; one more per
// legacy entry while the history holds them, and one more per other cost the keys were
// made at (after the operator changes it), until newer passwords push them out.
func TestNewPasswordCost(t *testing.T) {
	h := newTestHasher(t)
	ctx := context.Background()
	pws := []string{"Kokzhal-1a", "Berkut-2b", "Zhuldyz-3c", "Bayterek-4d", "Altyn-5e", "Dombyra-6f"}
	cheaper := NewHasher(Params{Memory: 32, Time: 1, Threads: 1}, nil)
	tests := []struct {
		name    string
		history []HistoryEntry
		want    uint64
	}{
		{"no history", nil, 2},
		{"keyed", historyOf(t, h, pws...), 2},
		{"legacy", legacyHistoryOf(t, h, pws...), 6 + 2},
		{"half legacy", append(historyOf(t, h, pws[3:]...), legacyHistoryOf(t, h, pws[:3]...)...), 3 + 2},
		{"keys of an earlier cost", append(historyOf(t, h, pws[3:]...), historyOf(t, cheaper, pws[:3]...)...), 3},
	}
	p := DefaultPolicy()
	for _, tt := range tests {
		for _, pw := range []string{"Tulpar-Sunkar-7", "KOKZHAL_9z", "Ab1!2345"} {
			t.Run(tt.name+"/"+pw, func(t *testing.T) {
				idle := func() bool { s := h.pool.Stats(); return s.Busy == 0 && s.Waiting == 0 }
				waitFor(t, "the pool to be idle", idle) // a check cancelled by a match may still run
				before := h.kdfRuns.Load()
				e, err := p.NewPassword(ctx, h, testPepper, pw, pw, Subject{History: tt.history}, testNow)
				waitFor(t, "the pool to be idle", idle)
				if got := h.kdfRuns.Load() - before; got != tt.want {
					t.Errorf("computations: got %d, want %d", got, tt.want)
				}
				if err != nil {
					return
				}
				// The entry's key is the one the check computed: the account's salt, and
				// a later check of the same password finds it.
				if similar, err := h.Similar(ctx, testPepper, pw, p.AddHistory(tt.history, e)); err != nil || !similar {
					t.Errorf("Similar after NewPassword: got %v %v, want true nil", similar, err)
				}
			})
		}
	}
}

// TestNewPasswordRefuses: NewPassword refuses what Validate refuses, with the same error,
// and returns no entry then.
func TestNewPasswordRefuses(t *testing.T) {
	h := newTestHasher(t)
	ctx := context.Background()
	p := DefaultPolicy()
	history := append(historyOf(t, h, "Tulpar-Sunkar-7"), legacyHistoryOf(t, h, "Kokzhal-Berkut-3")...)
	for _, pw := range []string{"TULPAR_sunkar#9", "kokzhal:BERKUT:1", "short", "Zhuldyz-Aspan-5"} {
		s := Subject{Email: "a.user@mail.kz", History: history}
		want := p.Validate(ctx, h, testPepper, pw, pw, s)
		e, err := p.NewPassword(ctx, h, testPepper, pw, pw, s, testNow)
		if kilt.ErrorCode(err) != kilt.ErrorCode(want) {
			t.Errorf("NewPassword(%q): got %v, want %v", pw, err, want)
		}
		if (err != nil) != (e.PasswordHash == "") || (err != nil) != (e.Key == "") {
			t.Errorf("NewPassword(%q): entry %+v with error %v", pw, e, err)
		}
	}
	for _, pw := range []string{"TULPAR_sunkar#9", "kokzhal:BERKUT:1"} {
		if _, err := p.NewPassword(ctx, h, testPepper, pw, pw, Subject{History: history}, testNow); kilt.ErrorCode(err) != string(Reused) {
			t.Errorf("NewPassword(%q), a look-alike: got %v, want %q", pw, err, Reused)
		}
	}
}
