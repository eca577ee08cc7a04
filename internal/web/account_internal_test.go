package web

import (
	"testing"
	"time"

	"kilt/internal/audit"
)

func TestBrowserName(t *testing.T) {
	tests := []struct {
		name, ua, want string
	}{
		{"chrome on android", "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36", "Chrome · Android"},
		{"safari on iphone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari · iOS"},
		{"yandex on windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0 YaBrowser/24.10 Safari/537.36", "Yandex Browser · Windows"},
		{"edge", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0", "Edge · Windows"},
		{"firefox on linux", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox · Linux"},
		{"unknown short", "curl/8.5.0", "curl/8.5.0"},
		{"unknown long", "SomeVeryLongClientNameThatNobodyKnows/1.0 (with a long comment)", "SomeVeryLongClientNameThatNobodyKnows/1.…"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := browserName(tt.ua); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEventView(t *testing.T) {
	almaty := time.FixedZone("", 5*3600)
	s := &Site{cfg: Config{Location: almaty}}
	at := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name, lang, typ string
		want            EventView
	}{
		{"kazakh", "kk", audit.LoginSucceeded, EventView{What: "Жүйеге кіру", When: "2026 жылғы 25 қараша, 14:30",
			Datetime: "2026-11-25T14:30:00+05:00", IP: "10.0.0.1", Browser: "curl/8"}},
		{"english failure", "en", audit.LoginFailed, EventView{What: "Failed sign-in attempt", When: "25 November 2026, 14:30",
			Datetime: "2026-11-25T14:30:00+05:00", IP: "10.0.0.1", Browser: "curl/8", Failed: true}},
		{"unknown type", "ru", "something_new", EventView{What: "Другое событие", When: "25 ноября 2026, 14:30",
			Datetime: "2026-11-25T14:30:00+05:00", IP: "10.0.0.1", Browser: "curl/8"}},
		// Registering the account's own identifier can only be someone else's attempt.
		{"someone else's registration", "kk", audit.RegistrationRequested, EventView{
			What: "Біреу сіздің e-mail мекенжайыңызбен немесе нөміріңізбен тіркелмек болды", When: "2026 жылғы 25 қараша, 14:30",
			Datetime: "2026-11-25T14:30:00+05:00", IP: "10.0.0.1", Browser: "curl/8", Failed: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.eventView(tt.lang, audit.Event{At: at, Type: tt.typ, IP: "10.0.0.1", UserAgent: "curl/8", Detail: "wrong password"})
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
