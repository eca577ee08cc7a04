package mail_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"kilt"
	"kilt/internal/mail"
	"kilt/internal/mail/smtptest"
	"kilt/internal/outbox"
)

const (
	user     = "kilt"
	password = "Qupiya-S0z!7"
	from     = "Кілт порталы <no-reply@kilt.example.kz>"
	to       = "aigerim@example.kz"
	subject  = "Құпия сөзді қалпына келтіру"
	waitFor  = 5 * time.Second
)

// rendered returns a message as notify would render it, in Kazakh.
func rendered(to string) outbox.Rendered {
	return outbox.Rendered{
		Channel: outbox.Email,
		To:      to,
		Lang:    "kk",
		Subject: subject,
		Text: "Сәлеметсіз бе!\n\nҚұпия сөзді қалпына келтіру үшін сілтемені ашыңыз:\n" +
			"https://id.example.kz/recovery/reset?token=abc_DEF-123\n\nСілтеме 30 минут жарамды. " +
			strings.Repeat("Ұзын жол ", 20) + "\n",
		HTML: `<!doctype html><html lang="kk"><body><p>Сәлеметсіз бе!</p>` +
			`<p><a href="https://id.example.kz/recovery/reset?token=abc_DEF-123">Құпия сөзді қалпына келтіру</a></p>` +
			`<p>Сілтеме 30 минут жарамды.</p></body></html>`,
		ID: 42,
	}
}

// config returns a Config for srv, with credentials when the server wants them.
func config(srv *smtptest.Server, security smtptest.Security) mail.Config {
	cfg := mail.Config{
		Host:      srv.Host(),
		Port:      srv.Port(),
		From:      from,
		HelloName: "kilt.test",
		Timeout:   waitFor,
	}
	switch security {
	case smtptest.StartTLS:
		cfg.TLS = mail.STARTTLS
	case smtptest.ImplicitTLS:
		cfg.TLS = mail.Implicit
	case smtptest.Plain:
		cfg.TLS = mail.None
	}
	if pool := srv.CertPool(); pool != nil {
		cfg.TLSConfig = &tls.Config{RootCAs: pool}
	}
	return cfg
}

func start(t *testing.T, security smtptest.Security) (*smtptest.Server, mail.Config) {
	t.Helper()
	srv := smtptest.Start(t, smtptest.Options{Security: security, Username: user, Password: password})
	cfg := config(srv, security)
	cfg.Username, cfg.Password = user, password
	return srv, cfg
}

func newSender(t testing.TB, cfg mail.Config) *mail.Sender {
	t.Helper()
	s, err := mail.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func send(t *testing.T, s *mail.Sender, m outbox.Rendered) {
	t.Helper()
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
}

// checkTemporary fails unless err is a temporary error with the code and without secrets.
func checkTemporary(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatal("Send succeeded, want an error")
	}
	if outbox.IsPermanent(err) || outbox.BlockReason(err) != "" {
		t.Errorf("error %q is permanent, want temporary", err)
	}
	if got := kilt.ErrorCode(err); got != code {
		t.Errorf("code %q, want %q (error %q)", got, code, err)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error %q contains the password", err)
	}
}

