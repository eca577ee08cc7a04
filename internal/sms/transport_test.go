package sms

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"kilt/internal/outbox"
)

// provider describes a gateway for the tests every gateway must pass.
type provider struct {
	name string
	// sender returns the provider's sender against a server at base.
	sender func(base string, c *http.Client) outbox.Sender
	// accept writes the provider's answer for a message taken.
	accept func(w http.ResponseWriter)
	// secrets are the credentials that must never show in an error.
	secrets []string
}

var providers = []provider{
	{
		name: "webhook",
		sender: func(base string, c *http.Client) outbox.Sender {
			return NewWebhook(base+"/hook", testBearer, c)
		},
		accept:  func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) },
		secrets: []string{testBearer},
	},
	{
		name: "mobizon",
		sender: func(base string, c *http.Client) outbox.Sender {
			return NewMobizon(base, testAPIKey, c)
		},
		accept: func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"code":0,"data":{"campaignId":"1759377","messageId":"12111324","status":2},"message":""}`)
		},
		secrets: []string{testAPIKey},
	},
	{
		name: "twilio",
		sender: func(base string, c *http.Client) outbox.Sender {
			return NewTwilio(base, testSID, testAuthToken, testFrom, c)
		},
		accept: func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, `{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued"}`)
		},
		secrets: []string{testAuthToken},
	},
}

func TestGatewayTimeout(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			gw := hungGateway(t)
			err := p.sender(gw.URL, shortClient()).Send(context.Background(), testMessage())
			checkOutcome(t, err, temporary)
			checkCode(t, err, CodeNoAnswer)
			checkClean(t, err, p.secrets...)
		})
	}
}

func TestGatewayUnreachable(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			err := p.sender(deadAddress(t), nil).Send(context.Background(), testMessage())
			checkOutcome(t, err, temporary)
			checkCode(t, err, CodeNoAnswer)
			// The URL (Mobizon's holds the API key) must not be quoted.
			checkClean(t, err, p.secrets...)
		})
	}
}

func TestGatewayCanceled(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			gw := newGateway(t, func(w http.ResponseWriter, r *http.Request) { p.accept(w) })
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err := p.sender(gw.URL, nil).Send(ctx, testMessage())
			checkOutcome(t, err, temporary)
			if got := gw.requests.Load(); got != 0 {
				t.Errorf("got %d requests, want 0", got)
			}
		})
	}
}

// TestGatewayRecovers shows each answer of a gateway that fails twice and then takes the
// message classified on its own: two temporary errors, then success. The retrying itself
// is the outbox's.
func TestGatewayRecovers(t *testing.T) {
	for _, p := range providers {
		t.Run(p.name, func(t *testing.T) {
			var gw *gateway
			gw = newGateway(t, func(w http.ResponseWriter, r *http.Request) {
				if gw.requests.Load() <= 2 {
					http.Error(w, "upstream down", http.StatusInternalServerError)
					return
				}
				p.accept(w)
			})
			s := p.sender(gw.URL, nil)
			for i, want := range []outcome{temporary, temporary, sent} {
				err := s.Send(context.Background(), testMessage())
				if got := outcomeOf(err); got != want {
					t.Errorf("send %d: got %s (%v), want %s", i+1, got, err, want)
				}
			}
			if got := gw.requests.Load(); got != 3 {
				t.Errorf("got %d requests, want 3", got)
			}
		})
	}
}
