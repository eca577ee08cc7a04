package sms

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kilt/internal/outbox"
)

// syncBuffer is a buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogKeepsNewestFirst(t *testing.T) {
	var out syncBuffer
	l := NewLog(&out, 3)
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	l.clock = func() time.Time { return at }
	for id := int64(1); id <= 5; id++ {
		m := testMessage()
		m.ID = id
		m.Text = fmt.Sprintf("code %d", 100000+id)
		if err := l.Send(context.Background(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	var ids []int64
	for _, m := range l.Messages() {
		ids = append(ids, m.ID)
		if !m.At.Equal(at) {
			t.Errorf("message %d at %v, want %v", m.ID, m.At, at)
		}
	}
	if d := cmp.Diff([]int64{5, 4, 3}, ids); d != "" {
		t.Errorf("kept IDs (-want +got):\n%s", d)
	}
	// Every message is printed, kept or not: the console is where a developer reads the code.
	for id := 1; id <= 5; id++ {
		if s := fmt.Sprintf("code %d", 100000+id); !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
}

func TestLogPrintsABlock(t *testing.T) {
	var out syncBuffer
	l := NewLog(&out, 1)
	l.clock = func() time.Time { return time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC) }
	m := outbox.Rendered{Channel: outbox.Email, To: "aigerim@example.kz", Lang: "ru",
		Subject: "Восстановление пароля", Text: "Ссылка: https://kilt.example/r/abc", HTML: "<p>…</p>", ID: 7}
	if err := l.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := "----- email #7 to aigerim@example.kz [ru] at 2026-11-25T09:00:00Z\n" +
		"Subject: Восстановление пароля\n\n" +
		"Ссылка: https://kilt.example/r/abc\n" +
		"(and an HTML part of 10 bytes)\n" +
		"-----\n"
	if d := cmp.Diff(want, out.String()); d != "" {
		t.Errorf("output (-want +got):\n%s", d)
	}
}

func TestLogKeepsNone(t *testing.T) {
	var out syncBuffer
	l := NewLog(&out, 0)
	if err := l.Send(context.Background(), testMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := len(l.Messages()); got != 0 {
		t.Errorf("kept %d messages, want 0", got)
	}
	if !strings.Contains(out.String(), testText) {
		t.Errorf("output lacks the text:\n%s", out.String())
	}
}

func TestLogConcurrent(t *testing.T) {
	var out syncBuffer
	l := NewLog(&out, 10)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			m := testMessage()
			m.ID = int64(i + 1)
			_ = l.Send(context.Background(), m)
			_ = l.Messages()
		})
	}
	wg.Wait()
	if got := len(l.Messages()); got != 10 {
		t.Errorf("kept %d messages, want 10", got)
	}
	if got := strings.Count(out.String(), "\n-----\n"); got != 50 {
		t.Errorf("printed %d blocks, want 50", got)
	}
}
