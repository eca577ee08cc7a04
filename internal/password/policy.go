package password

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"kilt"
)

// Violation is a broken rule of the password policy. Its value is the stable error code:
// the JSON error.code and details.violations entry, and the i18n key of the message.
type Violation string

// The violations, in the order Check reports them.
const (
	Invalid            Violation = "password_invalid" // invalid UTF-8 or a control character
	TooShort           Violation = "password_too_short"
	TooLong            Violation = "password_too_long"
	NoUpper            Violation = "password_no_upper"
	NoLower            Violation = "password_no_lower"
	NoDigit            Violation = "password_no_digit"
	NoSpecial          Violation = "password_no_special"
	Common             Violation = "password_common"
	ContainsIdentifier Violation = "password_contains_identifier"
	Mismatch           Violation = "password_mismatch"
	Reused             Violation = "password_reused" // similar to one of the last HistorySize
)

// Defaults of the policy.
const (
	DefaultMinLength   = 8
	DefaultMaxLength   = 128
	DefaultHistorySize = 6
)

// Policy is Kilt's password policy (the package doc lists its rules). The same Policy serves registration, change and
// reset, on the HTML pages and the API.
type Policy struct {
	// MinLength and MaxLength bound the length in code points after NFKC; zero means the
	// default (8 and 128).
	MinLength, MaxLength int
	// HistorySize is how many past passwords a new one must not be similar to, the current
	// one included; zero means the default (6), a negative value turns the rule off.
	HistorySize int
	// Blocklist holds the commonly used passwords; nil turns that check off.
	Blocklist *Blocklist
	// ContextWords are the portal's own names: a password containing one, in any case,
	// layout or common leetspeak, is common.
	ContextWords []string
}

// DefaultPolicy returns the default policy with the embedded blocklist and the portal's
// names as context words.
func DefaultPolicy() Policy {
	return Policy{
		MinLength:    DefaultMinLength,
		MaxLength:    DefaultMaxLength,
		HistorySize:  DefaultHistorySize,
		Blocklist:    DefaultBlocklist(),
		ContextWords: []string{"kilt", "кілт", "portal", "портал"},
	}
}

func (p Policy) withDefaults() Policy {
	if p.MinLength == 0 {
		p.MinLength = DefaultMinLength
	}
	if p.MaxLength == 0 {
		p.MaxLength = DefaultMaxLength
	}
	switch {
	case p.HistorySize == 0:
		p.HistorySize = DefaultHistorySize
	case p.HistorySize < 0:
		p.HistorySize = 0
	}
	return p
}

// Subject is the account a password is for. At registration it has no history, and only
// the identifier being registered.
type Subject struct {
	Email, Phone string
	// History is the account's past passwords, newest first (the current one first).
	History []HistoryEntry
}

// Check returns every static rule pw breaks, in the order of the Violation constants, or
// nil: everything but the history rule, which needs hashing. confirm is the repeat field;
// both are compared after NFKC. When pw is longer than MaxLength, the blocklist and
// identifier rules are skipped: the password must change anyway, and their cost must not
// grow with whatever length a client sends.
func (p Policy) Check(pw, confirm string, s Subject) []Violation {
	p = p.withDefaults()
	var v []Violation
	if !utf8.ValidString(pw) || strings.ContainsFunc(pw, unicode.IsControl) {
		v = append(v, Invalid)
	}
	normal := Normalize(pw)
	n := utf8.RuneCountInString(normal)
	if n < p.MinLength {
		v = append(v, TooShort)
	}
	tooLong := n > p.MaxLength
	if tooLong {
		v = append(v, TooLong)
	}
	var upper, lower, digit, special bool
	for _, r := range normal {
		switch {
		case 'A' <= r && r <= 'Z':
			upper = true
		case 'a' <= r && r <= 'z':
			lower = true
		case '0' <= r && r <= '9':
			digit = true
		default:
			special = true
		}
	}
	for _, c := range []struct {
		ok bool
		v  Violation
	}{{upper, NoUpper}, {lower, NoLower}, {digit, NoDigit}, {special, NoSpecial}} {
		if !c.ok {
			v = append(v, c.v)
		}
	}
	if !tooLong {
		if p.common(normal) {
			v = append(v, Common)
		}
		if containsIdentifier(normal, s) {
			v = append(v, ContainsIdentifier)
		}
	}
	if normal != Normalize(confirm) {
		v = append(v, Mismatch)
	}
	return v
}

