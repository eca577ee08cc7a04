package sqlstore

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"kilt/internal/outbox"
	"kilt/internal/ratelimit"
	"kilt/internal/sms"
)

// The SMS guard's reserve and number-range cap on the stores that hold them in
// production (SMSBudget, RateLimits), on both databases.

// countingGateway is a webhook endpoint accepting every SMS; it counts them.
func countingGateway(t *testing.T) (*atomic.Int64, outbox.Sender) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return &n, sms.NewWebhook(srv.URL, "", nil)
}

func sendSMS(g *sms.Guard, kind outbox.Kind, to string) error {
	return g.Send(context.Background(), outbox.Rendered{Channel: outbox.SMS, Kind: kind, To: to, Text: "Kilt: 123456", Lang: "kk"})
}

// TestSMSGuardKeepsAReserveForRecovery: registration codes, which anyone can send to any
// number, spend only their share of the day's budget; recovery codes to verified numbers
// still go out when that share is spent.
func TestSMSGuardKeepsAReserveForRecovery(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		sent, gw := countingGateway(t)
		now := t0
		g := sms.NewGuard(gw, NewSMSBudget(db), sms.GuardConfig{DailyBudget: 10, RecoveryReserve: 30,
			Clock: func() time.Time { return now }})
		regSent := 0
		for i := range 20 {
			kind := outbox.RegistrationCode
			if i%4 == 3 {
				kind = outbox.AlreadyRegistered // anyone can cause it too: the same share
			}
			err := sendSMS(g, kind, fmt.Sprintf("+7701%03d0000", 100+i))
			switch outbox.BlockReason(err) {
			case "":
				if err != nil {
					t.Fatalf("registration SMS %d: %v", i, err)
				}
				regSent++
			case sms.ReasonRegistrationBudget:
			default:
				t.Fatalf("registration SMS %d: got %v, want sent or %s", i, err, sms.ReasonRegistrationBudget)
			}
		}
		if regSent != 7 {
			t.Errorf("registration SMS sent: %d of a budget of 10 with 30%% reserved, want 7", regSent)
		}
		for i := range 3 {
			if err := sendSMS(g, outbox.RecoveryCode, fmt.Sprintf("+7702%07d", i)); err != nil {
				t.Errorf("recovery code %d after the registration share was spent: %v", i, err)
			}
		}
		if err := sendSMS(g, outbox.RecoveryCode, "+77029999999"); outbox.BlockReason(err) != sms.ReasonBudgetSpent {
			t.Errorf("recovery code beyond the whole budget: got %v, want %s", err, sms.ReasonBudgetSpent)
		}
		if got := sent.Load(); got != 10 {
			t.Errorf("the gateway got %d SMS, want the budget of 10", got)
		}
		// A reserve of 100 % sends no registration SMS at all, even on a fresh day.
		now = now.Add(24 * time.Hour)
		all := sms.NewGuard(gw, NewSMSBudget(db), sms.GuardConfig{DailyBudget: 10, RecoveryReserve: 100,
			Clock: func() time.Time { return now }})
		if err := sendSMS(all, outbox.RegistrationCode, "+77011110000"); outbox.BlockReason(err) != sms.ReasonRegistrationBudget {
			t.Errorf("registration SMS with everything reserved: got %v, want %s", err, sms.ReasonRegistrationBudget)
		}
	})
}

// TestSMSGuardCapsANumberRange: registration SMS to one range of 10,000 numbers (where an
// SMS-pumping fraud rents its numbers) stop at the range's cap, counted across instances;
// other ranges and recovery codes are not affected.
func TestSMSGuardCapsANumberRange(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		sent, gw := countingGateway(t)
		now := t0
		cfg := sms.GuardConfig{DailyBudget: 1000, RecoveryReserve: 30, Clock: func() time.Time { return now },
			RangeLimit: ratelimit.Limit{Name: "sms_number_range", Count: 3, Period: 24 * time.Hour},
			Limits:     NewRateLimits(db), RangeKey: []byte("range-key")}
		// Two instances on one database share the cap.
		guards := []*sms.Guard{sms.NewGuard(gw, NewSMSBudget(db), cfg), sms.NewGuard(gw, NewSMSBudget(db), cfg)}
		passed := 0
		for i := range 10 {
			err := sendSMS(guards[i%2], outbox.RegistrationCode, fmt.Sprintf("+7701555%04d", i*37))
			switch {
			case err == nil:
				passed++
			case outbox.BlockReason(err) != sms.ReasonNumberRange:
				t.Fatalf("SMS %d: got %v, want sent or %s", i, err, sms.ReasonNumberRange)
			}
		}
		if passed != 3 {
			t.Errorf("registration SMS to one range: %d sent, want 3", passed)
		}
		if err := sendSMS(guards[0], outbox.RegistrationCode, "+77015560000"); err != nil {
			t.Errorf("another range: %v", err)
		}
		if err := sendSMS(guards[1], outbox.RecoveryCode, "+77015559999"); err != nil {
			t.Errorf("a recovery code to the capped range: %v", err)
		}
		// The cap is a rate: a day later the range may have its share again.
		now = now.Add(24 * time.Hour)
		if err := sendSMS(guards[0], outbox.RegistrationCode, "+77015551234"); err != nil {
			t.Errorf("the next day: %v", err)
		}
		if got := sent.Load(); got != 6 {
			t.Errorf("the gateway got %d SMS, want 6", got)
		}
		stats := guards[0].Stats().Blocked[sms.ReasonNumberRange] + guards[1].Stats().Blocked[sms.ReasonNumberRange]
		if stats != 7 {
			t.Errorf("blocked for the range: %d counted, want 7", stats)
		}
	})
}
