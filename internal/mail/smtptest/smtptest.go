// Package smtptest runs a real SMTP server (emersion/go-smtp) inside a test process, for the
// tests of Kilt's SMTP sender and of everything that delivers through it (the outbox fault
// tests). The server listens on 127.0.0.1 only, speaks plain SMTP, STARTTLS or implicit TLS
// with a certificate generated at start, can require AUTH PLAIN/LOGIN, and fails on demand:
// it rejects the next N messages with a chosen reply, refuses connections while "down", and
// drops idle connections the way a server's idle timeout does.
//
// A Server is safe for concurrent use. It keeps at most Options.Keep messages (all are
// counted), and is closed by the test's cleanup.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Security is how clients reach the server.
type Security int

// The ways in.
const (
	Plain       Security = iota // no TLS (a local relay)
	StartTLS                    // plain connection upgraded by STARTTLS
	ImplicitTLS                 // TLS from the first byte (smtps, port 465)
)

// Stage is the SMTP command at which an injected failure is replied.
type Stage int

// The stages a failure can be injected at.
const (
	AtRcpt Stage = iota // RCPT TO (the usual place for 550 mailbox unavailable)
	AtMail              // MAIL FROM
	AtData              // the end of the message data
)

// Options configure a Server. The zero value is a plain server without AUTH.
type Options struct {
	Security Security
	// Username and Password, when Username is set, make AUTH required before MAIL FROM.
	Username, Password string
	// Mechanisms are the AUTH mechanisms offered: "PLAIN", "LOGIN" (default both).
	Mechanisms []string
	// Keep is how many received messages Messages returns at most (default 10,000); later
	// messages are counted but not kept, so benchmarks stay bounded in memory.
	Keep int
}

// Message is a message as the server received it.
type Message struct {
	From string   // envelope sender (MAIL FROM)
	To   []string // envelope recipients (RCPT TO)
	Data []byte   // the raw message: headers and body, dot-unstuffed
}

// Server is a running test SMTP server.
type Server struct {
	opts   Options
	smtp   *smtp.Server
	ln     net.Listener
	pool   *x509.CertPool
	served chan struct{}

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced whenever a message arrives
	messages []Message
	count    int
	accepted int
	down     bool
	reject   map[Stage]rejection
	raw      map[net.Conn]struct{}   // every open connection, below TLS
	sessions map[*smtp.Conn]struct{} // connections that have said EHLO
	closed   bool
}

type rejection struct {
	code, n  int
	enhanced smtp.EnhancedCode // zero: class.0.0
	text     string            // "": "Injected failure NNN"
}

// Start starts a server on 127.0.0.1 (a free port) and registers its Close with t.Cleanup.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Keep <= 0 {
		opts.Keep = 10_000
	}
	if opts.Mechanisms == nil {
		opts.Mechanisms = []string{sasl.Plain, sasl.Login}
	}
	s := &Server{
		opts:     opts,
		served:   make(chan struct{}),
		changed:  make(chan struct{}),
		reject:   map[Stage]rejection{},
		raw:      map[net.Conn]struct{}{},
		sessions: map[*smtp.Conn]struct{}{},
	}
	srv := smtp.NewServer(backend{s})
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0) // dropped connections are expected here
	srv.MaxMessageBytes = 1 << 20
	srv.MaxRecipients = 10
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.AllowInsecureAuth = opts.Security == Plain
	s.smtp = srv

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.ln = ln
	var l net.Listener = &listener{Listener: ln, srv: s}
	if opts.Security != Plain {
		cert, pool, err := newCertificate()
		if err != nil {
			ln.Close()
			t.Fatalf("smtptest: certificate: %v", err)
		}
		s.pool = pool
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if opts.Security == StartTLS {
			srv.TLSConfig = cfg
		} else {
			l = tls.NewListener(l, cfg)
		}
	}
	go func() {
		defer close(s.served)
		_ = srv.Serve(l)
	}()
	t.Cleanup(s.Close)
	return s
}

// Addr returns the server's address, "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host returns the host clients dial: "127.0.0.1".
func (s *Server) Host() string { return "127.0.0.1" }

// Port returns the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// CertPool returns a pool holding the server's self-signed certificate (valid for 127.0.0.1,
// ::1 and localhost), for the client's tls.Config.RootCAs; nil for a Plain server.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Reject makes the server refuse the next n messages at stage with the reply code (4xx or
// 5xx), e.g. Reject(AtRcpt, 550, 1) or Reject(AtData, 451, 3). A later call for the same
// stage replaces the earlier one.
func (s *Server) Reject(stage Stage, code, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject[stage] = rejection{code: code, n: n}
}

