package api_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"kilt/internal/kilttest"
)

// The security properties of registration and recovery (docs/security.md), each proved on
// both databases through the API.

func registerEmail(t *testing.T, e *kilttest.Env, email, pw string) {
	t.Helper()
	r := e.Do(t, "POST", "/api/v1/registrations", map[string]string{"email": email, "password": pw, "password_confirm": pw, "consent_version": kilttest.ConsentVersion})
	if r.Status != 202 {
		t.Fatalf("register %s: %d %s", email, r.Status, r.Body)
	}
}

// TestNewerRegistrationSupersedesOlder: an attacker who registered the victim's address
// first cannot confirm it once the victim registered, and no link confirms without the
// password chosen with it.
func TestNewerRegistrationSupersedesOlder(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		const attackerPw, victimPw = "Zhel-Tau-Kokshe-13", "Sary-Arka-Dala-26"
		registerEmail(t, e, "victim@mail.kz", attackerPw)
		e.Deliver(t)
		attackerTok := tokenOf(t, e.MailTo(t, "victim@mail.kz")[0].Link("token="))
		registerEmail(t, e, "victim@mail.kz", victimPw)
		e.Deliver(t)
		mails := e.MailTo(t, "victim@mail.kz")
		if len(mails) != 2 {
			t.Fatalf("got %d mails, want 2", len(mails))
		}
		victimTok := tokenOf(t, mails[1].Link("token="))

		// The superseded link answers as an invalid one, even with its own password.
		r := e.Do(t, "POST", "/api/v1/registrations/confirm", map[string]string{"token": attackerTok, "password": attackerPw})
		if r.Status != 410 || r.ErrorCode() != "registration_invalid" {
			t.Errorf("the superseded link: %d %s, want 410 registration_invalid", r.Status, r.Body)
		}
		// Without the registrant's password the live link confirms nothing.
		for i, pw := range []string{attackerPw, "", "Guess-Pass-2026"} {
			r := e.Do(t, "POST", "/api/v1/registrations/confirm", map[string]string{"token": victimTok, "password": pw})
			if r.Status == 201 {
				t.Fatalf("attempt %d with a wrong password confirmed: %s", i, r.Body)
			}
		}
		if r, _ := login(t, e, "victim@mail.kz", attackerPw); r.Status != 401 {
			t.Errorf("the attacker's password signs in: %d", r.Status)
		}
		r = e.Do(t, "POST", "/api/v1/registrations/confirm", map[string]string{"token": victimTok, "password": victimPw})
		if r.Status != 201 {
			t.Fatalf("the victim's confirmation: %d %s", r.Status, r.Body)
		}
		mustLogin(t, e, "victim@mail.kz", victimPw)
	})
}

// TestWrongConfirmationPasswordsKillTheLink: guessing the registrant's password is bounded.
func TestWrongConfirmationPasswordsKillTheLink(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		registerEmail(t, e, "dana@mail.kz", goodPassword)
		e.Deliver(t)
		tok := tokenOf(t, e.MailTo(t, "dana@mail.kz")[0].Link("token="))
		for i := 1; i <= 5; i++ {
			r := e.Do(t, "POST", "/api/v1/registrations/confirm", map[string]string{"token": tok, "password": "Wrong-Pass-99"})
			if want := fmt.Sprintf(`"attempts_left":%d`, 5-i); r.Status != 422 || r.ErrorCode() != "password_incorrect" ||
				!strings.Contains(string(r.Body), want) {
				t.Errorf("wrong password %d: %d %s, want 422 password_incorrect %s", i, r.Status, r.Body, want)
			}
		}
		r := e.Do(t, "POST", "/api/v1/registrations/confirm", map[string]string{"token": tok, "password": goodPassword})
		if r.Status != 410 {
			t.Errorf("the right password after five wrong ones: %d %s, want 410", r.Status, r.Body)
		}
	})
}

