package password_test

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"kilt/internal/password"
)

// The fuzz targets of this file run their seeds (f.Add and testdata/fuzz/<name>/) with every
// `go test`; `make fuzz` runs them for a bounded time. None of them hashes: Argon2id is the
// Hasher's business and far too slow to fuzz.

// violationOrder is every password.Violation, in the order Check reports them.
var violationOrder = []password.Violation{password.Invalid, password.TooShort, password.TooLong, password.NoUpper, password.NoLower, password.NoDigit, password.NoSpecial,
	password.Common, password.ContainsIdentifier, password.Mismatch, password.Reused}

// fuzzPasswords are the seeds shared by the targets of this file: real passwords of the
// portal's users (Kazakh, Russian, leetspeak, other keyboard layouts) and hostile input.
var fuzzPasswords = []string{
	"Tulpar-Sunkar-77",
	"Құпия-Сөз-2024!",
	"Пароль2024!",
	"gfhjkm123A!",
	"йцукен123Q!",
	"P@ssw0rd",
	"Astana2024!",
	"Kilt2026!x",
	"Ｐａｓｓｗｏｒｄ１！",
	"ﬁre-Ｔｕｌｐａｒ-7",
	"Мои\u0306-Tulpar-7",
	"🔑Кілт🔑2024a",
	"Aa1!\x00nul",
	"Pass\r\nword1!",
	"\xff\xfeAa1!",
	"\u200bAa1!zero-width",
	"\ufdfa",
	strings.Repeat("Ab1!", 32) + "x",
	strings.Repeat("ә", 129),
	"",
}

func FuzzPolicyCheck(f *testing.F) {
	for _, pw := range fuzzPasswords {
		f.Add(pw, pw, "tulpar.rider+kilt@mail.kz", "+77011234567")
	}
	f.Add("Tulpar-7011234567!", "Tulpar-7011234567!", "", "+77011234567")
	f.Add("Сұңқар-Rider-7", "Сұңқар-Rider-7", "сұңқар@mail.kz", "")
	f.Add("Tulpar-Sunkar-77", "Tulpar-Sunkar-78", "", "")
	f.Add("Ｔulpar-Sunkar-7", "Tulpar-Sunkar-7", "", "")
	defaults := password.DefaultPolicy()
	policies := []password.Policy{
		defaults,
		// Small bounds make the length rules and the skipped checks reachable by short input.
		{MinLength: 4, MaxLength: 16, Blocklist: defaults.Blocklist, ContextWords: defaults.ContextWords},
	}
	f.Fuzz(func(t *testing.T, pw, confirm, email, phone string) {
		s := password.Subject{Email: email, Phone: phone}
		for _, p := range policies {
			got := p.Check(pw, confirm, s)
			if again := p.Check(pw, confirm, s); !slices.Equal(got, again) {
				t.Fatalf("Check(%q, %q) not deterministic: got %v, then %v", pw, confirm, got, again)
			}
			checkViolations(t, p, pw, confirm, got)
			if self := p.Check(pw, pw, s); slices.Contains(self, password.Mismatch) {
				t.Errorf("Check(%q, the same): got %v, want no %s", pw, self, password.Mismatch)
			}
		}
	})
}

// checkViolations asserts that v is what p.Check(pw, confirm, …) must return for the rules
// that do not depend on the lists: known codes in order, each class and length rule exactly
// when it is broken, and no list lookup for a password over the maximum.
func checkViolations(t *testing.T, p password.Policy, pw, confirm string, v []password.Violation) {
	t.Helper()
	last := -1
	for _, c := range v {
		i := slices.Index(violationOrder, c)
		switch {
		case i < 0:
			t.Fatalf("Check(%q): unknown violation %q in %v", pw, c, v)
		case i <= last:
			t.Fatalf("Check(%q): %v is out of order or repeats a code", pw, v)
		case c == password.Reused:
			t.Fatalf("Check(%q): got %s, which only Validate may report", pw, c)
		}
		last = i
	}
	// Lengths are counted on the NFKC form: 100 times "e\u0301" is typed as 200
	// code points and counted as 100, while one U+FDFA counts as 18.
	normal := password.Normalize(pw)
	n := utf8.RuneCountInString(normal)
	want := map[password.Violation]bool{
		password.Invalid:   !utf8.ValidString(pw) || strings.ContainsFunc(pw, unicode.IsControl),
		password.TooShort:  n < p.MinLength,
		password.TooLong:   n > p.MaxLength,
		password.NoUpper:   !strings.ContainsFunc(normal, func(r rune) bool { return 'A' <= r && r <= 'Z' }),
		password.NoLower:   !strings.ContainsFunc(normal, func(r rune) bool { return 'a' <= r && r <= 'z' }),
		password.NoDigit:   !strings.ContainsFunc(normal, func(r rune) bool { return '0' <= r && r <= '9' }),
		password.NoSpecial: !strings.ContainsFunc(normal, func(r rune) bool { return !isASCIIAlnum(r) }),
		password.Mismatch:  normal != password.Normalize(confirm),
	}
	for c, broken := range want {
		if got := slices.Contains(v, c); got != broken {
			t.Errorf("Check(%q, %q) with %d code points: %s reported %v, want %v (all: %v)",
				pw, confirm, n, c, got, broken, v)
		}
	}
	if n > p.MaxLength && (slices.Contains(v, password.Common) || slices.Contains(v, password.ContainsIdentifier)) {
		t.Errorf("Check(%q) over the maximum: got %v, want no list lookups", pw, v)
	}
	if n <= p.MaxLength && p.Blocklist.Contains(pw) && !slices.Contains(v, password.Common) {
		t.Errorf("Check(%q): the blocklist contains it, got %v, want %s", pw, v, password.Common)
	}
}

