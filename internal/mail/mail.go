// Package mail is Kilt's SMTP sender, an outbox.Sender. github.com/wneessen/go-mail composes
// the messages, connects (EHLO, STARTTLS, AUTH with its mechanism discovery), runs each
// transaction and classifies its replies; this package adds the pool (Config.Conns
// connections reused, closed after IdleTimeout, a dead pooled one replaced once before a
// failure is reported), the connection whose deadlines the Send context caps, and Kilt's
// errors.
//
// Send returns nil once the server accepted the message; outbox.Permanent errors for a To
// that is not one bare address and for a permanent (5xx) refusal of the recipient or the
// message; a temporary *kilt.Error (a Code constant) for everything else, a refused login
// or sender address included: those are the operator's to fix, and the messages wait.
// smtp:// requires STARTTLS, smtps:// is TLS from the first byte, ?starttls=false is clear
// text, with credentials only to a loopback host. Errors never hold the password, the body,
// or a reply's text once the recipient is named (docs/security.md). New does not connect.
package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"

	"kilt"
	"kilt/internal/outbox"
)

// TLSMode is how the connection to the SMTP server is protected.
type TLSMode int

// The TLS modes. The zero value is STARTTLS, the safe default.
const (
	STARTTLS TLSMode = iota // plain connection upgraded by STARTTLS, which is required (smtp://)
	Implicit                // TLS from the first byte (smtps://, port 465)
	None                    // clear text (smtp://…?starttls=false): a local relay only
)

func (m TLSMode) String() string {
	switch m {
	case STARTTLS:
		return "starttls"
	case Implicit:
		return "implicit"
	case None:
		return "none"
	}
	return "unknown"
}

// Defaults.
const (
	DefaultTimeout = 10 * time.Second
	DefaultConns   = 2
	// IdleTimeout is how long an unused connection is kept open. Servers commonly drop
	// idle clients after a minute or more (RFC 5321 §4.5.3.2.7 suggests 5 minutes); closing
	// first keeps us from writing into a connection the server is about to close.
	IdleTimeout = 30 * time.Second
	maxConns    = 256 // as many as outbox workers may be configured
)

// Config configures a Sender. ParseURL builds one from KILT_SMTP_URL and KILT_MAIL_FROM.
type Config struct {
	Host               string
	Port               int // 0: 587, or 465 for Implicit
	Username, Password string
	TLS                TLSMode
	// From is the From header, e.g. "Kilt <no-reply@example.kz>"; its address is also the
	// envelope sender and its domain that of the Message-IDs.
	From string
	// HelloName is the EHLO name; empty: this machine's host name.
	HelloName string
	// Timeout bounds the connection and each message's transaction; 0: DefaultTimeout.
	Timeout time.Duration
	// TLSConfig, if set, is used (cloned) instead of the default: the system roots, ServerName
	// = Host. A MinVersion below TLS 1.2 is raised to it; an empty ServerName is set to Host.
	TLSConfig *tls.Config
	// Conns is how many connections are kept and used at once; 0: DefaultConns.
	Conns int
}

// Sender sends e-mail over SMTP. It is safe for concurrent use; at most Config.Conns
// messages are in transit at once, other Send calls wait for a connection (or their
// context).
type Sender struct {
	cfg      Config
	tlsConf  *tls.Config
	from     *mail.Address
	domain   string // of the Message-IDs
	now      kilt.Clock
	idleTime time.Duration

	slots chan struct{} // a token per connection that may be in use
	stop  chan struct{} // closed by Close
	swept chan struct{} // closed when the idle sweep has stopped

	mu     sync.Mutex
	idle   []*conn // most recently used last
	closed bool
}

// New validates cfg and returns a Sender. It does not connect: the first Send does.
func New(cfg Config) (*Sender, error) {
	return newSender(cfg, time.Now)
}

