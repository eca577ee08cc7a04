package sms

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"kilt/internal/outbox"
)

// Logged is a message the Log transport took, and when.
type Logged struct {
	outbox.Rendered
	At time.Time
}

// Log is the dev transport of any channel: it prints each message to a writer as one
// readable block and keeps the latest ones in memory for the /dev/outbox page. It prints
// the whole text, codes and links included, which is its purpose: it must only be wired in
// --dev. It is safe for concurrent use.
type Log struct {
	clock func() time.Time

	mu   sync.Mutex
	w    io.Writer
	keep int
	msgs []Logged // oldest first
}

// NewLog returns a Log printing to w (nil: nowhere) and keeping the last keep messages
// (none when keep ≤ 0).
func NewLog(w io.Writer, keep int) *Log {
	if w == nil {
		w = io.Discard
	}
	return &Log{clock: time.Now, w: w, keep: max(keep, 0)}
}

// Send prints m and keeps it. It never fails: a console that cannot be written to is no
// reason to retry, and the message is kept all the same.
func (l *Log) Send(_ context.Context, m outbox.Rendered) error {
	rec := Logged{Rendered: m, At: l.clock().UTC()}
	block := format(rec)

	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, block)
	if l.keep == 0 {
		return nil
	}
	if len(l.msgs) == l.keep {
		copy(l.msgs, l.msgs[1:])
		l.msgs = l.msgs[:len(l.msgs)-1]
	}
	l.msgs = append(l.msgs, rec)
	return nil
}

// Messages returns the kept messages, newest first.
func (l *Log) Messages() []Logged {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Logged, len(l.msgs))
	for i, m := range l.msgs {
		out[len(l.msgs)-1-i] = m
	}
	return out
}

// format renders one message as a block a developer can read on a console.
func format(m Logged) string {
	var b strings.Builder
	channel := string(m.Channel)
	if channel == "" {
		channel = "message"
	}
	fmt.Fprintf(&b, "----- %s #%d to %s [%s] at %s\n", channel, m.ID, m.To, m.Lang,
		m.At.Format(time.RFC3339))
	if m.Subject != "" {
		fmt.Fprintf(&b, "Subject: %s\n\n", m.Subject)
	}
	b.WriteString(m.Text)
	if !strings.HasSuffix(m.Text, "\n") {
		b.WriteByte('\n')
	}
	if m.HTML != "" {
		fmt.Fprintf(&b, "(and an HTML part of %d bytes)\n", len(m.HTML))
	}
	b.WriteString("-----\n")
	return b.String()
}
