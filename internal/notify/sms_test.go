package notify

import (
	"html"
	"strings"
	"testing"

	"kilt/internal/outbox"
)

func TestSegments(t *testing.T) {
	tests := []struct {
		name string
		text string
		want int
	}{
		{"empty", "", 1},
		{"GSM-7 160", strings.Repeat("a", 160), 1},
		{"GSM-7 161", strings.Repeat("a", 161), 2},
		{"GSM-7 two full parts", strings.Repeat("a", 306), 2},
		{"GSM-7 one more", strings.Repeat("a", 307), 3},
		{"GSM-7 accented letters of the default alphabet", strings.Repeat("é", 160), 1},
		{"extension counts two", strings.Repeat("€", 80), 1},
		{"extension over 160 septets", strings.Repeat("€", 81), 2},
		{"extension not split across parts", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 152), 3},
		{"extension fits at the end of a part", strings.Repeat("a", 151) + "€" + strings.Repeat("a", 153), 2},
		{"Cyrillic 70", strings.Repeat("я", 70), 1},
		{"Cyrillic 71", strings.Repeat("я", 71), 2},
		{"Cyrillic two full parts", strings.Repeat("ә", 134), 2},
		{"Cyrillic one more", strings.Repeat("ә", 135), 3},
		{"one Kazakh letter makes Latin UCS-2", strings.Repeat("a", 70) + "ң", 2},
		{"curly apostrophe is not GSM-7", strings.Repeat("a", 70) + "’", 2},
		{"emoji counts two", strings.Repeat("😀", 35), 1},
		{"emoji over 70 units", strings.Repeat("😀", 36), 2},
		{"surrogate pair not split", strings.Repeat("я", 66) + "😀" + strings.Repeat("я", 66), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Segments(tt.text); got != tt.want {
				t.Errorf("Segments(%d runes) = %d, want %d", len([]rune(tt.text)), got, tt.want)
			}
		})
	}
}

func TestIsGSM7(t *testing.T) {
	tests := []struct {
		text string
		want bool
	}{
		{"Kilt: code 123456. Valid 5 min. @$_!?\"'()#%&*+,-./:;<=>", true},
		{"{}[]~|^\\€ ÄÖÑÜäöñüàèéùìòÇØøÅåÆæßÉ¡¿§£¥¤ΔΦΓΛΩΠΨΣΘΞ\n\r", true},
		{"`", false},
		{"’", false},
		{"—", false},
		{"ә", false},
		{"Код", false},
		{"\x1b", false},
	}
	for _, tt := range tests {
		if got := IsGSM7(tt.text); got != tt.want {
			t.Errorf("IsGSM7(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

// TestLongProductNameDoesNotCostASegment: a code SMS stays one segment whatever the
// portal's name, by leaving the name out when it would not fit.
func TestLongProductNameDoesNotCostASegment(t *testing.T) {
	r := New(Config{ProductName: "Электрондық үкімет порталы"})
	for _, lang := range []string{"kk", "ru", "en"} {
		m, err := r.Render(outbox.RecoveryCode, outbox.SMS, lang, map[string]string{"code": "123456", "minutes": "5"})
		if err != nil {
			t.Fatal(err)
		}
		if n := Segments(m.Text); n != 1 || !strings.Contains(m.Text, "123456") {
			t.Errorf("%s: %d segments: %q", lang, n, m.Text)
		}
	}
	short := New(Config{ProductName: "eGov"})
	m, _ := short.Render(outbox.RecoveryCode, outbox.SMS, "kk", map[string]string{"code": "123456", "minutes": "5"})
	if !strings.HasPrefix(m.Text, "eGov: ") {
		t.Errorf("a short name is kept: %q", m.Text)
	}
}

// TestNamesAndSupport: each language's message carries that language's name; every SMS and
// every e-mail ends with the support contact, which stays when the name is dropped to save a
// segment; an e-mail's button takes the accent colour; the default names of package brand
// keep a code SMS in one segment.
func TestNamesAndSupport(t *testing.T) {
	code := map[string]string{"code": "123456", "minutes": "5"}
	r := New(Config{Names: map[string]string{"kk": "Портал", "ru": "Портал", "en": "Portal"}})
	for _, lang := range []string{"kk", "ru", "en"} {
		m, err := r.Render(outbox.RecoveryCode, outbox.SMS, lang, code)
		if err != nil {
			t.Fatal(err)
		}
		if n := Segments(m.Text); n != 1 || !strings.HasPrefix(m.Text, map[string]string{"kk": "Портал: ", "ru": "Портал: ", "en": "Portal: "}[lang]) {
			t.Errorf("%s: default name, %d segments: %q", lang, n, m.Text)
		}
	}
	long := New(Config{Names: map[string]string{"kk": "Электрондық үкімет порталы"}, Support: "+7 727 000 00 00", Accent: "#14532d"})
	m, err := long.Render(outbox.RecoveryCode, outbox.SMS, "kk", code)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(m.Text, "\nҚолдау қызметі: +7 727 000 00 00") || !strings.Contains(m.Text, "123456") {
		t.Errorf("kk SMS %q, want the code and the support contact last", m.Text)
	}
	mail, err := long.Render(outbox.RecoveryLink, outbox.Email, "ru", map[string]string{"link": "https://example.kz/r?t=x", "minutes": "30"})
	if err != nil {
		t.Fatal(err)
	}
	for part, body := range map[string]string{"text": mail.Text, "html": html.UnescapeString(mail.HTML)} {
		if !strings.Contains(body, "Служба поддержки: +7 727 000 00 00") {
			t.Errorf("ru e-mail %s part without the support contact:\n%s", part, body)
		}
	}
	if !strings.Contains(mail.HTML, "background-color:#14532d") || strings.Contains(mail.HTML, defaultAccent) {
		t.Errorf("ru e-mail: the button is not in the brand's colour:\n%s", mail.HTML)
	}
	if !strings.HasPrefix(mail.Subject, "Kilt: ") {
		t.Errorf("ru subject %q: no Russian name configured, want ProductName's default", mail.Subject)
	}
}
