package password

import (
	"strings"
	"testing"
)

func TestDefaultBlocklistSize(t *testing.T) {
	b := DefaultBlocklist()
	if got := b.Len(); got < 10000 {
		t.Errorf("Len: got %d, want at least 10000", got)
	}
	if DefaultBlocklist() != b {
		t.Error("DefaultBlocklist parsed the list twice")
	}
	first, _, _ := strings.Cut(commonPasswords, "\n")
	if !strings.HasPrefix(first, "#") || !strings.Contains(first, "zxcvbn") || !strings.Contains(first, "MIT") {
		t.Errorf("first line of blocklist.txt: got %q, want its provenance and licence", first)
	}
}

func TestBlocklistContains(t *testing.T) {
	b := DefaultBlocklist()
	tests := []struct {
		name, pw string
		want     bool
	}{
		{name: "listed as is", pw: "qwertyuiop", want: true},
		{name: "listed, capitalised, digit and symbol added", pw: "Password1!", want: true},
		{name: "keyboard walk with digits", pw: "Qwerty123!", want: true},
		{name: "leetspeak", pw: "P@ssw0rd", want: true},
		{name: "leetspeak inside, digits outside", pw: "Pa$$w0rd2024!", want: true},
		{name: "leet 1 as l", pw: "He11o-2024", want: true},
		{name: "Russian word typed on a Latin layout, letter added", pw: "gfhjkm123A!", want: true},
		{name: "Russian word on a Latin layout with punctuation keys", pw: "k.,jdm123A!", want: true},
		{name: "Latin keys typed on a Cyrillic layout", pw: "йцукен123Q!", want: true},
		{name: "Russian word as typed", pw: "Пароль2024!", want: true},
		{name: "Kazakh word as typed", pw: "Қазақстан2024!", want: true},
		{name: "Kazakh word on a Latin layout (Kazakh keys)", pw: "0fpf0cnfy!", want: true},
		{name: "Kazakh word on a Latin layout (Russian keys)", pw: "rfpfrcnfy2024!", want: true},
		{name: "local word transliterated", pw: "Astana2024!", want: true},
		{name: "digits with two letters", pw: "123456789Aa!", want: true},
		{name: "word plus two letters", pw: "Sunshine-7-Ab", want: true},
		{name: "full-width", pw: "Ｐａｓｓｗｏｒｄ１！", want: true},
		{name: "passphrase", pw: "Tulpar-Sunkar-7", want: false},
		{name: "listed words in a longer phrase", pw: "Correct-Horse-Battery-9", want: false},
		{name: "word plus three letters", pw: "Dragon-Fly-42", want: false},
		{name: "Kazakh phrase", pw: "Жұлдыз-Көктем-7", want: false},
		{name: "random", pw: "xK9#mQ2$vL", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := b.Contains(tt.pw); got != tt.want {
				t.Errorf("Contains(%q): got %v, want %v", tt.pw, got, tt.want)
			}
		})
	}
}

func TestNewBlocklist(t *testing.T) {
	b := ParseBlocklist("# comment\n\n  Сұңқар  \nTulpar\n")
	if got := b.Len(); got != 3 { // сұңқар, its Latin-layout form, tulpar
		t.Errorf("Len: got %d, want 3", got)
	}
	for _, pw := range []string{"Tulpar2024!", "СҰҢҚАР-2024", "c940fh-2024"} {
		if !b.Contains(pw) {
			t.Errorf("Contains(%q): got false, want true", pw)
		}
	}
	var none *Blocklist
	if none.Contains("password") || none.Len() != 0 {
		t.Error("a nil Blocklist contains something")
	}
}

func TestLayoutConversion(t *testing.T) {
	tests := []struct {
		name, in, want string
		conv           func(string) string
	}{
		{name: "йцукен", in: "йцукен", want: "qwerty", conv: toLatinLayout},
		{name: "пароль", in: "пароль", want: "gfhjkm", conv: toLatinLayout},
		{name: "punctuation keys", in: "любовь", want: "k.,jdm", conv: toLatinLayout},
		{name: "Kazakh digit row", in: "әіңғүұқөһ", want: "2345890-=", conv: toLatinLayout},
		{name: "others untouched", in: "abc 123 !", want: "abc 123 !", conv: toLatinLayout},
		{name: "back to Cyrillic", in: "gfhjkm", want: "пароль", conv: toCyrillicLayout},
		{name: "digits stay digits", in: "k.,jdm123", want: "любовь123", conv: toCyrillicLayout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.conv(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
