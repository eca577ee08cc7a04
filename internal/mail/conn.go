package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// quitTimeout bounds the polite QUIT when a healthy connection is closed.
const quitTimeout = 2 * time.Second

// The SMTP steps of a transaction, as named in errors.
const (
	stepConnect = "connect"
	stepMail    = "MAIL FROM"
	stepRcpt    = "RCPT TO"
	stepData    = "DATA"
	stepBody    = "message data"
	stepOther   = "sending"
)

// steps names the step of each of go-mail's reasons for a failed send.
var steps = map[gomail.SendErrReason]string{
	gomail.ErrSMTPMailFrom:  stepMail,
	gomail.ErrSMTPRcptTo:    stepRcpt,
	gomail.ErrSMTPData:      stepData,
	gomail.ErrWriteContent:  stepBody,
	gomail.ErrSMTPDataClose: stepBody,
}

// conn is one SMTP connection, used by one Send at a time.
type conn struct {
	client *smtp.Client
	gc     *gomail.Client // the go-mail client that dialled it, which runs the transactions
	dc     *deadlineConn
	used   time.Time // when its last transaction ended, for the idle timeout
}

// failure is how an SMTP step failed: with a reply (code > 0), or without one (err).
type failure struct {
	step      string
	code      int
	enhanced  string // the reply's enhanced status code (RFC 3463), "" if it has none
	text      string // the reply's text, kept only for replies before the recipient is named
	temporary bool   // go-mail's verdict on the reply: 4xx
	err       error
	connOK    bool // the connection can carry the next transaction
}

// connDead reports whether the connection is gone: a network error or the server's 421
// ("service not available, closing transmission channel").
func (f *failure) connDead() bool { return f.code == 421 || f.code == 0 }

// dial opens, secures and authenticates a connection through go-mail. The context bounds
// all of it, as does Config.Timeout.
func (s *Sender) dial(ctx context.Context) (*conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, s.sendError(ctx, &failure{step: stepConnect, err: err}, "")
	}
	var (
		dc     *deadlineConn
		unbind func()
	)
	// go-mail calls this once per dial; keeping the raw connection is what lets the
	// context reach every later read and write.
	dialFn := func(dctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		raw, err := d.DialContext(dctx, "tcp", dialAddr(s.cfg.Host, s.cfg.Port))
		if err != nil {
			return nil, err
		}
		dc = &deadlineConn{Conn: raw}
		unbind = dc.bind(ctx)
		if s.cfg.TLS != Implicit {
			return dc, nil
		}
		tc := tls.Client(dc, s.tlsConf)
		if err := tc.HandshakeContext(dctx); err != nil {
			return nil, err
		}
		return tc, nil
	}
	// go-mail's STARTTLS policy: mandatory for STARTTLS (an error, not a downgrade, when the
	// server does not offer it); off for Implicit, whose TLS dialFn already set up.
	policy := gomail.NoTLS
	if s.cfg.TLS == STARTTLS {
		policy = gomail.TLSMandatory
	}
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithTLSConfig(s.tlsConf),
		gomail.WithTLSPolicy(policy),
		gomail.WithDialContextFunc(dialFn),
		// A pooled connection is checked by using it (Send retries once on a fresh one), and
		// a successful transaction needs no RSET (RFC 5321 §4.1.1.4): both would cost a round
		// trip per message.
		gomail.WithoutNoop(),
		gomail.WithoutRset(),
	}
	if s.cfg.HelloName != "" {
		opts = append(opts, gomail.WithHELO(s.cfg.HelloName))
	}
	if s.cfg.Username != "" {
		// PLAIN, or LOGIN when PLAIN is not offered, else the strongest mechanism go-mail
		// finds; go-mail refuses PLAIN and LOGIN over a connection neither TLS nor loopback.
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	client, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return nil, s.sendError(ctx, &failure{step: stepConnect, err: err}, "")
	}
	sc, err := client.DialToSMTPClientWithContext(ctx)
	if unbind != nil {
		unbind()
	}
	if err != nil {
		if dc != nil {
			dc.Close() // go-mail leaves it open when EHLO, STARTTLS or AUTH fails
		}
		return nil, s.dialError(ctx, err)
	}
	if s.cfg.TLS != None {
		// Belt and braces: whatever the library did, no message leaves in clear text
		// unless the configuration says so.
		if st, err := sc.GetTLSConnectionState(); err != nil || !st.HandshakeComplete {
			dc.Close()
			return nil, s.sendError(ctx, &failure{step: stepConnect, err: errors.New("connection is not encrypted")}, "")
		}
	}
	return &conn{client: sc, gc: client, dc: dc}, nil
}

// transact sends one message through go-mail (MAIL FROM, RCPT TO, DATA, the data), bounded
// by timeout and by ctx. After a refusal the transaction is aborted (RSET, which go-mail says
// itself after MAIL FROM and RCPT TO) so the connection can carry the next message.
func (c *conn) transact(ctx context.Context, timeout time.Duration, msg *gomail.Msg) *failure {
	unbind := c.dc.bind(ctx)
	defer unbind()
	if err := ctx.Err(); err != nil {
		return &failure{step: stepMail, err: err}
	}
	if err := c.client.UpdateDeadline(timeout); err != nil {
		return &failure{step: stepMail, err: err}
	}
	err := c.gc.SendWithSMTPClient(c.client, msg)
	if err == nil {
		return nil
	}
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return &failure{step: stepOther, err: err}
	}
	step, ok := steps[se.Reason]
	if !ok {
		step = stepOther
	}
	// The SendError's text lists the recipient: only its codes and reason are kept.
	f := &failure{step: step, code: se.ErrorCode(), enhanced: se.EnhancedStatusCode(), temporary: se.IsTemp()}
	if f.code == 0 {
		f.err = errors.New(se.Reason.String() + ": no reply")
		return f
	}
	f.connOK = f.code != 421
	if f.connOK && se.Reason == gomail.ErrSMTPData {
		if c.client.UpdateDeadline(timeout) != nil || c.client.Reset() != nil {
			f.connOK = false
		}
	}
	return f
}

// quit says QUIT and closes a healthy connection.
func (c *conn) quit(timeout time.Duration) {
	_ = c.client.UpdateDeadline(min(timeout, quitTimeout))
	_ = c.client.Quit()
	_ = c.dc.Close()
}

// abandon closes a connection in an unknown state without a word.
func (c *conn) abandon() { _ = c.dc.Close() }

// deadlineConn is the raw connection under go-mail (and under TLS). go-mail sets deadlines
// from its own timeout only; deadlineConn caps every deadline at that of the context bound
// to it, and moves it to the past when the context is canceled, so a blocked read or write
// returns at once.
type deadlineConn struct {
	net.Conn
	mu    sync.Mutex
	limit time.Time // zero: no cap
}

// longAgo is a deadline already passed.
var longAgo = time.Unix(1, 0)

// bind caps the connection's deadlines by ctx until the returned function is called.
func (c *deadlineConn) bind(ctx context.Context) (unbind func()) {
	c.mu.Lock()
	c.limit, _ = ctx.Deadline()
	c.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.limit = longAgo
		_ = c.Conn.SetDeadline(longAgo)
	})
	return func() {
		stop()
		c.mu.Lock()
		c.limit = time.Time{}
		c.mu.Unlock()
	}
}

func (c *deadlineConn) capped(t time.Time) time.Time {
	if !c.limit.IsZero() && (t.IsZero() || t.After(c.limit)) {
		return c.limit
	}
	return t
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.SetDeadline(c.capped(t))
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.SetReadDeadline(c.capped(t))
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.SetWriteDeadline(c.capped(t))
}
