package sms

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"kilt"
	"kilt/internal/outbox"
)

// The secret-bearing values of the tests: none may appear in an error.
const (
	testText   = "Kilt: your code is 493817"
	testCode   = "493817"
	testNumber = "+77011234567"
)

// testMessage is an SMS as the outbox hands it over.
func testMessage() outbox.Rendered {
	return outbox.Rendered{Channel: outbox.SMS, To: testNumber, Text: testText, Lang: "kk", ID: 42}
}

// outcome is how the outbox treats a Send result.
type outcome string

const (
	sent      outcome = "sent"
	temporary outcome = "temporary"
	permanent outcome = "permanent"
	blocked   outcome = "blocked"
)

func outcomeOf(err error) outcome {
	switch {
	case err == nil:
		return sent
	case outbox.BlockReason(err) != "":
		return blocked
	case outbox.IsPermanent(err):
		return permanent
	default:
		return temporary
	}
}

// gateway is a real HTTP server standing in for a provider; it counts the requests it gets.
type gateway struct {
	*httptest.Server
	requests atomic.Int64
}

// newGateway starts a server answering with h.
func newGateway(t *testing.T, h http.HandlerFunc) *gateway {
	t.Helper()
	g := &gateway{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.requests.Add(1)
		h(w, r)
	}))
	t.Cleanup(g.Close)
	return g
}

// hungGateway starts a server that never answers: it holds each request until the client
// gives up or the test ends.
func hungGateway(t *testing.T) *gateway {
	t.Helper()
	release := make(chan struct{})
	g := newGateway(t, func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client hanging up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		case <-time.After(5 * time.Second): // never hold the server's Close for long
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the server's Close, which waits for handlers
	return g
}

// deadAddress returns the URL of a server that was started and closed: nothing listens.
func deadAddress(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	s.Close()
	return s.URL
}

// shortClient is a gateway client whose whole-request timeout is short, for the tests of
// hung gateways.
func shortClient() *http.Client { return NewHTTPClient(time.Second, 100*time.Millisecond) }

// checkOutcome fails the test if err is not of the wanted outcome.
func checkOutcome(t *testing.T, err error, want outcome) {
	t.Helper()
	if got := outcomeOf(err); got != want {
		t.Errorf("got %s (%v), want %s", got, err, want)
	}
}

// checkCode fails the test if err's kilt code is not want.
func checkCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := kilt.ErrorCode(err); got != want {
		t.Errorf("got error code %q (%v), want %q", got, err, want)
	}
}

// checkClean fails the test if err's text holds one of the secrets, or the destination.
func checkClean(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range append([]string{testText, testCode, testNumber, testNumber[1:]}, secrets...) {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q holds %q", err, s)
		}
	}
}

// A refusal keeps the provider's own code in its details (the builders return copies, so
// the result of WithDetails must be kept).
func TestRefusedKeepsProviderCode(t *testing.T) {
	e, ok := kilt.AsError(refused("mobizon", 400, "42", "bad number", true))
	if !ok || e.Details["provider_code"] != "42" || e.Details["status"] != 400 {
		t.Fatalf("got %+v", e)
	}
}