func TestSendSTARTTLSWithAuth(t *testing.T) {
	srv, cfg := start(t, smtptest.StartTLS)
	s := newSender(t, cfg)
	m := rendered(to)
	send(t, s, m)
	send(t, s, m)

	got := srv.Wait(t, 2, waitFor)
	if got[0].From != "no-reply@kilt.example.kz" {
		t.Errorf("envelope from %q, want no-reply@kilt.example.kz", got[0].From)
	}
	if len(got[0].To) != 1 || got[0].To[0] != to {
		t.Errorf("envelope to %q, want [%s]", got[0].To, to)
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(got[0].Data))
	if err != nil {
		t.Fatalf("received message does not parse: %v", err)
	}
	h := msg.Header
	if a, err := netmail.ParseAddress(h.Get("From")); err != nil || a.Name != "Кілт порталы" || a.Address != "no-reply@kilt.example.kz" {
		t.Errorf("From %q (%v), want %q", h.Get("From"), err, from)
	}
	if a, err := netmail.ParseAddress(h.Get("To")); err != nil || a.Address != to {
		t.Errorf("To %q (%v), want %q", h.Get("To"), err, to)
	}
	var dec mime.WordDecoder
	if got, err := dec.DecodeHeader(h.Get("Subject")); err != nil || got != subject {
		t.Errorf("Subject %q decodes to %q (%v), want %q", h.Get("Subject"), got, err, subject)
	}
	if strings.ContainsFunc(h.Get("Subject"), func(r rune) bool { return r > 127 }) {
		t.Errorf("Subject %q is not RFC 2047 encoded", h.Get("Subject"))
	}
	idRE := regexp.MustCompile(`^<[0-9a-f]{32}@kilt\.example\.kz>$`)
	if id := h.Get("Message-ID"); !idRE.MatchString(id) {
		t.Errorf("Message-ID %q, want <random@kilt.example.kz>", id)
	}
	if _, err := h.Date(); err != nil {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	for name, want := range map[string]string{
		"Auto-Submitted":           "auto-generated",
		"X-Auto-Response-Suppress": "All",
		"Content-Language":         "kk",
		"MIME-Version":             "1.0",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s %q, want %q", name, got, want)
		}
	}
	parts := alternatives(t, h.Get("Content-Type"), msg.Body)
	if got, want := crlfToLF(parts["text/plain"]), m.Text; got != want {
		t.Errorf("text/plain part:\n%q\nwant\n%q", got, want)
	}
	if got, want := crlfToLF(parts["text/html"]), m.HTML; got != want {
		t.Errorf("text/html part:\n%q\nwant\n%q", got, want)
	}

	second, err := netmail.ReadMessage(bytes.NewReader(got[1].Data))
	if err != nil {
		t.Fatalf("second message does not parse: %v", err)
	}
	if a, b := h.Get("Message-ID"), second.Header.Get("Message-ID"); a == b {
		t.Errorf("two messages share the Message-ID %s", a)
	}
}

// alternatives reads a multipart/alternative body and returns each part's decoded body by
// media type, checking the charset is UTF-8.
func alternatives(t *testing.T, contentType string, body io.Reader) map[string]string {
	t.Helper()
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", contentType, err)
	}
	parts := map[string]string{}
	r := multipart.NewReader(body, params["boundary"])
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading part: %v", err)
		}
		pType, pParams, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("part Content-Type %q: %v", p.Header.Get("Content-Type"), err)
		}
		if !strings.EqualFold(pParams["charset"], "utf-8") {
			t.Errorf("%s charset %q, want UTF-8", pType, pParams["charset"])
		}
		var dec io.Reader = p
		switch enc := strings.ToLower(p.Header.Get("Content-Transfer-Encoding")); enc {
		case "quoted-printable":
			dec = quotedprintable.NewReader(p)
		case "base64":
			dec = base64.NewDecoder(base64.StdEncoding, p)
		default:
			t.Errorf("%s Content-Transfer-Encoding %q, want quoted-printable or base64", pType, enc)
		}
		b, err := io.ReadAll(dec)
		if err != nil {
			t.Fatalf("decoding %s: %v", pType, err)
		}
		parts[pType] = string(b)
	}
	if len(parts) != 2 || parts["text/plain"] == "" || parts["text/html"] == "" {
		t.Errorf("parts %v, want text/plain and text/html", keys(parts))
	}
	return parts
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func crlfToLF(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

func TestSendSecurityModes(t *testing.T) {
	tests := []struct {
		name     string
		security smtptest.Security
		mechs    []string
		auth     bool
	}{
		{name: "STARTTLS with AUTH LOGIN", security: smtptest.StartTLS, mechs: []string{"LOGIN"}, auth: true},
		{name: "implicit TLS with AUTH PLAIN", security: smtptest.ImplicitTLS, auth: true},
		{name: "implicit TLS without AUTH", security: smtptest.ImplicitTLS},
		{name: "plain relay (starttls=false)", security: smtptest.Plain},
		{name: "plain relay on loopback with AUTH", security: smtptest.Plain, auth: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := smtptest.Options{Security: tt.security, Mechanisms: tt.mechs}
			if tt.auth {
				opts.Username, opts.Password = user, password
			}
			srv := smtptest.Start(t, opts)
			cfg := config(srv, tt.security)
			if tt.auth {
				cfg.Username, cfg.Password = user, password
			}
			send(t, newSender(t, cfg), rendered(to))
			if got := srv.Wait(t, 1, waitFor); len(got) != 1 {
				t.Errorf("server got %d messages, want 1", len(got))
			}
		})
	}
}

