package main

import (
	"io"
	"net/http"
	"net/smtp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kilt/internal/password"
)

// TestMailSink sends two messages over one connection and one over another: all three are
// counted, the two connections too, and the watch is told each message's recipients.
func TestMailSink(t *testing.T) {
	s, err := startMailSink("127.0.0.1:0", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var (
		mu  sync.Mutex
		got []string
	)
	s.Watch(func(to []string, _ time.Time) {
		mu.Lock()
		got = append(got, strings.Join(to, "+"))
		mu.Unlock()
	})
	send := func(c *smtp.Client, to ...string) {
		t.Helper()
		if err := c.Mail("kilt@load.kilt.test"); err != nil {
			t.Fatal(err)
		}
		for _, a := range to {
			if err := c.Rcpt(a); err != nil {
				t.Fatal(err)
			}
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, "Subject: x\r\n\r\nbody\r\n"); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	c1, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	send(c1, "a@x.test")
	send(c1, "b@x.test", "c@x.test")
	c1.Quit()
	c2, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	send(c2, "d@x.test")
	c2.Quit()

	if s.Messages() != 3 || s.Conns() != 2 {
		t.Errorf("messages %d, connections %d, want 3 and 2", s.Messages(), s.Conns())
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"a@x.test", "b@x.test+c@x.test", "d@x.test"}; !slices.Equal(got, want) {
		t.Errorf("the watch saw %q, want %q", got, want)
	}
}

// TestSMSSink: a waiter gets the code of the next message to its number, and nothing from
// a notice without a code or a message to another number; malformed requests get 400.
func TestSMSSink(t *testing.T) {
	s, err := startSMSSink("127.0.0.1:0", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	post := func(body string) int {
		t.Helper()
		resp, err := http.Post(smsURL(s.Addr()), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	codes, stop := s.Expect("+77000000001")
	defer stop()
	for _, tt := range []struct {
		body string
		want int
	}{
		{`{"to":"+77000000002","text":"Kilt: code 111111. 5 min","lang":"kk"}`, http.StatusAccepted},
		{`{"to":"+77000000001","text":"Kilt: password changed (25.11.2026 14:05). https://kilt.test:8080/recovery","lang":"kk"}`, http.StatusAccepted},
		{`{"to":"+77000000001","text":"Kilt: code 123456. 5 min","lang":"kk"}`, http.StatusAccepted},
		{`{"to":"+77000000001","text":"Kilt: code 654321. 5 min","lang":"kk"}`, http.StatusAccepted},
		{`not json`, http.StatusBadRequest},
		{`{"text":"no number"}`, http.StatusBadRequest},
	} {
		if got := post(tt.body); got != tt.want {
			t.Errorf("POST %s: status %d, want %d", tt.body, got, tt.want)
		}
	}
	select {
	case got := <-codes:
		if got != "123456" {
			t.Errorf("code %q, want 123456 (the first code to the number)", got)
		}
	default:
		t.Fatal("no code for the number")
	}
	if s.Messages() != 4 {
		t.Errorf("messages %d, want the 4 well-formed ones", s.Messages())
	}
}

func TestNewPassword(t *testing.T) {
	p := password.DefaultPolicy()
	const email, phone = "load-reset-7@load.kilt.test", "+77010000007"
	seen := map[string]bool{}
	for range 200 {
		pw := newPassword(p, email, phone)
		if v := p.Check(pw, pw, password.Subject{Email: email, Phone: phone}); len(v) > 0 {
			t.Fatalf("newPassword gave %q, which breaks %v", pw, v)
		}
		skeleton := strings.ToLower(strings.TrimRight(pw, "0123456789!#%*?@^~"))
		if seen[skeleton] {
			t.Errorf("skeleton %q drawn twice in 200", skeleton)
		}
		seen[skeleton] = true
	}
}

func TestShortDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{time.Hour, "1h"},
		{24 * time.Hour, "24h"},
		{30 * time.Minute, "30m"},
		{90 * time.Minute, "1h30m"},
		{45 * time.Second, "45s"},
	} {
		if got := shortDuration(tt.d); got != tt.want {
			t.Errorf("shortDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestStartWith(t *testing.T) {
	reqs := append([]requirement{needNoIPLimit, needMailSink("127.0.0.1:2525", "")}, needSMSSink("127.0.0.1:2526", "")...)
	got := startWith(reqs)
	want := "KILT_LIMIT_RECOVERY_IP=0/1h KILT_SMTP_URL='smtp://127.0.0.1:2525?starttls=false' " +
		"KILT_SMS_PROVIDER=webhook KILT_SMS_WEBHOOK_URL=http://127.0.0.1:2526/sms"
	if got != want {
		t.Errorf("startWith = %q, want %q", got, want)
	}
}
