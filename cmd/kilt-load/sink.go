package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// The sinks are where the server under load delivers its messages during a run: an SMTP
// server for e-mail and an HTTP endpoint speaking Kilt's webhook SMS protocol. They run in
// this process so that a scenario can read a code the moment it arrives (full-recovery) or
// time the arrivals (delivery); they accept everything and keep nothing but counts, the
// arrival times a scenario asks for, and the codes a scenario waits for.
//
// They listen on loopback addresses only, like the target: a sink on another interface
// would take mail and SMS from anyone who can reach it.

// sinkAddrs are the addresses the sinks listen on (--smtp-listen, --sms-listen).
type sinkAddrs struct {
	Mail, SMS string
}

// smsPath is where the SMS sink takes messages: KILT_SMS_WEBHOOK_URL is http://ADDR/sms.
const smsPath = "/sms"

// smtpURL is the KILT_SMTP_URL that points the server at a mail sink on addr.
func smtpURL(addr string) string { return "smtp://" + addr + "?starttls=false" }

// smsURL is the KILT_SMS_WEBHOOK_URL that points the server at an SMS sink on addr.
func smsURL(addr string) string { return "http://" + addr + smsPath }

// listenLoopback listens on addr after checking that its host is loopback; what names the
// address in errors.
func listenLoopback(what, addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%s %q: want HOST:PORT", what, addr)
	}
	if !isLoopbackHost(host) {
		return nil, fmt.Errorf("%s %q: refused: the sinks listen on this machine only (127.0.0.0/8, ::1 or localhost)", what, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ln, nil
}

// mailSink is an SMTP server that accepts every message (plain SMTP, no AUTH: it is what
// KILT_SMTP_URL=smtp://ADDR?starttls=false expects of a relay on this machine).
type mailSink struct {
	addr string
	ln   net.Listener
	srv  *smtp.Server
	log  *gatedWriter
	done chan struct{}

	messages atomic.Int64
	conns    atomic.Int64
	// watch, when set, is told the recipients and arrival time of every message.
	watch atomic.Pointer[func(to []string, at time.Time)]
	// distinct, when set (CountDistinct), holds the link token of every message taken.
	distinct atomic.Pointer[distinctSet]
}

// distinctSet counts messages by a key of their content: a message sent twice has the key of
// the first.
type distinctSet struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

func (d *distinctSet) add(key string) {
	d.mu.Lock()
	d.keys[key] = struct{}{}
	d.mu.Unlock()
}

// Len returns the number of distinct keys added.
func (d *distinctSet) Len() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return int64(len(d.keys))
}

// CountDistinct makes the sink keep the link token of every message from now on (a message
// without one counts as its own) and returns the set, so that a message the server sent
// twice shows as one more message than distinct ones.
func (s *mailSink) CountDistinct() *distinctSet {
	d := &distinctSet{keys: map[string]struct{}{}}
	s.distinct.Store(d)
	return d
}

// linkToken is the token of a link in a message, quoted-printable or not ("token=3D…").
var linkToken = regexp.MustCompile(`token=(?:3D)?([A-Za-z0-9_-]{16,})`)

// messageKey is what tells a message from another: its link token, or the whole message
// when it has none.
func messageKey(msg []byte) string {
	flat := bytes.ReplaceAll(msg, []byte("=\r\n"), nil)
	if m := linkToken.FindSubmatch(flat); m != nil {
		return string(m[1])
	}
	sum := sha256.Sum256(msg)
	return string(sum[:])
}