// Validate checks pw against the whole policy for s: Check, then, only when every static
// rule holds, the history rule against the first HistorySize entries of s.History (the
// history costs Argon2id work, which a password that must change anyway, and above all a
// too-long one, must never cost). It returns nil, the error of h (busy pool, malformed
// stored hash), or a kilt.KindRule error whose code is the first violation and whose
// details.violations lists them all. h may be nil when s has no history.
func (p Policy) Validate(ctx context.Context, h *Hasher, pepper []byte, pw, confirm string, s Subject) error {
	p = p.withDefaults()
	v := p.Check(pw, confirm, s)
	if len(v) == 0 && p.HistorySize > 0 && len(s.History) > 0 {
		similar, err := h.Similar(ctx, pepper, pw, s.History[:min(len(s.History), p.HistorySize)])
		if err != nil {
			return err
		}
		if similar {
			v = append(v, Reused)
		}
	}
	return violationError(v)
}

// NewPassword validates pw as Validate does and, when it passes, returns the history entry
// of the new password, whose PasswordHash is the account's new hash. It costs two Argon2id
// computations over a history of keyed entries at the configured cost, whatever it holds
// (Hasher.newEntry): the history check, whose result is also the new entry's key, and the
// account hash, run in parallel; a legacy entry adds one. A password that breaks a static
// rule costs none.
func (p Policy) NewPassword(ctx context.Context, h *Hasher, pepper []byte, pw, confirm string, s Subject, now time.Time) (HistoryEntry, error) {
	p = p.withDefaults()
	if err := violationError(p.Check(pw, confirm, s)); err != nil {
		return HistoryEntry{}, err
	}
	e, similar, err := h.newEntry(ctx, pepper, pw, s.History, s.History[:min(len(s.History), p.HistorySize)], now)
	if err != nil {
		return HistoryEntry{}, err
	}
	if similar {
		return HistoryEntry{}, violationError([]Violation{Reused})
	}
	return e, nil
}

// violationError is nil for no violations, else the kilt.KindRule error of v.
func violationError(v []Violation) error {
	if len(v) == 0 {
		return nil
	}
	codes := make([]string, len(v))
	for i, c := range v {
		codes[i] = string(c)
	}
	return kilt.Errorf(kilt.KindRule, codes[0], "password breaks %d rule(s) of the policy", len(v)).
		WithDetails("violations", codes)
}

// AddHistory returns history (newest first) with e put first and cut to the policy's
// HistorySize; history itself is not modified. Call it after every password set, the first
// at registration included, so that the current password is always in the history.
func (p Policy) AddHistory(history []HistoryEntry, e HistoryEntry) []HistoryEntry {
	p = p.withDefaults()
	n := min(len(history)+1, max(p.HistorySize, 1))
	out := make([]HistoryEntry, 0, n)
	out = append(out, e)
	return append(out, history[:n-1]...)
}

// common reports whether normal (NFKC) is on the blocklist or contains a context word.
func (p Policy) common(normal string) bool {
	if p.Blocklist.Contains(normal) {
		return true
	}
	if len(p.ContextWords) == 0 {
		return false
	}
	for _, form := range layoutForms(normal) {
		for _, f := range deleetForms(form) {
			for _, w := range p.ContextWords {
				if w = strings.ToLower(Normalize(w)); w != "" && strings.Contains(f, w) {
					return true
				}
			}
		}
	}
	return false
}

// minIdentifier is the shortest e-mail local part checked: "a@x.kz" must not forbid every
// password with an "a".
const minIdentifier = 3