func TestSendRefusesInsecureConnections(t *testing.T) {
	t.Run("STARTTLS required but not offered", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{Security: smtptest.Plain, Username: user, Password: password})
		cfg := config(srv, smtptest.Plain)
		cfg.TLS = mail.STARTTLS
		cfg.Username, cfg.Password = user, password
		err := newSender(t, cfg).Send(context.Background(), rendered(to))
		checkTemporary(t, err, mail.CodeUnavailable)
		if err != nil && !strings.Contains(err.Error(), "STARTTLS") {
			t.Errorf("error %q does not mention STARTTLS", err)
		}
		if n := srv.Count(); n != 0 {
			t.Errorf("server got %d messages, want 0", n)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		srv, cfg := start(t, smtptest.StartTLS)
		cfg.TLSConfig = nil // system roots do not know the test server's certificate
		err := newSender(t, cfg).Send(context.Background(), rendered(to))
		checkTemporary(t, err, mail.CodeUnavailable)
		if n := srv.Count(); n != 0 {
			t.Errorf("server got %d messages, want 0", n)
		}
	})
	t.Run("implicit TLS to a plain server", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{Security: smtptest.Plain})
		cfg := config(srv, smtptest.Plain)
		cfg.TLS = mail.Implicit
		cfg.Timeout = time.Second // the server waits for EHLO while the client waits for TLS
		checkTemporary(t, newSender(t, cfg).Send(context.Background(), rendered(to)), mail.CodeUnavailable)
	})
}

func TestSendWrongPassword(t *testing.T) {
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		t.Run(mech, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{Security: smtptest.StartTLS,
				Username: user, Password: "the-right-one", Mechanisms: []string{mech}})
			cfg := config(srv, smtptest.StartTLS)
			cfg.Username, cfg.Password = user, password
			err := newSender(t, cfg).Send(context.Background(), rendered(to))
			checkTemporary(t, err, mail.CodeAuthFailed)
			if err != nil && !strings.Contains(err.Error(), "535") {
				t.Errorf("error %q does not carry the server's 535", err)
			}
			if n := srv.Count(); n != 0 {
				t.Errorf("server got %d messages, want 0", n)
			}
		})
	}
}

func TestSendServerReplies(t *testing.T) {
	tests := []struct {
		name      string
		stage     smtptest.Stage
		code      int
		permanent bool
		wantCode  string
	}{
		{name: "550 mailbox unavailable", stage: smtptest.AtRcpt, code: 550, permanent: true, wantCode: mail.CodeRejected},
		{name: "553 mailbox name not allowed", stage: smtptest.AtRcpt, code: 553, permanent: true, wantCode: mail.CodeRejected},
		{name: "554 message refused", stage: smtptest.AtData, code: 554, permanent: true, wantCode: mail.CodeRejected},
		{name: "451 at RCPT TO", stage: smtptest.AtRcpt, code: 451, wantCode: mail.CodeDeferred},
		{name: "452 at data", stage: smtptest.AtData, code: 452, wantCode: mail.CodeDeferred},
		{name: "550 sender refused", stage: smtptest.AtMail, code: 550, wantCode: mail.CodeSenderRejected},
		{name: "421 on a fresh connection", stage: smtptest.AtMail, code: 421, wantCode: mail.CodeDeferred},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cfg := start(t, smtptest.StartTLS)
			s := newSender(t, cfg)
			srv.Reject(tt.stage, tt.code, 1)
			err := s.Send(context.Background(), rendered(to))
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			if got := outbox.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%q) = %v, want %v", err, got, tt.permanent)
			}
			if got := kilt.ErrorCode(err); got != tt.wantCode {
				t.Errorf("code %q, want %q (error %q)", got, tt.wantCode, err)
			}
			if !strings.Contains(err.Error(), fmt.Sprint(tt.code)) {
				t.Errorf("error %q does not carry the reply code %d", err, tt.code)
			}
			// The refusal did not spoil the connection (but 421 closes it).
			send(t, s, rendered(to))
			srv.Wait(t, 1, waitFor)
			wantConns := 1
			if tt.code == 421 {
				wantConns = 2
			}
			if got := srv.Connections(); got != wantConns {
				t.Errorf("server saw %d connections, want %d", got, wantConns)
			}
		})
	}
}