// TestRegistrationAnswersAlikeAfterRecoveryRequests: recovery requests for a number spend
// its SMS buckets only when it has an account; a registration must not tell the two apart,
// and sends nothing over the number's limits.
func TestRegistrationAnswersAlikeAfterRecoveryRequests(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "", "+77011234567", goodPassword)
		for _, phone := range []string{"+77011234567", "+77017654321"} {
			for range 5 {
				if r := e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": phone}); r.Status != 202 {
					t.Fatalf("recovery %s: %d %s", phone, r.Status, r.Body)
				}
				e.Deliver(t)
			}
		}
		known := e.Do(t, "POST", "/api/v1/registrations", map[string]string{"phone": "+77011234567", "password": "Another-Pass-42", "password_confirm": "Another-Pass-42", "consent_version": kilttest.ConsentVersion})
		unknown := e.Do(t, "POST", "/api/v1/registrations", map[string]string{"phone": "+77017654321", "password": "Another-Pass-42", "password_confirm": "Another-Pass-42", "consent_version": kilttest.ConsentVersion})
		if known.Status != unknown.Status || known.Status != 202 {
			t.Errorf("registration: %d %s with an account vs %d %s without", known.Status, known.Body, unknown.Status, unknown.Body)
		}
		e.Deliver(t)
		if n := len(e.SMSTo("+77011234567")); n != 5 {
			t.Errorf("the number with an account got %d SMS, want 5 (no sixth over its hourly limit)", n)
		}
	})
}

type flowID struct {
	FlowID string `json:"flow_id"`
}

// TestPauseKillsLiveCodes: when wrong codes pause the SMS channel, every live code of the
// account dies, so parallel flows give no more than the paused number of guesses.
func TestPauseKillsLiveCodes(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "", "+77011234567", goodPassword)
		flows := make([]flowID, 5)
		for i := range flows {
			e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77011234567"}).JSON(t, &flows[i])
			e.Deliver(t)
		}
		sms := e.SMSTo("+77011234567")
		if len(sms) != 5 {
			t.Fatalf("got %d SMS, want 5", len(sms))
		}
		checked := 0
		for i, f := range flows[:2] {
			wrong := fmt.Sprintf("%06d", (atoi(kilttest.Code(sms[i]))+1)%1000000)
			for range 5 {
				if r := e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": f.FlowID, "code": wrong}); r.Status == 422 {
					checked++
				}
			}
		}
		if checked != 10 {
			t.Fatalf("%d wrong codes were checked before the pause, want 10", checked)
		}
		// The right code of a flow that was live when the pause began no longer works.
		r := e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": flows[2].FlowID, "code": kilttest.Code(sms[2])})
		if r.Status != 410 || r.ErrorCode() != "flow_gone" {
			t.Errorf("a live code after the pause: %d %s, want 410 flow_gone", r.Status, r.Body)
		}
		for i, f := range flows[3:] {
			wrong := fmt.Sprintf("%06d", (atoi(kilttest.Code(sms[3+i]))+1)%1000000)
			if r := e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": f.FlowID, "code": wrong}); r.Status != 410 {
				t.Errorf("a guess in flow %d after the pause: %d %s, want 410", 4+i, r.Status, r.Body)
			}
		}
	})
}

// TestPausedNumbersAnswerAlike: a number without an account is paused by wrong codes the
// same way, so the pause tells nothing about accounts; failures of other numbers do not
// count for it.
func TestPausedNumbersAnswerAlike(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "", "+77011234567", goodPassword)
		// Failures of other numbers without an account.
		for i := range 4 {
			var f flowID
			e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": fmt.Sprintf("+7701765430%d", i)}).JSON(t, &f)
			for range 5 {
				e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": f.FlowID, "code": "000000"})
			}
		}
		e.Deliver(t)
		var answers [2][]string
		for n, phone := range []string{"+77011234567", "+77017654321"} {
			for range 3 {
				var f flowID
				e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": phone}).JSON(t, &f)
				for range 5 {
					r := e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": f.FlowID, "code": "000000"})
					answers[n] = append(answers[n], fmt.Sprintf("%d %s", r.Status, r.Body))
				}
			}
			e.Deliver(t)
		}
		for i := range answers[0] {
			if answers[0][i] != answers[1][i] {
				t.Errorf("attempt %d: %s with an account vs %s without", i+1, answers[0][i], answers[1][i])
			}
		}
		if a := answers[1][10]; !strings.HasPrefix(a, "410") {
			t.Errorf("the 11th wrong code of a number without an account: %s, want 410", a)
		}
	})
}

