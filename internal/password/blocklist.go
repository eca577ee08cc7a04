package password

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The lists shipped in the binary: no network is needed to check a password.
var (
	//go:embed blocklist.txt
	commonPasswords string
	//go:embed blocklist_local.txt
	localPasswords string
)

// Blocklist is a set of commonly used passwords with the matching rule of the package doc.
// A Blocklist is immutable and safe for concurrent use; a nil *Blocklist contains nothing.
type Blocklist struct {
	words map[string]struct{}
}

var (
	defaultBlocklist     *Blocklist
	defaultBlocklistOnce sync.Once
)

// DefaultBlocklist returns the embedded list: the ranked top passwords of zxcvbn (MIT)
// followed by Kilt's hand-written Russian and Kazakh words. It is parsed once, on first use.
func DefaultBlocklist() *Blocklist {
	defaultBlocklistOnce.Do(func() {
		defaultBlocklist = ParseBlocklist(commonPasswords + "\n" + localPasswords)
	})
	return defaultBlocklist
}

// ParseBlocklist returns the Blocklist of text: one password a line; empty lines and lines
// starting with # are skipped.
func ParseBlocklist(text string) *Blocklist {
	var words []string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			words = append(words, line)
		}
	}
	return NewBlocklist(words...)
}

// NewBlocklist returns the Blocklist of words. Each is entered NFKC-normalised and
// lower-cased, and also in its Latin-keyboard form when it has Cyrillic letters (пароль is
// entered as gfhjkm too), because that is how it is typed when the layout is not switched.
func NewBlocklist(words ...string) *Blocklist {
	b := &Blocklist{words: make(map[string]struct{}, len(words))}
	for _, w := range words {
		w = strings.ToLower(Normalize(w))
		if w == "" {
			continue
		}
		b.words[w] = struct{}{}
		b.words[toLatinLayout(w)] = struct{}{}
	}
	return b
}

// Len returns the number of entries, counting the Latin-keyboard forms of Cyrillic words.
func (b *Blocklist) Len() int {
	if b == nil {
		return 0
	}
	return len(b.words)
}

// Contains reports whether pw is a listed password or a listed password dressed up the ways
// people dress them up to pass composition rules: see the package doc for the exact rule.
func (b *Blocklist) Contains(pw string) bool {
	if b == nil || len(b.words) == 0 {
		return false
	}
	for _, form := range layoutForms(pw) {
		for _, core := range cores(form) {
			for _, c := range deleetForms(core) {
				if b.has(c) || b.hasBaseWord(c) {
					return true
				}
			}
		}
	}
	return false
}

func (b *Blocklist) has(s string) bool {
	_, ok := b.words[s]
	return ok
}

// minWord is the shortest list entry matched inside a longer password, and maxExtraLetters
// the most letters a password may have beyond such an entry and still be that entry dressed
// up: "Password1!" and "Password2024!Ab" are "password"; "Dragon-Fly-42" is not "dragon".
const (
	minWord         = 4
	maxExtraLetters = 2
)

// hasBaseWord reports whether s is a listed word (a maximal run of letters, or of digits, of
// at least minWord code points) plus at most maxExtraLetters letters and any number of
// digits, spaces and punctuation.
func (b *Blocklist) hasBaseWord(s string) bool {
	letters := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			letters++
		}
	}
	for start := 0; start < len(s); {
		r, _ := utf8.DecodeRuneInString(s[start:])
		class := runeClass(r)
		end, n := start, 0
		for end < len(s) {
			r, size := utf8.DecodeRuneInString(s[end:])
			if runeClass(r) != class {
				break
			}
			end += size
			n++
		}
		if class != classOther && n >= minWord && b.has(s[start:end]) {
			extra := letters
			if class == classLetter {
				extra -= n
			}
			if extra <= maxExtraLetters {
				return true
			}
		}
		start = end
	}
	return false
}

const (
	classOther = iota
	classLetter
	classDigit
)

func runeClass(r rune) int {
	switch {
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsDigit(r):
		return classDigit
	}
	return classOther
}