func TestSendBadRecipient(t *testing.T) {
	tests := []struct{ name, to string }{
		{name: "empty", to: ""},
		{name: "no domain", to: "aigerim"},
		{name: "two addresses", to: "a@example.kz, b@example.kz"},
		{name: "display name", to: "Aigerim <a@example.kz>"},
		{name: "header injection", to: "a@example.kz\r\nBcc: victim@example.com"},
		{name: "bare LF", to: "a@example.kz\nBcc: victim@example.com"},
	}
	srv, cfg := start(t, smtptest.StartTLS)
	s := newSender(t, cfg)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Send(context.Background(), rendered(tt.to))
			if !outbox.IsPermanent(err) {
				t.Errorf("Send(%q) = %v, want a permanent error", tt.to, err)
			}
			if got := kilt.ErrorCode(err); got != mail.CodeBadRecipient {
				t.Errorf("code %q, want %q", got, mail.CodeBadRecipient)
			}
		})
	}
	if n := srv.Connections(); n != 0 {
		t.Errorf("server saw %d connections, want 0", n)
	}
}

func TestSendServerDownThenUp(t *testing.T) {
	srv, cfg := start(t, smtptest.StartTLS)
	s := newSender(t, cfg)
	send(t, s, rendered(to))

	srv.SetDown(true)
	for i := range 2 {
		err := s.Send(context.Background(), rendered(to))
		if err == nil {
			t.Fatalf("Send %d while down succeeded", i)
		}
		checkTemporary(t, err, mail.CodeUnavailable)
	}
	srv.SetDown(false)
	send(t, s, rendered(to))
	if got := srv.Wait(t, 2, waitFor); len(got) != 2 {
		t.Errorf("server got %d messages, want 2", len(got))
	}
}

func TestSendRedialsDeadConnection(t *testing.T) {
	tests := []struct {
		name string
		kill func(*smtptest.Server)
	}{
		{name: "idle timeout (421)", kill: (*smtptest.Server).DropIdle},
		{name: "restart (connection reset)", kill: func(srv *smtptest.Server) { srv.SetDown(true); srv.SetDown(false) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cfg := start(t, smtptest.ImplicitTLS)
			s := newSender(t, cfg)
			send(t, s, rendered(to))
			tt.kill(srv)
			send(t, s, rendered(to))
			srv.Wait(t, 2, waitFor)
			if got := srv.Connections(); got != 2 {
				t.Errorf("server saw %d connections, want 2 (one redial)", got)
			}
		})
	}
}

func TestSendReusesConnections(t *testing.T) {
	const messages, workers = 200, 8
	srv, cfg := start(t, smtptest.StartTLS)
	cfg.Conns = 2
	s := newSender(t, cfg)

	var wg sync.WaitGroup
	errs := make(chan error, messages)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < messages; i += workers {
				errs <- s.Send(context.Background(), rendered(fmt.Sprintf("user%d@example.kz", i)))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	srv.Wait(t, messages, waitFor)
	if got := srv.Connections(); got < 1 || got > cfg.Conns {
		t.Errorf("server saw %d connections for %d messages, want 1 to %d", got, messages, cfg.Conns)
	}
}

func TestSendTimeouts(t *testing.T) {
	// A server that accepts and then says nothing: the client waits for its greeting.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	base := mail.Config{Host: "127.0.0.1", Port: port, TLS: mail.None, From: from}

	t.Run("Config.Timeout", func(t *testing.T) {
		cfg := base
		cfg.Timeout = 100 * time.Millisecond
		err := newSender(t, cfg).Send(context.Background(), rendered(to))
		checkTemporary(t, err, mail.CodeUnavailable)
	})
	t.Run("context deadline", func(t *testing.T) {
		cfg := base
		cfg.Timeout = time.Hour
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := newSender(t, cfg).Send(ctx, rendered(to))
		checkTemporary(t, err, mail.CodeUnavailable)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %q is not context.DeadlineExceeded", err)
		}
	})
	t.Run("context canceled", func(t *testing.T) {
		cfg := base
		cfg.Timeout = time.Hour
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := newSender(t, cfg).Send(ctx, rendered(to))
		checkTemporary(t, err, mail.CodeUnavailable)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %q is not context.Canceled", err)
		}
	})
}

