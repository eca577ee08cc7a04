package sms

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testBearer = "whk-9f2c41d7e0"

// webhookHandler checks a request is the webhook protocol for testMessage, then answers
// with status.
func webhookHandler(t *testing.T, status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/hook" {
			t.Errorf("got %s %s, want POST /hook", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("got Content-Type %q, want application/json", got)
		}
		if got, want := r.Header.Get("Authorization"), "Bearer "+testBearer; got != want {
			t.Errorf("got Authorization %q, want %q", got, want)
		}
		if got := r.Header.Get("Idempotency-Key"); got != "42" {
			t.Errorf("got Idempotency-Key %q, want 42", got)
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("body: %v", err)
		}
		want := map[string]any{"to": testNumber, "text": testText, "lang": "kk", "id": float64(42)}
		if d := cmp.Diff(want, body); d != "" {
			t.Errorf("body (-want +got):\n%s", d)
		}
		if status == http.StatusFound {
			http.Redirect(w, r, "/elsewhere", status)
			return
		}
		w.WriteHeader(status)
	}
}

func TestWebhookAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		want   outcome
	}{
		{"ok", http.StatusOK, sent},
		{"accepted", http.StatusAccepted, sent},
		{"no content", http.StatusNoContent, sent},
		{"bad request", http.StatusBadRequest, permanent},
		{"unauthorized", http.StatusUnauthorized, permanent},
		{"forbidden", http.StatusForbidden, permanent},
		{"not found", http.StatusNotFound, permanent},
		{"unprocessable", http.StatusUnprocessableEntity, permanent},
		{"redirect not followed", http.StatusFound, permanent},
		{"request timeout", http.StatusRequestTimeout, temporary},
		{"too early", http.StatusTooEarly, temporary},
		{"too many requests", http.StatusTooManyRequests, temporary},
		{"internal error", http.StatusInternalServerError, temporary},
		{"bad gateway", http.StatusBadGateway, temporary},
		{"unavailable", http.StatusServiceUnavailable, temporary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw := newGateway(t, webhookHandler(t, tt.status))
			err := NewWebhook(gw.URL+"/hook", testBearer, nil).Send(context.Background(), testMessage())
			checkOutcome(t, err, tt.want)
			checkClean(t, err, testBearer)
			if got := gw.requests.Load(); got != 1 {
				t.Errorf("got %d requests, want 1", got)
			}
			if err != nil {
				checkCode(t, err, CodeRefused)
			}
		})
	}
}

func TestWebhookWithoutTokenOrID(t *testing.T) {
	gw := newGateway(t, func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "" {
			t.Errorf("got Authorization %q, want none", got)
		}
		if got := r.Header.Get("Idempotency-Key"); got != "" {
			t.Errorf("got Idempotency-Key %q, want none", got)
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("body: %v", err)
		}
		if _, ok := body["id"]; ok {
			t.Errorf("body has an id, want none: %v", body)
		}
	})
	m := testMessage()
	m.ID = 0
	if err := NewWebhook(gw.URL, "", nil).Send(context.Background(), m); err != nil {
		t.Errorf("got %v, want nil", err)
	}
}

func TestWebhookInvalidURL(t *testing.T) {
	err := NewWebhook("http://exa mple.test/hook?token=s3cr3t-q", "", nil).Send(context.Background(), testMessage())
	checkOutcome(t, err, permanent)
	checkClean(t, err, "s3cr3t-q")
}