// RejectReply is Reject with the whole reply chosen: the enhanced status code (e.g. "5.1.1")
// and the text, as a server that echoes the recipient or a rewritten address writes it.
func (s *Server) RejectReply(stage Stage, code int, enhanced, text string, n int) {
	var e smtp.EnhancedCode
	if _, err := fmt.Sscanf(enhanced, "%d.%d.%d", &e[0], &e[1], &e[2]); err != nil {
		panic("smtptest: enhanced status code " + strconv.Quote(enhanced) + " is not N.N.N")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject[stage] = rejection{code: code, n: n, enhanced: e, text: text}
}

// SetDown sets whether the server is down. Going down drops every open connection without a
// word, as a crash does; while down, new connections are closed as soon as they are accepted.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	var drop []net.Conn
	if down {
		for c := range s.raw {
			drop = append(drop, c)
		}
	}
	s.mu.Unlock()
	for _, c := range drop {
		c.Close()
	}
}

// DropIdle ends every connection that has said EHLO with "421 4.4.2 Idle timeout" and closes
// it, as a server whose idle timeout has passed does. Call it only while no client is in the
// middle of a command.
func (s *Server) DropIdle() {
	s.mu.Lock()
	conns := make([]*smtp.Conn, 0, len(s.sessions))
	for c := range s.sessions {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_, _ = io.WriteString(c.Conn(), "421 4.4.2 Idle timeout, closing connection\r\n")
		c.Close()
	}
}

// Connections returns how many connections the server has accepted (not counting those
// refused while down).
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Count returns how many messages the server has accepted.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// Messages returns the messages received so far (at most Options.Keep), oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// Wait waits until the server has accepted at least n messages and returns the kept ones;
// it fails the test if that takes longer than timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		count, changed := s.count, s.changed
		s.mu.Unlock()
		if count >= n {
			return s.Messages()
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("smtptest: got %d messages after %v, want %d", count, timeout, n)
			return nil
		}
	}
}

// Close stops the server and closes every connection. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	_ = s.smtp.Close()
	// go-smtp closes only the listeners Serve has registered; Close may come first.
	_ = s.ln.Close()
	<-s.served
}

// admit counts and tracks an accepted connection; it reports false while the server is down.
func (s *Server) admit(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down || s.closed {
		return false
	}
	s.accepted++
	s.raw[c] = struct{}{}
	return true
}

func (s *Server) forget(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.raw, c)
}

// injected returns the failure to reply at stage, if one is pending, and uses it up.
func (s *Server) injected(stage Stage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reject[stage]
	if r.n <= 0 {
		return nil
	}
	r.n--
	s.reject[stage] = r
	e := &smtp.SMTPError{Code: r.code, EnhancedCode: r.enhanced, Message: r.text}
	if e.EnhancedCode == (smtp.EnhancedCode{}) {
		e.EnhancedCode = smtp.EnhancedCode{r.code / 100, 0, 0}
	}
	if e.Message == "" {
		e.Message = "Injected failure " + strconv.Itoa(r.code)
	}
	return e
}

func (s *Server) store(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count++
	if len(s.messages) < s.opts.Keep {
		s.messages = append(s.messages, m)
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// listener admits or refuses connections and tracks them so SetDown can drop them.
type listener struct {
	net.Listener
	srv *Server
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.srv.admit(c) {
			return &trackedConn{Conn: c, srv: l.srv}, nil
		}
		c.Close()
	}
}

type trackedConn struct {
	net.Conn
	srv  *Server
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.srv.forget(c.Conn) })
	return c.Conn.Close()
}

type backend struct{ srv *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.srv.mu.Lock()
	b.srv.sessions[c] = struct{}{}
	b.srv.mu.Unlock()
	return &session{srv: b.srv, conn: c}, nil
}

// session is one client's conversation; go-smtp calls it from that connection's goroutine.
type session struct {
	srv    *Server
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (s *session) AuthMechanisms() []string {
	if s.srv.opts.Username == "" {
		return nil
	}
	return s.srv.opts.Mechanisms
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if s.srv.opts.Username == "" || !slices.Contains(s.srv.opts.Mechanisms, mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	check := func(username, password string) error {
		if username != s.srv.opts.Username || password != s.srv.opts.Password {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, username, password string) error {
			return check(username, password)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.opts.Username != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	if err := s.srv.injected(AtMail); err != nil {
		return err
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.srv.injected(AtRcpt); err != nil {
		return err
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := s.srv.injected(AtData); err != nil {
		return err
	}
	s.srv.store(Message{From: s.from, To: slices.Clone(s.to), Data: data})
	return nil
}

func (s *session) Reset() {
	s.from = ""
	s.to = nil
}

func (s *session) Logout() error {
	s.srv.mu.Lock()
	delete(s.srv.sessions, s.conn)
	s.srv.mu.Unlock()
	return nil
}

// loginServer is the server side of AUTH LOGIN (go-sasl has only the client side): it asks
// for the user name, then the password.
type loginServer struct {
	check    func(username, password string) error
	step     int
	username string
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step++
		if len(response) > 0 { // the user name sent as an initial response
			l.username = string(response)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.step++
		l.username = string(response)
		return []byte("Password:"), false, nil
	case 2:
		l.step++
		return nil, true, l.check(l.username, string(response))
	}
	return nil, false, errors.New("smtptest: unexpected AUTH LOGIN step")
}

// newCertificate makes a self-signed ECDSA certificate for the loopback names, and a pool
// that trusts it.
func newCertificate() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("parse: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