// newSender is New with the clock that decides when a connection has idled too long.
func newSender(cfg Config, now kilt.Clock) (*Sender, error) {
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, configError("mail From %q is not a valid address (want e.g. Kilt <no-reply@example.kz>)", cfg.From)
	}
	s := &Sender{
		cfg:      cfg,
		tlsConf:  tlsConfig(cfg),
		from:     from,
		domain:   from.Address[strings.LastIndexByte(from.Address, '@')+1:],
		now:      now,
		idleTime: IdleTimeout,
		slots:    make(chan struct{}, cfg.Conns),
		stop:     make(chan struct{}),
		swept:    make(chan struct{}),
	}
	go s.sweepLoop()
	return s, nil
}

func checkConfig(cfg *Config) error {
	switch {
	case cfg.Host == "":
		return configError("SMTP host is empty")
	case strings.ContainsAny(cfg.Host, " \t\r\n/@"):
		return configError("SMTP host %q is not a host name or address", cfg.Host)
	case cfg.Port < 0 || cfg.Port > 65535:
		return configError("SMTP port %d is not from 1 to 65535", cfg.Port)
	case cfg.TLS < STARTTLS || cfg.TLS > None:
		return configError("unknown TLS mode %d", int(cfg.TLS))
	case strings.ContainsAny(cfg.HelloName, " \t\r\n"):
		return configError("EHLO name %q contains white space", cfg.HelloName)
	case strings.ContainsAny(cfg.Username, "\r\n"):
		return configError("SMTP user name contains a line break")
	case cfg.Username == "" && cfg.Password != "":
		return configError("SMTP password given without a user name")
	case cfg.Timeout < 0:
		return configError("SMTP timeout %v is negative", cfg.Timeout)
	case cfg.Conns < 0 || cfg.Conns > maxConns:
		return configError("SMTP connections %d is not from 1 to %d", cfg.Conns, maxConns)
	case cfg.TLS == None && cfg.Username != "" && !isLoopback(cfg.Host):
		// Sending the password in clear text over a network would give it to anyone on the
		// path; a relay on this machine is the only case where that is acceptable.
		return configError("SMTP credentials without TLS are only allowed to a loopback host, not %q: use smtps:// or STARTTLS", cfg.Host)
	}
	if cfg.Port == 0 {
		cfg.Port = 587
		if cfg.TLS == Implicit {
			cfg.Port = 465
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Conns == 0 {
		cfg.Conns = DefaultConns
	}
	return nil
}

// isLoopback reports whether host names this machine, with the names go-mail accepts for
// unencrypted authentication.
func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func tlsConfig(cfg Config) *tls.Config {
	var c *tls.Config
	if cfg.TLSConfig != nil {
		c = cfg.TLSConfig.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = cfg.Host
	}
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// Send delivers m over SMTP. It returns nil once the server has accepted the message, an
// outbox.Permanent error when the server refused the recipient or the message (5xx) or the
// address is unusable, and a temporary error otherwise.
func (s *Sender) Send(ctx context.Context, m outbox.Rendered) error {
	to, err := recipient(m.To)
	if err != nil {
		return err
	}
	msg := s.compose(m, to)
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()

	for attempt := 0; ; attempt++ {
		var c *conn
		reused := false
		if attempt == 0 {
			c, reused, err = s.conn(ctx)
		} else {
			c, err = s.dial(ctx)
		}
		if err != nil {
			return err
		}
		f := c.transact(ctx, s.cfg.Timeout, msg)
		if f == nil || f.connOK {
			s.put(c)
		} else {
			c.abandon()
		}
		if f == nil {
			return nil
		}
		// A reused connection may have been closed by the server while it sat in the pool
		// (its idle timeout, a restart); that says nothing about the message, so send it
		// again on a fresh connection before reporting anything. The pool hands out the
		// connection used last, so the others idle in it sat there at least as long: they
		// are dropped too, rather than failing the next messages one by one.
		if attempt == 0 && reused && f.connDead() && contextErr(ctx) == nil {
			s.dropIdle()
			continue
		}
		return s.sendError(ctx, f, to)
	}
}

// Close stops the idle sweep, waits for the sends in flight, and closes every connection.
// Send after Close returns a temporary error. Close is safe to call more than once.
func (s *Sender) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	<-s.swept
	for range cap(s.slots) { // every slot back: no send is in flight
		s.slots <- struct{}{}
	}
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, c := range idle {
		c.quit(s.cfg.Timeout)
	}
	return nil
}

// acquire waits for a connection slot.
func (s *Sender) acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
	case <-s.stop:
		return errClosed()
	case <-ctx.Done():
		return &kilt.Error{Kind: kilt.KindUnavailable, Code: CodeUnavailable,
			Message: "smtp: waiting for a connection", Err: ctx.Err()}
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		<-s.slots
		return errClosed()
	}
	return nil
}

