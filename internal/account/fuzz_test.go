package account_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"kilt"
	"kilt/internal/account"
)

// The fuzz targets of this file run their seeds (f.Add and testdata/fuzz/<name>/) with every
// `go test`; `make fuzz` runs them for a bounded time.

var fuzzEmails = []string{
	"  Aigerim.N@Mail.KZ ",
	"асель@почта.қз",
	"Әсел.Нұрлан@Mail.KZ",
	"user+tag@example.com",
	"user@example.kz\r\nBcc: x@evil.kz",
	"user@exa\x00mple.kz",
	"\xff@example.kz",
	"a@b@c.kz",
	"😀@mail.kz",
	"user@ⱥ.kz",
	"user@-bad-.kz",
	"\"quoted\"@example.kz",
	"a***@mail.kz",
	strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + ".kz",
	"",
}

func FuzzParseEmail(f *testing.F) {
	for _, s := range fuzzEmails {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := account.ParseEmail(s)
		if err != nil {
			if got != "" || kilt.ErrorKind(err) != kilt.KindInvalid || kilt.ErrorCode(err) != account.CodeInvalidEmail {
				t.Fatalf("ParseEmail(%q) = %q, %v; want \"\" and kind invalid, code %s", s, got, err, account.CodeInvalidEmail)
			}
			checkMask(t, s)
			return
		}
		trimmed := strings.TrimSpace(s)
		at := strings.LastIndexByte(trimmed, '@')
		if want := trimmed[:at] + "@" + strings.ToLower(trimmed[at+1:]); got != want {
			t.Errorf("ParseEmail(%q): got %q, want %q: trimmed, only the domain lower-cased", s, got, want)
		}
		if strings.Count(got, "@") != 1 || !utf8.ValidString(got) {
			t.Errorf("ParseEmail(%q): got %q, want valid UTF-8 with one @", s, got)
		}
		if i := strings.IndexFunc(got, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
			t.Errorf("ParseEmail(%q): got %q, which holds a space or control character at %d", s, got, i)
		}
		if again, err := account.ParseEmail(got); again != got || err != nil {
			t.Errorf("ParseEmail(%q) = %q, but ParseEmail(%q) = %q, %v; want a fixed point", s, got, got, again, err)
		}
		id := account.Identifier{Kind: account.Email, Value: got}
		if key := id.Key(); key != strings.ToLower(got) {
			t.Errorf("Key of %q: got %q, want it lower-cased", got, key)
		}
		checkMask(t, got)
	})
}

// checkMask asserts that account.MaskEmail(s) shows at most the first rune of the local part.
func checkMask(t *testing.T, s string) {
	t.Helper()
	masked := account.MaskEmail(s)
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		if masked != "***" {
			t.Errorf("MaskEmail(%q): got %q, want ***", s, masked)
		}
		return
	}
	first, _ := utf8.DecodeRuneInString(s)
	if want := string(first) + "***" + s[at:]; masked != want {
		t.Errorf("MaskEmail(%q): got %q, want %q", s, masked, want)
	}
}

var fuzzPhones = []struct{ s, region string }{
	{"+7 (701) 123-45-67", "KZ"},
	{"8 701 123 45 67", "KZ"},
	{"87011234567", "KZ"},
	{"7011234567", "KZ"},
	{"+77011234567\n", "kz"},
	{"8 (727) 250 00 00", ""},
	{"+7 701 123 45 67 ext 5", "KZ"},
	{"+1 202-555-0143", "US"},
	{"202.555.0143", "US"},
	{"+44 20 7946 0958", "GB"},
	{"+7 701 123", "KZ"},
	{"++77011234567", "KZ"},
	{"((((8))))7011234567", "KZ"},
	{"８７０１１２３４５６７", "KZ"},
	{"+7701123456789012345678901234567", "KZ"},
	{"87011234567", "ZZ"},
	{"87011234567", "001"},
	{"\x00+77011234567", "KZ"},
	{"", ""},
}

