package mail

import (
	"context"
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"kilt"
	"kilt/internal/outbox"
)

// The error codes of this package (kilt.Error.Code). Only CodeBadRecipient and CodeRejected
// come wrapped in outbox.Permanent; the others are temporary.
const (
	CodeConfig         = "smtp_config"          // ParseURL, New: the configuration is wrong
	CodeBadRecipient   = "smtp_bad_recipient"   // To is not one valid address (permanent)
	CodeRejected       = "smtp_rejected"        // 5xx to RCPT TO or the data (permanent)
	CodeSenderRejected = "smtp_sender_rejected" // 5xx to MAIL FROM: check KILT_MAIL_FROM
	CodeDeferred       = "smtp_deferred"        // 4xx: try again later
	CodeAuthFailed     = "smtp_auth_failed"     // the server refused the credentials
	CodeUnavailable    = "smtp_unavailable"     // no connection, TLS, timeout, network
	CodeClosed         = "smtp_closed"          // Send after Close
)

const (
	redactedPassword  = "******"
	redactedRecipient = "[recipient]"
	replyTextLimit    = 300 // bytes of a server's reply kept in an error
)

func configError(format string, args ...any) error {
	return &kilt.Error{Kind: kilt.KindInvalid, Code: CodeConfig, Message: fmt.Sprintf(format, args...)}
}

func errClosed() error {
	return &kilt.Error{Kind: kilt.KindUnavailable, Code: CodeClosed, Message: "smtp: sender closed"}
}

// sendError turns a failed step into the error Send returns: permanent for a refusal of the
// recipient or the message that go-mail deems permanent (5xx), temporary otherwise. A
// server's text is kept only for a reply before the recipient was named, scrubbed; after it,
// the status and enhanced status codes alone ("550 5.1.1"), since the text may echo the
// recipient in a form no scrubbing finds (its local part, an address the server rewrote).
func (s *Sender) sendError(ctx context.Context, f *failure, to string) error {
	where := "smtp: " + f.step
	if f.step == stepConnect {
		where = "smtp: connecting to " + dialAddr(s.cfg.Host, s.cfg.Port)
	}
	if f.code == 0 {
		if ctxErr := contextErr(ctx); ctxErr != nil {
			return &kilt.Error{Kind: kilt.KindUnavailable, Code: CodeUnavailable, Message: where + " interrupted", Err: ctxErr}
		}
		return &kilt.Error{Kind: kilt.KindUnavailable, Code: CodeUnavailable, Message: where + " failed", Err: s.clean(f.err)}
	}
	msg := fmt.Sprintf("%s: server replied %d", where, f.code)
	if f.enhanced != "" {
		msg += " " + f.enhanced
	}
	if text := s.scrub(strings.TrimPrefix(f.text, f.enhanced), to); text != "" {
		msg += " " + text
	}
	temporary := f.temporary || f.step == stepConnect && f.code < 500
	switch {
	case temporary:
		return &kilt.Error{Kind: kilt.KindUnavailable, Code: CodeDeferred, Message: msg}
	case f.step == stepRcpt || f.step == stepData || f.step == stepBody:
		return outbox.Permanent(&kilt.Error{Kind: kilt.KindInvalid, Code: CodeRejected, Message: msg})
	case f.step == stepMail:
		return &kilt.Error{Kind: kilt.KindUnavailable, Code: CodeSenderRejected, Message: msg}
	}
	return &kilt.Error{Kind: kilt.KindUnavailable, Code: CodeUnavailable, Message: msg}
}

// enhancedCode returns the enhanced status code (RFC 3463, "5.1.1") that opens a reply's
// text, or "".
func enhancedCode(text string) string {
	code, _, _ := strings.Cut(text, " ")
	parts := strings.Split(code, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.Contains("245", parts[0]) {
		return ""
	}
	for _, p := range parts[1:] {
		if len(p) < 1 || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return ""
		}
	}
	return code
}

// contextErr returns ctx.Err(), or context.DeadlineExceeded once the deadline has passed: a
// connection deadline capped at the context's can fire before the context's own timer.
func contextErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// dialError classifies a failure to connect. The server refusing the credentials, or
// offering no mechanism go-mail may use with them, is CodeAuthFailed, and temporary: the
// credentials are the operator's to fix, and the messages wait for that instead of being
// abandoned.
func (s *Sender) dialError(ctx context.Context, err error) error {
	f := &failure{step: stepConnect, err: err}
	var reply *textproto.Error
	if errors.As(err, &reply) {
		f.code, f.enhanced, f.text = reply.Code, enhancedCode(reply.Msg), reply.Msg
	}
	if contextErr(ctx) != nil || !authRefused(err, f.code) {
		return s.sendError(ctx, f, "")
	}
	msg := "smtp: authentication to " + dialAddr(s.cfg.Host, s.cfg.Port) + " failed"
	if f.code != 0 {
		return &kilt.Error{Kind: kilt.KindUnavailable, Code: CodeAuthFailed,
			Message: fmt.Sprintf("%s: server replied %d %s", msg, f.code, s.scrub(f.text, ""))}
	}
	return &kilt.Error{Kind: kilt.KindUnavailable, Code: CodeAuthFailed, Message: msg, Err: s.clean(err)}
}

// authRefused reports whether a failure to connect is about authentication: a reply RFC 4954
// reserves for it (534 mechanism too weak, 535 credentials invalid, 538 encryption required)
// or go-mail finding no mechanism it may use.
func authRefused(err error, code int) bool {
	switch code {
	case 534, 535, 538:
		return true
	}
	return errors.Is(err, gomail.ErrNoSupportedAuthDiscovered) || errors.Is(err, gomail.ErrPlainAuthNotSupported) ||
		errors.Is(err, gomail.ErrLoginAuthNotSupported) || errors.Is(err, smtp.ErrUnencrypted)
}

// scrub makes a server's reply text fit for logs: one bounded line, without the password
// (a server may echo what it was sent) or the recipient's address.
func (s *Sender) scrub(text, to string) string {
	text = strings.Join(strings.Fields(text), " ")
	if s.cfg.Password != "" {
		text = strings.ReplaceAll(text, s.cfg.Password, redactedPassword)
	}
	if to != "" {
		text = replaceFold(text, to, redactedRecipient)
	}
	if len(text) > replyTextLimit {
		text = strings.ToValidUTF8(text[:replyTextLimit], "") + "…"
	}
	return text
}

// clean returns err, or an error with the same text minus the password if that text holds it.
// The chain is dropped then: no wrapped error may carry the password further.
func (s *Sender) clean(err error) error {
	if s.cfg.Password == "" || !strings.Contains(err.Error(), s.cfg.Password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), s.cfg.Password, redactedPassword))
}

// replaceFold replaces every case-insensitive (ASCII) occurrence of old in s by repl.
func replaceFold(s, old, repl string) string {
	if old == "" {
		return s
	}
	lower, lowerOld := strings.ToLower(s), strings.ToLower(old)
	if len(lower) != len(s) || len(lowerOld) != len(old) {
		return strings.ReplaceAll(s, old, repl) // non-ASCII case folding changed lengths
	}
	var b strings.Builder
	for {
		i := strings.Index(lower, lowerOld)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(repl)
		s, lower = s[i+len(old):], lower[i+len(old):]
	}
}