// containsIdentifier reports whether normal contains s's e-mail local part (also without a
// +tag), case-insensitively, or its phone number: the full digit string and the last 10
// digits, the national number of a +7 number, which is how people write it.
func containsIdentifier(normal string, s Subject) bool {
	lower := strings.ToLower(normal)
	var parts []string
	if local, _, ok := cutLast(strings.ToLower(Normalize(s.Email)), "@"); ok {
		parts = append(parts, local)
		if tagless, _, tagged := strings.Cut(local, "+"); tagged {
			parts = append(parts, tagless)
		}
	}
	for _, p := range parts {
		if utf8.RuneCountInString(p) >= minIdentifier && strings.Contains(lower, p) {
			return true
		}
	}
	digits := strings.Map(func(r rune) rune {
		if '0' <= r && r <= '9' {
			return r
		}
		return -1
	}, Normalize(s.Phone))
	if len(digits) >= 6 && strings.Contains(lower, digits) {
		return true
	}
	return len(digits) > 10 && strings.Contains(lower, digits[len(digits)-10:])
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// Description is the policy as GET /api/v1/password-policy shows it, so that a page can
// show the rules live. Messages are not in it: each rule's code is its i18n key.
type Description struct {
	MinLength         int         `json:"min_length"`
	MaxLength         int         `json:"max_length"`
	LengthUnit        string      `json:"length_unit"`
	Normalization     string      `json:"normalization"`
	RequiredClasses   []CharClass `json:"required_classes"`
	SpecialCharacters string      `json:"special_characters"`
	HistorySize       int         `json:"history_size"`
	Blocklist         bool        `json:"blocklist"`
	BlocklistSize     int         `json:"blocklist_size"`
	ContextWords      []string    `json:"context_words"`
	IdentifierCheck   bool        `json:"identifier_check"`
	Rules             []Rule      `json:"rules"`
}

// CharClass is one character class a password must have at least one of.
type CharClass struct {
	Name       string `json:"name"`
	Characters string `json:"characters"`
	Code       string `json:"code"` // the violation when it is missing
}

// Rule is one rule of the policy: its violation code and, where it has one, its number.
type Rule struct {
	Code  string `json:"code"`
	Value int    `json:"value,omitempty"`
}

// Describe returns the policy's description, its rules in the order Check applies them.
func (p Policy) Describe() Description {
	p = p.withDefaults()
	d := Description{
		MinLength:     p.MinLength,
		MaxLength:     p.MaxLength,
		LengthUnit:    "code_points",
		Normalization: "NFKC",
		RequiredClasses: []CharClass{
			{Name: "upper", Characters: "A-Z", Code: string(NoUpper)},
			{Name: "lower", Characters: "a-z", Code: string(NoLower)},
			{Name: "digit", Characters: "0-9", Code: string(NoDigit)},
			{Name: "special", Characters: "any character other than A-Z, a-z and 0-9, space and Cyrillic and Kazakh letters included", Code: string(NoSpecial)},
		},
		SpecialCharacters: "any character other than A-Z, a-z and 0-9",
		HistorySize:       p.HistorySize,
		Blocklist:         p.Blocklist != nil,
		BlocklistSize:     p.Blocklist.Len(),
		ContextWords:      append([]string{}, p.ContextWords...),
		IdentifierCheck:   true,
	}
	d.Rules = []Rule{
		{Code: string(Invalid)},
		{Code: string(TooShort), Value: p.MinLength},
		{Code: string(TooLong), Value: p.MaxLength},
		{Code: string(NoUpper)},
		{Code: string(NoLower)},
		{Code: string(NoDigit)},
		{Code: string(NoSpecial)},
	}
	if p.Blocklist != nil || len(p.ContextWords) > 0 {
		d.Rules = append(d.Rules, Rule{Code: string(Common)})
	}
	d.Rules = append(d.Rules, Rule{Code: string(ContainsIdentifier)}, Rule{Code: string(Mismatch)})
	if p.HistorySize > 0 {
		d.Rules = append(d.Rules, Rule{Code: string(Reused), Value: p.HistorySize})
	}
	return d
}