func isASCIIAlnum(r rune) bool {
	return 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9'
}

// swapASCIICase turns A–Z into a–z and back, leaving every other byte alone.
func swapASCIICase(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

func FuzzSkeleton(f *testing.F) {
	for _, pw := range fuzzPasswords {
		f.Add(pw)
	}
	f.Fuzz(func(t *testing.T, pw string) {
		s := password.Skeleton(pw)
		if !utf8.ValidString(s) {
			t.Fatalf("Skeleton(%q): got %q, want valid UTF-8", pw, s)
		}
		if i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) }); i >= 0 {
			t.Errorf("Skeleton(%q): got %q, want letters only", pw, s)
		}
		if lower := strings.ToLower(s); lower != s {
			t.Errorf("Skeleton(%q): got %q, want it lower-cased (%q)", pw, s, lower)
		}
		if !utf8.ValidString(pw) {
			// Check refuses such a password (password_invalid) before any history work, and
			// NFKC is not defined on it: x/text leaves "\xf7ͺ" as it is, though it turns "ͺ"
			// into " ͅ".
			return
		}
		normal := password.Normalize(pw)
		if again := password.Normalize(normal); again != normal {
			t.Errorf("Normalize not idempotent on %q: %q, then %q", pw, normal, again)
		}
		if again := password.Skeleton(s); again != s {
			t.Errorf("Skeleton not idempotent on %q: %q, then %q", pw, s, again)
		}
		if got := password.Skeleton(normal); got != s {
			t.Errorf("Skeleton(Normalize(%q)): got %q, want %q as for the raw password", pw, got, s)
		}
		if got := password.Skeleton(swapASCIICase(pw)); got != s {
			t.Errorf("Skeleton of %q with Latin case swapped: got %q, want %q", pw, got, s)
		}
		// What people append to reuse a password (Astana2024! after Astana2023!)
		// leaves the skeleton as it is.
		if got := password.Skeleton(pw + "2024!"); got != s {
			t.Errorf("Skeleton(%q + \"2024!\"): got %q, want %q", pw, got, s)
		}
	})
}

func FuzzBlocklist(f *testing.F) {
	for _, pw := range fuzzPasswords {
		f.Add(pw, "tulpar")
	}
	f.Add("Password1!", "password")
	f.Add("gfhjkm2024!", "пароль")
	f.Add("Сұңқар2024!", "сұңқар")
	f.Add("  spaced  ", "#comment")
	list := password.DefaultBlocklist()
	var none *password.Blocklist
	f.Fuzz(func(t *testing.T, pw, word string) {
		got := list.Contains(pw)
		if again := list.Contains(pw); again != got {
			t.Fatalf("Contains(%q) not deterministic: got %v, then %v", pw, got, again)
		}
		if n := list.Contains(password.Normalize(pw)); n != got {
			t.Errorf("Contains(%q): got %v, but %v for its NFKC form", pw, got, n)
		}
		if s := list.Contains(swapASCIICase(pw)); s != got {
			t.Errorf("Contains(%q): got %v, but %v with Latin case swapped", pw, got, s)
		}
		if none.Contains(pw) || password.NewBlocklist().Contains(pw) {
			t.Errorf("an empty blocklist contains %q", pw)
		}
		own := password.NewBlocklist(word)
		if key := strings.ToLower(password.Normalize(word)); key != "" && !own.Contains(word) {
			t.Errorf("NewBlocklist(%q).Contains(itself): got false, want true", word)
		}
		if line := strings.TrimSpace(word); line != "" && !strings.HasPrefix(line, "#") && !strings.Contains(word, "\n") {
			if !password.ParseBlocklist(word).Contains(line) {
				t.Errorf("ParseBlocklist(%q).Contains(%q): got false, want true", word, line)
			}
		}
		if once, twice := own.Len(), password.NewBlocklist(word, word).Len(); once != twice {
			t.Errorf("NewBlocklist(%q) twice: got %d entries, want %d as with it once", word, twice, once)
		}
	})
}