// cores returns s, s without leading and trailing punctuation, spaces and symbols, and s
// without leading and trailing non-letters; a trimmed form is kept only when it has at least
// minWord code points, so that "12345678!" does not reduce to nothing that matches.
func cores(s string) []string {
	out := []string{s}
	punct := strings.TrimFunc(s, func(r rune) bool { return runeClass(r) == classOther })
	letters := strings.TrimFunc(s, func(r rune) bool { return runeClass(r) != classLetter })
	for _, c := range []string{punct, letters} {
		if utf8.RuneCountInString(c) >= minWord && c != out[len(out)-1] {
			out = append(out, c)
		}
	}
	return out
}

// deleetForms returns s and, if s has any, s with the common leetspeak substitutions undone;
// 1 stands for both i and l, so there may be two.
func deleetForms(s string) []string {
	if !strings.ContainsAny(s, "@40315$7") {
		return []string{s}
	}
	asI := leetI.Replace(s)
	asL := leetL.Replace(s)
	if asI == asL {
		return []string{s, asI}
	}
	return []string{s, asI, asL}
}

var (
	leetI = strings.NewReplacer("@", "a", "4", "a", "0", "o", "3", "e", "$", "s", "5", "s", "7", "t", "1", "i")
	leetL = strings.NewReplacer("@", "a", "4", "a", "0", "o", "3", "e", "$", "s", "5", "s", "7", "t", "1", "l")
)

// layoutForms returns pw NFKC-normalised and lower-cased, followed by its other-layout forms
// where they differ: Cyrillic keys read as Latin ones (йцукен → qwerty), and Latin keys read
// as the Russian ЙЦУКЕН layout (gfhjkm → пароль).
func layoutForms(pw string) []string {
	s := strings.ToLower(Normalize(pw))
	out := []string{s}
	for _, f := range []string{toLatinLayout(s), toCyrillicLayout(s)} {
		if f != s && (len(out) == 1 || f != out[1]) {
			out = append(out, f)
		}
	}
	return out
}

// cyrillicKeys maps each lower-case Cyrillic letter to the key of a US keyboard it is on: the
// Russian ЙЦУКЕН layout for the letters it has, and the Kazakh layout (KazSSR 903-90, as in
// xkb "kz") for ә і ң ғ ү ұ қ ө һ, which sit on the digit row there.
var cyrillicKeys = map[rune]rune{
	'й': 'q', 'ц': 'w', 'у': 'e', 'к': 'r', 'е': 't', 'н': 'y', 'г': 'u', 'ш': 'i', 'щ': 'o',
	'з': 'p', 'х': '[', 'ъ': ']', 'ф': 'a', 'ы': 's', 'в': 'd', 'а': 'f', 'п': 'g', 'р': 'h',
	'о': 'j', 'л': 'k', 'д': 'l', 'ж': ';', 'э': '\'', 'я': 'z', 'ч': 'x', 'с': 'c', 'м': 'v',
	'и': 'b', 'т': 'n', 'ь': 'm', 'б': ',', 'ю': '.', 'ё': '`',
	'ә': '2', 'і': '3', 'ң': '4', 'ғ': '5', 'ү': '8', 'ұ': '9', 'қ': '0', 'ө': '-', 'һ': '=',
}

// latinKeys is the Russian half of cyrillicKeys reversed: what a Latin key types on ЙЦУКЕН.
// Digits are left alone: a digit after a word is far more often a digit than a Kazakh letter.
var latinKeys = func() map[rune]rune {
	m := make(map[rune]rune, 33)
	for c, l := range cyrillicKeys {
		if !strings.ContainsRune("0123456789-=", l) {
			m[l] = c
		}
	}
	return m
}()

func toLatinLayout(s string) string { return mapRunes(s, cyrillicKeys) }

func toCyrillicLayout(s string) string { return mapRunes(s, latinKeys) }

func mapRunes(s string, m map[rune]rune) string {
	return strings.Map(func(r rune) rune {
		if to, ok := m[r]; ok {
			return to
		}
		return r
	}, s)
}
