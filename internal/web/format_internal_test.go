package web

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	phones := []struct{ e164, display, masked string }{
		{"+77011234567", "+7 701 123 45 67", "+7 701 ••• •• 67"},
		{"+77471234567", "+7 747 123 45 67", "+7 747 ••• •• 67"},
		{"+996555123456", "+996 555 123 456", "+996 555 ••• •56"},
		{"", "", ""},
	}
	for _, p := range phones {
		if got := displayPhone(p.e164); got != p.display {
			t.Errorf("displayPhone(%q) = %q, want %q", p.e164, got, p.display)
		}
		if got := maskPhone(p.e164); got != p.masked {
			t.Errorf("maskPhone(%q) = %q, want %q", p.e164, got, p.masked)
		}
	}
	for addr, want := range map[string]string{"aigerim@mail.kz": "a•••@mail.kz", "ә@пошта.қаз": "ә•••@пошта.қаз", "nope": "", "@mail.kz": ""} {
		if got := maskEmail(addr); got != want {
			t.Errorf("maskEmail(%q) = %q, want %q", addr, got, want)
		}
	}
	durations := []struct {
		lang string
		d    time.Duration
		want string
	}{
		{"kk", 24 * time.Hour, "24 сағат"},
		{"ru", 24 * time.Hour, "24 часа"},
		{"ru", 5 * time.Hour, "5 часов"},
		{"ru", time.Hour, "1 час"},
		{"en", 24 * time.Hour, "24 hours"},
		{"kk", 90 * time.Minute, "90 минут"},
		{"ru", 21 * time.Minute, "21 минута"},
		{"en", time.Minute, "1 minute"},
		{"en", 45 * time.Second, "45 seconds"},
	}
	for _, d := range durations {
		if got := duration(d.lang, d.d); got != d.want {
			t.Errorf("duration(%s, %v) = %q, want %q", d.lang, d.d, got, d.want)
		}
	}
	for in, want := range map[string]string{
		"E-mail немесе телефон нөмірі": `<span class="nowrap">E-mail</span> немесе телефон нөмірі`,
		"Бас латын әрпі (A–Z)":         `Бас латын әрпі (<span class="nowrap">A–Z</span>)`,
		"Мысалы: +7 701 123 45 67":     `Мысалы: <span class="nowrap">+7 701 123 45 67</span>`,
		"<b>e-mail</b>":                `&lt;b&gt;<span class="nowrap">e-mail</span>&lt;/b&gt;`,
		"Тіркелу":                      "Тіркелу",
	} {
		if got := string(nobreak(in)); got != want {
			t.Errorf("nobreak(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWait(t *testing.T) {
	for _, tt := range []struct {
		lang string
		n    int
		want string
	}{
		{"en", 1, `You can ask for a new code in <span class="seconds">1</span> second`},
		{"en", 57, `You can ask for a new code in <span class="seconds">57</span> seconds`},
		{"kk", 57, `Кодты <span class="seconds">57</span> секундтан кейін қайта сұрай аласыз.`},
		{"ru", 51, `Отправить код повторно можно через <span class="seconds">51</span> с`},
	} {
		b := &Base{Lang: tt.lang}
		if got := string(b.Wait(tt.n)); got != tt.want {
			t.Errorf("%s Wait(%d) = %q, want %q", tt.lang, tt.n, got, tt.want)
		}
	}
}

// TestSentToShowsOnlyAMaskedAddress: the cookie that carries where a link went is shown only
// when it reads as a masked address; anything else planted in it shows nothing.
func TestSentToShowsOnlyAMaskedAddress(t *testing.T) {
	s := &Site{}
	for value, want := range map[string]string{
		"a•••@mail.kz":             "a•••@mail.kz",
		"ә•••@пошта.қаз":           "ә•••@пошта.қаз",
		"<b>•••@mail.kz":           "",
		"a•••@mail.kz<script>":     "",
		"a•••@evil.kz please call": "",
		"aigerim@mail.kz":          "",
		"":                         "",
	} {
		r := httptest.NewRequest("GET", "/recovery/email/sent", nil)
		r.AddCookie(&http.Cookie{Name: s.sentCookie(), Value: base64.RawURLEncoding.EncodeToString([]byte(value))})
		if got := s.sentTo(r); got != want {
			t.Errorf("cookie %q: shown %q, want %q", value, got, want)
		}
	}
	r := httptest.NewRequest("GET", "/recovery/email/sent", nil)
	r.AddCookie(&http.Cookie{Name: s.sentCookie(), Value: "not base64!"})
	if got := s.sentTo(r); got != "" {
		t.Errorf("a cookie that is not base64: shown %q", got)
	}
}
