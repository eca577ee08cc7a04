package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	netmail "net/mail"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"kilt/internal/mail/smtptest"
	"kilt/internal/outbox"
)

// clock is a clock the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func startWithClock(t *testing.T) (*smtptest.Server, *Sender, *clock) {
	t.Helper()
	srv := smtptest.Start(t, smtptest.Options{Security: smtptest.StartTLS, Username: "kilt", Password: "pw-1234"})
	clk := &clock{now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	s, err := newSender(Config{
		Host: srv.Host(), Port: srv.Port(), Username: "kilt", Password: "pw-1234",
		From: "Kilt <no-reply@kilt.example.kz>", Timeout: 5 * time.Second,
		TLSConfig: &tls.Config{RootCAs: srv.CertPool()},
	}, clk.Now)
	if err != nil {
		t.Fatalf("newSender: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return srv, s, clk
}

func message() outbox.Rendered {
	return outbox.Rendered{Channel: outbox.Email, To: "aigerim@example.kz", Lang: "kk",
		Subject: "Құпия сөз өзгертілді", Text: "Сәлеметсіз бе!", HTML: "<p>Сәлеметсіз бе!</p>"}
}

func TestDateFromClock(t *testing.T) {
	srv, s, clk := startWithClock(t)
	if err := s.Send(context.Background(), message()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.Wait(t, 1, 5*time.Second)
	msg, err := netmail.ReadMessage(bytes.NewReader(got[0].Data))
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	date, err := msg.Header.Date()
	if err != nil || !date.Equal(clk.Now()) {
		t.Errorf("Date %q (%v), want %v", msg.Header.Get("Date"), err, clk.Now())
	}
}

func TestComposeResistsHeaderInjection(t *testing.T) {
	_, s, _ := startWithClock(t)
	m := message()
	m.Subject = "Сәлем\r\nBcc: victim@example.com\r\n\r\nbody"
	m.Lang = "kk\r\nBcc: victim@example.com"
	var data bytes.Buffer
	if _, err := s.compose(m, m.To).WriteTo(&data); err != nil {
		t.Fatalf("compose: %v", err)
	}
	msg, err := netmail.ReadMessage(&data)
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	if got := msg.Header["Bcc"]; got != nil {
		t.Errorf("Bcc header %q injected", got)
	}
	if got := msg.Header["Subject"]; len(got) != 1 {
		t.Errorf("Subject headers %q, want one", got)
	}
	if got := msg.Header["Content-Language"]; got != nil {
		t.Errorf("Content-Language %q, want none for an invalid language", got)
	}
}

func TestIdleConnectionsAreClosed(t *testing.T) {
	t.Run("sweep", func(t *testing.T) {
		srv, s, clk := startWithClock(t)
		if err := s.Send(context.Background(), message()); err != nil {
			t.Fatalf("Send: %v", err)
		}
		clk.Advance(IdleTimeout - time.Second)
		s.sweep()
		if got := s.idleCount(); got != 1 {
			t.Fatalf("%d idle connections after %v, want 1", got, IdleTimeout-time.Second)
		}
		clk.Advance(time.Second)
		s.sweep()
		if got := s.idleCount(); got != 0 {
			t.Fatalf("%d idle connections after %v, want 0", got, IdleTimeout)
		}
		if err := s.Send(context.Background(), message()); err != nil {
			t.Fatalf("Send after the sweep: %v", err)
		}
		if got := srv.Connections(); got != 2 {
			t.Errorf("server saw %d connections, want 2", got)
		}
	})
	t.Run("on use", func(t *testing.T) {
		srv, s, clk := startWithClock(t)
		for range 2 {
			if err := s.Send(context.Background(), message()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			clk.Advance(IdleTimeout)
		}
		if got := srv.Connections(); got != 2 {
			t.Errorf("server saw %d connections, want 2 (the idle one replaced)", got)
		}
	})
}

func (s *Sender) idleCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.idle)
}

func TestCloseStopsEverything(t *testing.T) {
	_, s, _ := startWithClock(t)
	if err := s.Send(context.Background(), message()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	s.Close()
	select {
	case <-s.swept:
	default:
		t.Error("the idle sweep still runs after Close")
	}
	if got := s.idleCount(); got != 0 {
		t.Errorf("%d connections open after Close, want 0", got)
	}
}

func TestDeadlineConnFollowsContext(t *testing.T) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	dc := &deadlineConn{Conn: a}
	ctx, cancel := context.WithCancel(context.Background())
	unbind := dc.bind(ctx)
	defer unbind()

	read := make(chan error, 1)
	go func() {
		_, err := dc.Read(make([]byte, 1))
		read <- err
	}()
	cancel()
	if err := <-read; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read after cancel: %v, want a deadline error", err)
	}
	// A later deadline (go-mail sets one per command) cannot undo the cancellation.
	if err := dc.SetDeadline(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read after a new deadline: %v, want a deadline error", err)
	}
}

func TestScrub(t *testing.T) {
	s := &Sender{cfg: Config{Password: "hunter22"}}
	got := s.scrub("550 5.1.1 <Aigerim@Example.KZ>:\n  no such user (you sent hunter22)", "aigerim@example.kz")
	want := "550 5.1.1 <[recipient]>: no such user (you sent ******)"
	if got != want {
		t.Errorf("scrub = %q, want %q", got, want)
	}
	long := s.scrub(strings.Repeat("ж", 400), "")
	if len(long) > replyTextLimit+len("…") || !strings.HasSuffix(long, "…") {
		t.Errorf("scrub of a long reply gave %d bytes, want at most %d ending in …", len(long), replyTextLimit+len("…"))
	}
}

// TestSendRetriesOnAFreshConnection: when the server has closed every pooled connection (its
// idle timeout, a restart), the first Send after it still delivers. Its retry dials; before,
// it took the next pooled connection, dead too, and the message failed and waited for the
// outbox's backoff (seen in the load tool: a citizen's e-mail 4 s late after a quiet spell).
func TestSendRetriesOnAFreshConnection(t *testing.T) {
	for name, kill := range map[string]func(*smtptest.Server){
		"idle timeout (421)":         (*smtptest.Server).DropIdle,
		"restart (connection reset)": func(srv *smtptest.Server) { srv.SetDown(true); srv.SetDown(false) },
	} {
		t.Run(name, func(t *testing.T) {
			srv, s, _ := startWithClock(t)
			ctx := context.Background()
			const pooled = 3
			var conns []*conn
			for range pooled {
				c, err := s.dial(ctx)
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				conns = append(conns, c)
			}
			for _, c := range conns {
				s.put(c)
			}
			kill(srv)
			if err := s.Send(ctx, message()); err != nil {
				t.Fatalf("Send after the server closed the pooled connections: %v", err)
			}
			srv.Wait(t, 1, 5*time.Second)
			if got := srv.Connections(); got != pooled+1 {
				t.Errorf("server saw %d connections, want %d (the pooled ones and one redial)", got, pooled+1)
			}
			if got := s.idleCount(); got != 1 {
				t.Errorf("%d idle connections after the Send, want 1 (the dead ones dropped)", got)
			}
		})
	}
}
