package kilttest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// SMS is one message the gateway received.
type SMS struct {
	To   string `json:"to"`
	Text string `json:"text"`
	Lang string `json:"lang"`
}

// SMSGateway is a real HTTP server speaking Kilt's webhook SMS protocol (a JSON POST of
// {"to","text","lang"}), keeping what it receives. Fail makes it answer 500 to the next n
// requests, as a gateway in trouble does.
type SMSGateway struct {
	URL string

	mu      sync.Mutex
	msgs    []SMS
	fail    int
	hits    int
	changed chan struct{} // closed and replaced whenever a message is accepted
}

// StartSMSGateway starts a gateway, stopped when the test ends.
func StartSMSGateway(t testing.TB) *SMSGateway {
	g := &SMSGateway{changed: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(g.serve))
	g.URL = srv.URL + "/sms"
	t.Cleanup(srv.Close)
	return g
}

func (g *SMSGateway) serve(w http.ResponseWriter, r *http.Request) {
	var m SMS
	if r.Method != http.MethodPost || r.URL.Path != "/sms" || json.NewDecoder(r.Body).Decode(&m) != nil || m.To == "" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hits++
	if g.fail > 0 {
		g.fail--
		http.Error(w, "gateway trouble", http.StatusInternalServerError)
		return
	}
	g.msgs = append(g.msgs, m)
	close(g.changed)
	g.changed = make(chan struct{})
	w.WriteHeader(http.StatusAccepted)
}

// Fail makes the next n requests fail with 500.
func (g *SMSGateway) Fail(n int) {
	g.mu.Lock()
	g.fail = n
	g.mu.Unlock()
}

// Hits reports how many requests the gateway answered, failed ones included.
func (g *SMSGateway) Hits() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.hits
}

// Messages returns what the gateway accepted, oldest first.
func (g *SMSGateway) Messages() []SMS {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]SMS(nil), g.msgs...)
}

// Wait waits until the gateway has accepted n messages and returns them, failing the test
// after timeout.
func (g *SMSGateway) Wait(t testing.TB, n int, timeout time.Duration) []SMS {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		g.mu.Lock()
		count, changed := len(g.msgs), g.changed
		g.mu.Unlock()
		if count >= n {
			return g.Messages()
		}
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("kilttest: the SMS gateway received %d messages, want %d", count, n)
			return nil
		}
	}
}