func TestClose(t *testing.T) {
	srv, cfg := start(t, smtptest.StartTLS)
	s := newSender(t, cfg)
	send(t, s, rendered(to))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	checkTemporary(t, s.Send(context.Background(), rendered(to)), mail.CodeClosed)
	if n := srv.Count(); n != 1 {
		t.Errorf("server got %d messages, want 1", n)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := mail.Config{Host: "smtp.example.kz", From: from, Username: user, Password: password}
	tests := []struct {
		name   string
		change func(*mail.Config)
	}{
		{name: "no host", change: func(c *mail.Config) { c.Host = "" }},
		{name: "bad port", change: func(c *mail.Config) { c.Port = 70000 }},
		{name: "bad From", change: func(c *mail.Config) { c.From = "Kilt" }},
		{name: "too many connections", change: func(c *mail.Config) { c.Conns = 1000 }},
		{name: "credentials in clear text over a network", change: func(c *mail.Config) { c.TLS = mail.None }},
		{name: "password without user", change: func(c *mail.Config) { c.Username = "" }},
		{name: "unknown TLS mode", change: func(c *mail.Config) { c.TLS = 7 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			s, err := mail.New(cfg)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded, want an error")
			}
			if got := kilt.ErrorCode(err); got != mail.CodeConfig {
				t.Errorf("code %q, want %q", got, mail.CodeConfig)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
	s, err := mail.New(good)
	if err != nil {
		t.Fatalf("New(good) = %v", err)
	}
	s.Close()
}

// BenchmarkSend measures messages per second to a local STARTTLS server over reused
// connections (the target is ≥ 500/s, docs/performance.md).
func BenchmarkSend(b *testing.B) {
	srv := smtptest.Start(b, smtptest.Options{Security: smtptest.StartTLS, Username: user, Password: password, Keep: 1})
	cfg := config(srv, smtptest.StartTLS)
	cfg.Username, cfg.Password = user, password
	cfg.Conns = 4
	s := newSender(b, cfg)
	m := rendered(to)
	b.ReportAllocs()
	b.SetParallelism(2)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Send(context.Background(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestRefusalTextNotKept: a server's refusal once the recipient is named may echo it in a form
// no scrubbing recognises (the local part alone, an address it rewrote). The error, which the
// outbox logs and stores for `kilt outbox list`, keeps the reply's status and enhanced status
// codes, never its text.
func TestRefusalTextNotKept(t *testing.T) {
	const local = "aigerim" // to's local part
	for _, stage := range []smtptest.Stage{smtptest.AtRcpt, smtptest.AtData} {
		srv, cfg := start(t, smtptest.StartTLS)
		s := newSender(t, cfg)
		srv.RejectReply(stage, 550, "5.1.1", "<"+local+">: no such user here, forwarded as a.k@relay.example.kz", 1)
		err := s.Send(context.Background(), rendered(to))
		if err == nil || !outbox.IsPermanent(err) || kilt.ErrorCode(err) != mail.CodeRejected {
			t.Fatalf("stage %d: Send = %v, want a permanent %s", stage, err, mail.CodeRejected)
		}
		msg := err.Error()
		for _, leak := range []string{local, "relay.example", "no such user"} {
			if strings.Contains(strings.ToLower(msg), leak) {
				t.Errorf("stage %d: error %q holds %q from the server's reply", stage, msg, leak)
			}
		}
		if !strings.Contains(msg, "550 5.1.1") {
			t.Errorf("stage %d: error %q lacks the status and enhanced status code", stage, msg)
		}
	}
}
