package api_test

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"kilt/internal/kilttest"
)

// Wrong registration codes are counted per number (SPEC §3, "SMS code": the failure count is
// not reset by a resend; 10 failures in 24 h pause the SMS channel).

// TestRegistrationCodeGuessingIsCapped: someone registering a number they do not own
// guesses codes as fast as the cool-down lets them resend. At most ten are checked in 24
// hours, whatever the resends; then the code checks and the resends answer 429
// codes_paused with Retry-After. (The audit's TestAuditRegistrationCodeGuessing: before, the
// resend reset the count even when the number's SMS limits sent nothing, and 145 wrong codes
// were checked in 29 minutes while 7 SMS went out.)
func TestRegistrationCodeGuessingIsCapped(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		const number = "+77011234567"
		r := e.Do(t, "POST", "/api/v1/registrations", map[string]string{"phone": number, "password": goodPassword,
			"password_confirm": goodPassword, "consent_version": kilttest.ConsentVersion})
		if r.Status != http.StatusAccepted {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		var reg registered
		r.JSON(t, &reg)
		verify := "/api/v1/registrations/" + reg.RegistrationID + "/verify"
		guesses, next := 0, 100000
		start := e.Clock.Now()
		var last *kilttest.Response
		for round := 0; round < 40; round++ {
			for range 5 {
				last = e.Do(t, "POST", verify, map[string]string{"code": fmt.Sprintf("%06d", next)})
				next++
				if last.Status == http.StatusUnprocessableEntity {
					guesses++
				}
			}
			e.Clock.Advance(61 * time.Second)
			if last = e.Do(t, "POST", "/api/v1/registrations/"+reg.RegistrationID+"/resend", map[string]string{}); last.Status != http.StatusAccepted {
				break
			}
		}
		e.Deliver(t)
		elapsed := e.Clock.Now().Sub(start)
		if guesses > 10 {
			t.Errorf("%d wrong registration codes were checked within %v (%d SMS sent): want at most 10", guesses, elapsed, len(e.SMSTo(number)))
		}
		if last.Status != http.StatusTooManyRequests || last.ErrorCode() != "codes_paused" {
			t.Fatalf("the resend after ten wrong codes: %d %s, want 429 codes_paused", last.Status, last.Body)
		}
		wantWait := 24*time.Hour - elapsed
		if got, _ := strconv.Atoi(last.Header.Get("Retry-After")); time.Duration(got)*time.Second != wantWait {
			t.Errorf("Retry-After %q, want %v", last.Header.Get("Retry-After"), wantWait)
		}
		sms := e.SMSTo(number)
		code := kilttest.Code(sms[len(sms)-1])
		if r := e.Do(t, "POST", verify, map[string]string{"code": code}); r.Status != http.StatusTooManyRequests || r.ErrorCode() != "codes_paused" {
			t.Errorf("the right code while paused: %d %s, want 429 codes_paused", r.Status, r.Body)
		}
		// A new registration of the number neither starts the count again nor sends a code.
		r = e.Do(t, "POST", "/api/v1/registrations", map[string]string{"phone": number, "password": goodPassword,
			"password_confirm": goodPassword, "consent_version": kilttest.ConsentVersion})
		if r.Status != http.StatusTooManyRequests || r.ErrorCode() != "codes_paused" || r.Header.Get("Retry-After") == "" {
			t.Errorf("a new registration while paused: %d %s, want 429 codes_paused", r.Status, r.Body)
		}
		e.Deliver(t)
		if got := len(e.SMSTo(number)); got != len(sms) {
			t.Errorf("%d SMS sent while paused", got-len(sms))
		}
	})
}

// TestRefusedRegistrationResendAnswersAsSent: over the number's SMS limits (5 an hour,
// shared with recovery, which spends them only on numbers that have an account) a resend
// sends nothing, yet answers byte for byte as a resend that sent a code; so does what
// follows it (the cool-down, the attempts left). Any other answer would tell the
// registrant whether recovery spent the limits, that is whether the number has an account.
func TestRefusedRegistrationResendAnswersAsSent(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		register := func(number string) string {
			t.Helper()
			var reg registered
			e.Do(t, "POST", "/api/v1/registrations", map[string]string{"phone": number, "password": goodPassword,
				"password_confirm": goodPassword, "consent_version": kilttest.ConsentVersion}).JSON(t, &reg)
			return reg.RegistrationID
		}
		resend := func(id string) *kilttest.Response {
			return e.Do(t, "POST", "/api/v1/registrations/"+id+"/resend", map[string]string{})
		}
		const spent, fresh = "+77011234567", "+77017654321"
		// Spend the first number's hour: a registration and four resends.
		id := register(spent)
		for range 4 {
			e.Clock.Advance(61 * time.Second)
			if r := resend(id); r.Status != http.StatusAccepted {
				t.Fatalf("resend within the limit: %d %s", r.Status, r.Body)
			}
		}
		e.Deliver(t)
		if n := len(e.SMSTo(spent)); n != 5 {
			t.Fatalf("%d SMS within the hour, want 5", n)
		}
		other := register(fresh)
		e.Clock.Advance(61 * time.Second)
		refused, sent := resend(id), resend(other)
		if refused.Status != sent.Status || string(refused.Body) != string(sent.Body) {
			t.Errorf("over the SMS limit: %d %s; a code sent: %d %s", refused.Status, refused.Body, sent.Status, sent.Body)
		}
		e.Deliver(t)
		if n := len(e.SMSTo(spent)); n != 5 {
			t.Errorf("%d SMS after the refused resend, want still 5", n)
		}
		again, againSent := resend(id), resend(other)
		if again.Status != http.StatusTooManyRequests || again.Status != againSent.Status || string(again.Body) != string(againSent.Body) {
			t.Errorf("at once again: %d %s; after a code sent: %d %s", again.Status, again.Body, againSent.Status, againSent.Body)
		}
		e.Deliver(t)
		sms := e.SMSTo(fresh)
		wrong := fmt.Sprintf("%06d", (atoi(kilttest.Code(sms[len(sms)-1]))+1)%1000000)
		guess := func(id string) *kilttest.Response {
			return e.Do(t, "POST", "/api/v1/registrations/"+id+"/verify", map[string]string{"code": wrong})
		}
		if g, gs := guess(id), guess(other); g.Status != gs.Status || string(g.Body) != string(gs.Body) {
			t.Errorf("a wrong code after the refused resend: %d %s; after a code sent: %d %s", g.Status, g.Body, gs.Status, gs.Body)
		}
	})
}