// startMailSink starts a mail sink on addr; errors of the SMTP sessions go to logw.
func startMailSink(addr string, logw io.Writer) (*mailSink, error) {
	ln, err := listenLoopback("--smtp-listen", addr)
	if err != nil {
		return nil, err
	}
	s := &mailSink{addr: ln.Addr().String(), ln: ln, log: &gatedWriter{w: logw}, done: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = "kilt-load.localhost"
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.MaxRecipients = 50
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.ErrorLog = log.New(s.log, "smtp sink: ", 0)
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr returns the address the sink listens on.
func (s *mailSink) Addr() string { return s.addr }

// Messages returns how many messages the sink took; Conns how many connections it had.
func (s *mailSink) Messages() int64 { return s.messages.Load() }
func (s *mailSink) Conns() int64    { return s.conns.Load() }

// Watch makes fn be told of every message from now on (nil: no one). fn must be cheap, safe
// for concurrent use (the sessions call it as each message ends) and must not keep to.
func (s *mailSink) Watch(fn func(to []string, at time.Time)) {
	if fn == nil {
		s.watch.Store(nil)
		return
	}
	s.watch.Store(&fn)
}

// Close stops the sink and drops its connections. Their goroutines may outlive it: they log
// nothing from now on (dropping them would only log that they were dropped).
func (s *mailSink) Close() error {
	s.log.Shut()
	err := s.srv.Close()
	// The server closes only the listeners Serve has registered: one closed before Serve
	// began would leave Serve accepting for ever.
	_ = s.ln.Close()
	<-s.done
	return err
}

func (s *mailSink) newSession(*smtp.Conn) (smtp.Session, error) {
	s.conns.Add(1)
	return &mailSession{sink: s}, nil
}

// mailSession is one SMTP connection; the server calls it from one goroutine.
type mailSession struct {
	sink *mailSink
	to   []string
}

func (m *mailSession) Reset()        { m.to = m.to[:0] }
func (m *mailSession) Logout() error { return nil }

func (m *mailSession) Mail(string, *smtp.MailOptions) error { return nil }

func (m *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	m.to = append(m.to, to)
	return nil
}

// Data reads the message to the end and counts it.
func (m *mailSession) Data(r io.Reader) error {
	d := m.sink.distinct.Load()
	if d == nil {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
	} else {
		msg, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		d.add(messageKey(msg))
	}
	at := time.Now()
	m.sink.messages.Add(1)
	if fn := m.sink.watch.Load(); fn != nil {
		(*fn)(m.to, at)
	}
	m.to = m.to[:0]
	return nil
}

// smsSink is an HTTP endpoint taking SMS as Kilt's webhook provider sends them: a JSON POST
// of {"to","text","lang"} to http://ADDR/sms, answered 202. A scenario waiting for a code
// to a number (Expect) is handed the first 6-digit code of the next message to it.
type smsSink struct {
	addr string
	srv  *http.Server
	log  *gatedWriter
	done chan struct{}

	messages atomic.Int64
	mu       sync.Mutex
	waiting  map[string]chan string // by number, E.164
}

// maxSMSBody bounds one webhook request: an SMS is a few hundred bytes.
const maxSMSBody = 64 << 10

// startSMSSink starts an SMS sink on addr; server errors go to logw.
func startSMSSink(addr string, logw io.Writer) (*smsSink, error) {
	ln, err := listenLoopback("--sms-listen", addr)
	if err != nil {
		return nil, err
	}
	s := &smsSink{addr: ln.Addr().String(), log: &gatedWriter{w: logw}, done: make(chan struct{}), waiting: map[string]chan string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+smsPath, s.serve)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		ErrorLog: log.New(s.log, "sms sink: ", 0)}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr returns the address the sink listens on.
func (s *smsSink) Addr() string { return s.addr }

// Messages returns how many messages the sink took.
func (s *smsSink) Messages() int64 { return s.messages.Load() }

// Close stops the sink; it logs nothing from now on.
func (s *smsSink) Close() error {
	s.log.Shut()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	<-s.done
	return err
}

// smsCode is a code in an SMS: six digits standing alone. Kilt's code messages carry one;
// its notices carry none (a time, a URL).
var smsCode = regexp.MustCompile(`\b\d{6}\b`)

func (s *smsSink) serve(w http.ResponseWriter, r *http.Request) {
	var m struct {
		To   string `json:"to"`
		Text string `json:"text"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSMSBody)).Decode(&m); err != nil || m.To == "" {
		// 400 tells the sender not to try again: the request will not get better.
		http.Error(w, "want a JSON object with \"to\" and \"text\"", http.StatusBadRequest)
		return
	}
	s.messages.Add(1)
	if code := smsCode.FindString(m.Text); code != "" {
		s.mu.Lock()
		ch := s.waiting[m.To]
		s.mu.Unlock()
		if ch != nil {
			select {
			case ch <- code:
			default: // the waiter has its code already: this one is a late repeat
			}
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

// Expect registers a wait for the next code sent to number (E.164) and returns the channel
// the code will come on, and a function ending the wait. Register before asking the server
// for the code, or the code may come first. One wait per number at a time: a new one
// replaces the old.
func (s *smsSink) Expect(number string) (<-chan string, func()) {
	ch := make(chan string, 1)
	s.mu.Lock()
	s.waiting[number] = ch
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		if s.waiting[number] == ch {
			delete(s.waiting, number)
		}
		s.mu.Unlock()
	}
}
