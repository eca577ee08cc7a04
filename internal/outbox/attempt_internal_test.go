package outbox

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type okSender struct{}

func (okSender) Send(context.Context, Rendered) error { return nil }

type blankRenderer struct{}

func (blankRenderer) Render(Kind, Channel, string, map[string]string) (Rendered, error) {
	return Rendered{}, nil
}

func attemptRig(log *slog.Logger) *Dispatcher {
	return NewDispatcher(nil, map[Channel]Sender{Email: okSender{}}, blankRenderer{},
		func() time.Time { return time.Unix(1e9, 0) }, Config{}, log, nil)
}

// A delivered message is logged at debug level only: with that level off, attempt costs
// no allocation beyond the send itself (the message's attributes were formatted for every
// message before, logged or not).
func TestAttemptFormatsNoLogAttributesWhenNothingIsLogged(t *testing.T) {
	d := attemptRig(slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx := context.Background()
	m := &Message{ID: 7, Channel: Email, Kind: RecoveryLink, Attempts: 1}
	send := testing.AllocsPerRun(200, func() {
		if err := d.send(ctx, m); err != nil {
			t.Fatal(err)
		}
	})
	attempt := testing.AllocsPerRun(200, func() {
		if !d.attempt(ctx, m) {
			t.Fatal("not sent")
		}
	})
	if attempt != send {
		t.Errorf("attempt: %v allocations, its send %v: attempt must add none when nothing is logged", attempt, send)
	}
}

// With debug on, the delivery's record still names the message.
func TestAttemptLogsTheMessageAtDebugLevel(t *testing.T) {
	var buf bytes.Buffer
	d := attemptRig(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if !d.attempt(context.Background(), &Message{ID: 7, Channel: Email, Kind: RecoveryLink, Attempts: 2}) {
		t.Fatal("not sent")
	}
	want := `"msg":"message sent","message_id":7,"channel":"email","kind":"` + string(RecoveryLink) + `","attempt":2`
	if !strings.Contains(buf.String(), want) {
		t.Errorf("log = %s, want it to contain %s", buf.String(), want)
	}
}