func (s *Sender) release() { <-s.slots }

// conn returns an idle connection that has not idled too long, or a new one; reused
// reports which.
func (s *Sender) conn(ctx context.Context) (c *conn, reused bool, err error) {
	now := s.now()
	for {
		s.mu.Lock()
		n := len(s.idle)
		if n == 0 {
			s.mu.Unlock()
			break
		}
		c = s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		if now.Sub(c.used) < s.idleTime {
			return c, true, nil
		}
		c.quit(s.cfg.Timeout)
	}
	c, err = s.dial(ctx)
	return c, false, err
}

// dropIdle closes every pooled connection without a word (they are presumed dead).
func (s *Sender) dropIdle() {
	s.mu.Lock()
	idle := s.idle
	s.idle = nil
	s.mu.Unlock()
	for _, c := range idle {
		c.abandon()
	}
}

// put returns a healthy connection to the pool.
func (s *Sender) put(c *conn) {
	c.used = s.now()
	s.mu.Lock()
	if !s.closed {
		s.idle = append(s.idle, c)
		c = nil
	}
	s.mu.Unlock()
	if c != nil {
		c.quit(s.cfg.Timeout)
	}
}

// sweepLoop closes connections that have idled too long, until Close.
func (s *Sender) sweepLoop() {
	defer close(s.swept)
	tick := time.NewTicker(s.idleTime / 2)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			s.sweep()
		}
	}
}

// sweep closes the idle connections unused for IdleTimeout.
func (s *Sender) sweep() {
	now := s.now()
	var old []*conn
	s.mu.Lock()
	keep := s.idle[:0]
	for _, c := range s.idle {
		if now.Sub(c.used) >= s.idleTime {
			old = append(old, c)
		} else {
			keep = append(keep, c)
		}
	}
	clear(s.idle[len(keep):])
	s.idle = keep
	s.mu.Unlock()
	for _, c := range old {
		c.quit(s.cfg.Timeout)
	}
}

// recipient checks that to is one bare address without line breaks and returns it.
func recipient(to string) (string, error) {
	bad := func(why string) error {
		return outbox.Permanent(&kilt.Error{Kind: kilt.KindInvalid, Code: CodeBadRecipient,
			Message: "smtp: recipient " + why})
	}
	if strings.ContainsAny(to, "\r\n") {
		return "", bad("contains a line break")
	}
	a, err := mail.ParseAddress(to)
	if err != nil || a.Name != "" || a.Address != strings.Trim(strings.TrimSpace(to), "<>") {
		return "", bad("is not a single e-mail address")
	}
	return a.Address, nil
}

// compose builds m as a MIME message to the address to; go-mail writes it out when sending.
func (s *Sender) compose(m outbox.Rendered, to string) *gomail.Msg {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	msg.ToMailAddress(&mail.Address{Address: to})
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(randomID() + "@" + s.domain)
	msg.SetDateWithValue(s.now())
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	if validLang(m.Lang) {
		msg.SetGenHeader(gomail.HeaderContentLang, m.Lang)
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg
}

// validLang reports whether lang looks like a language tag (kk, ru, en, kk-KZ); anything
// else is left out of the headers.
func validLang(lang string) bool {
	if lang == "" || len(lang) > 35 {
		return false
	}
	for _, r := range lang {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// randomID returns 128 random bits in hex, for Message-IDs.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// dialAddr joins host and port for net.Dial, bracketing IPv6 literals.
func dialAddr(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