func FuzzParsePhone(f *testing.F) {
	for _, p := range fuzzPhones {
		f.Add(p.s, p.region)
	}
	f.Fuzz(func(t *testing.T, s, region string) {
		got, err := account.ParsePhone(s, region)
		if again, err2 := account.ParsePhone(s, region); again != got || (err == nil) != (err2 == nil) {
			t.Fatalf("ParsePhone(%q, %q) not deterministic: %q, %v, then %q, %v", s, region, got, err, again, err2)
		}
		if padded, _ := account.ParsePhone(" "+s+"\t", region); padded != got {
			t.Errorf("ParsePhone(%q, %q) = %q, but %q with spaces around", s, region, got, padded)
		}
		if err != nil {
			if got != "" || kilt.ErrorKind(err) != kilt.KindInvalid || kilt.ErrorCode(err) != account.CodeInvalidPhone {
				t.Fatalf("ParsePhone(%q, %q) = %q, %v; want \"\" and kind invalid, code %s", s, region, got, err, account.CodeInvalidPhone)
			}
			return
		}
		checkE164(t, got)
		for _, r := range []string{region, "KZ", "US", ""} {
			if again, err := account.ParsePhone(got, r); again != got || err != nil {
				t.Errorf("ParsePhone(%q, %q) = %q, but ParsePhone(%q, %q) = %q, %v; want a fixed point in any region",
					s, region, got, got, r, again, err)
			}
		}
		masked := account.MaskPhone(got)
		if want := got[:2] + strings.Repeat("*", len(got)-4) + got[len(got)-2:]; masked != want {
			t.Errorf("MaskPhone(%q): got %q, want %q", got, masked, want)
		}
	})
}

// checkE164 asserts that p is in E.164: a plus and at most 15 digits, the first not 0.
func checkE164(t *testing.T, p string) {
	t.Helper()
	digits, ok := strings.CutPrefix(p, "+")
	if !ok || len(digits) < 2 || len(digits) > 15 || digits[0] == '0' ||
		strings.ContainsFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) {
		t.Errorf("got %q, want E.164: + and at most 15 digits", p)
	}
}

func FuzzParseIdentifier(f *testing.F) {
	for _, s := range fuzzEmails {
		f.Add(s, "KZ")
	}
	for _, p := range fuzzPhones {
		f.Add(p.s, p.region)
	}
	f.Fuzz(func(t *testing.T, s, region string) {
		id, err := account.ParseIdentifier(s, region)
		if strings.Contains(s, "@") {
			want, wantErr := account.ParseEmail(s)
			if err != nil {
				if wantErr == nil || kilt.ErrorCode(err) != account.CodeInvalidEmail {
					t.Fatalf("ParseIdentifier(%q) = %v; ParseEmail gives %q, %v", s, err, want, wantErr)
				}
				return
			}
			if id.Kind != account.Email || id.Value != want {
				t.Errorf("ParseIdentifier(%q): got %+v, want e-mail %q", s, id, want)
			}
			checkMask(t, id.Value)
			if id.Mask() != account.MaskEmail(id.Value) {
				t.Errorf("Mask of %+v: got %q, want MaskEmail's %q", id, id.Mask(), account.MaskEmail(id.Value))
			}
			return
		}
		want, wantErr := account.ParsePhone(s, region)
		if err != nil {
			// The login form's field is either kind: the error names the field, not a kind.
			if wantErr == nil || kilt.ErrorKind(err) != kilt.KindInvalid || kilt.ErrorCode(err) != account.CodeInvalidIdentifier {
				t.Fatalf("ParseIdentifier(%q, %q) = %v; want code %s, and ParsePhone gives %q, %v",
					s, region, err, account.CodeInvalidIdentifier, want, wantErr)
			}
			return
		}
		if id.Kind != account.Phone || id.Value != want || id.Key() != want {
			t.Errorf("ParseIdentifier(%q, %q): got %+v, want phone %q", s, region, id, want)
		}
		if m := id.Mask(); m != account.MaskPhone(id.Value) {
			t.Errorf("Mask of %+v: got %q, want MaskPhone's %q", id, m, account.MaskPhone(id.Value))
		}
	})
}