// TestVerifyLimitedPerIP: one client cannot try codes without bound.
func TestVerifyLimitedPerIP(t *testing.T) {
	forEachDialect(t, map[string]string{"KILT_LIMIT_VERIFY_IP": "20/1h"}, func(t *testing.T, e *kilttest.Env) {
		limited := false
		for i := range 6 {
			var f flowID
			e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": fmt.Sprintf("+7701765431%d", i)}).JSON(t, &f)
			for range 4 {
				r := e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": f.FlowID, "code": "000000"})
				if r.Status == 429 && r.Header.Get("Retry-After") != "" {
					limited = true
				}
			}
		}
		if !limited {
			t.Errorf("24 code checks from one IP were never limited (limit 20/h)")
		}
	})
}

// TestLinkBeforeLockCannotReset: an operator's lock outranks a link issued before it.
func TestLinkBeforeLockCannotReset(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		a := addAccount(t, e, "a@mail.kz", "", goodPassword)
		e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": "a@mail.kz"})
		e.Deliver(t)
		tok := tokenOf(t, e.MailTo(t, "a@mail.kz")[0].Link("token="))
		if err := e.App.Sessions.SetLocked(context.Background(), a.ID, true, "test"); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(time.Second)
		if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(tok, newPassword)); r.Status != 410 || r.ErrorCode() != "link_invalid" {
			t.Errorf("reset of a locked account: %d %s, want 410 link_invalid", r.Status, r.Body)
		}
		if err := e.App.Sessions.SetLocked(context.Background(), a.ID, false, "test"); err != nil {
			t.Fatal(err)
		}
		mustLogin(t, e, "a@mail.kz", goodPassword) // the password was not changed
		// The lock killed the link for good: unlocking does not bring it back.
		if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(tok, newPassword)); r.Status != 410 || r.ErrorCode() != "link_invalid" {
			t.Errorf("reset after the unlock with a link from before the lock: %d %s, want 410 link_invalid", r.Status, r.Body)
		}
	})
}

// TestParallelGuessesBounded: guesses sent at once, from many clients, to five flows of one
// number are decided one after the other, so the pause bounds them all.
func TestParallelGuessesBounded(t *testing.T) {
	forEachDialect(t, map[string]string{"KILT_TRUSTED_PROXIES": "127.0.0.1/32"}, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "", "+77011234567", goodPassword)
		flows := make([]flowID, 5)
		for i := range flows {
			e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": "+77011234567"}).JSON(t, &flows[i])
			e.Deliver(t)
		}
		sms := e.SMSTo("+77011234567")
		if len(sms) != 5 {
			t.Fatalf("got %d SMS, want 5", len(sms))
		}
		var mu sync.Mutex
		checked := 0
		var wg sync.WaitGroup
		for i, f := range flows {
			wrong := fmt.Sprintf("%06d", (atoi(kilttest.Code(sms[i]))+1)%1000000)
			for j := range 5 {
				wg.Go(func() {
					r := e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": f.FlowID, "code": wrong},
						"X-Forwarded-For", fmt.Sprintf("203.0.113.%d", 5*i+j+1))
					if r.Status == 422 {
						mu.Lock()
						checked++
						mu.Unlock()
					}
				})
			}
		}
		wg.Wait()
		if checked > 10 {
			t.Errorf("%d of 25 parallel guesses were checked, want at most 10", checked)
		}
	})
}
