package api_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"kilt/internal/kilttest"
)

const attackerPassword = "Qaraqum-Batyr-51"

// startChange asks for a new channel with the current password: the change's id.
func startChange(t *testing.T, e *kilttest.Env, tok string, body map[string]string) string {
	t.Helper()
	r := e.Do(t, "POST", "/api/v1/account/channels", body, bearer(tok)...)
	if r.Status != http.StatusAccepted {
		t.Fatalf("start change: got %d %s, want 202", r.Status, r.Body)
	}
	var out struct {
		ID string `json:"channel_change_id"`
	}
	r.JSON(t, &out)
	return out.ID
}

// freezeLink is the freeze link of the newest mail to addr.
func freezeLink(t *testing.T, e *kilttest.Env, addr string) string {
	t.Helper()
	return e.LatestLink(t, addr, "/freeze?token=")
}

// TestTakeover is the scenario of issue 14 end to end through the API: an attacker who
// knows the password changes the e-mail; the owner's old address gets the notice (read from
// the in-process SMTP server); the owner freezes; the change is reverted, the attacker's
// sessions are gone and sign-in is refused; the owner recovers through the old address and
// signs in.
func TestTakeover(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		const owner, attacker = "aigerim@mail.kz", "thief@evil.example"
		addAccount(t, e, owner, "", goodPassword)
		atk := mustLogin(t, e, owner, goodPassword)
		id := startChange(t, e, atk.Token, map[string]string{"email": attacker, "current_password": goodPassword})
		if id == "" {
			t.Fatal("no channel_change_id")
		}
		link := e.LatestLink(t, attacker, "/account/channels/confirm?token=")
		r := e.Do(t, "POST", "/api/v1/account/channels/confirm", map[string]string{"token": tokenOf(t, link)}, bearer(atk.Token)...)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), attacker) {
			t.Fatalf("confirm: got %d %s", r.Status, r.Body)
		}
		// The attacker now signs in with the new address and changes the password.
		atk2 := mustLogin(t, e, attacker, goodPassword)
		if r := e.Do(t, "POST", "/api/v1/password", map[string]string{"current_password": goodPassword,
			"password": attackerPassword, "password_confirm": attackerPassword}, bearer(atk2.Token)...); r.Status != http.StatusNoContent {
			t.Fatalf("attacker's password change: %d %s", r.Status, r.Body)
		}

		// The owner's old address got the notice of the change, with its freeze link.
		e.Deliver(t)
		mails := e.MailTo(t, owner)
		if len(mails) != 1 || !strings.Contains(mails[0].Text, "/freeze?token=") {
			t.Fatalf("the old address got %d mails, want the notice with a freeze link: %+v", len(mails), mails)
		}
		freeze := tokenOf(t, mails[0].Link("/freeze?token="))
		if r := e.Do(t, "POST", "/api/v1/freeze", map[string]string{"token": freeze}); r.Status != http.StatusNoContent {
			t.Fatalf("freeze: got %d %s", r.Status, r.Body)
		}
		// The change is reverted, the attacker's sessions are gone, sign-in is refused.
		for _, tok := range []string{atk.Token, atk2.Token} {
			if r := e.Do(t, "GET", "/api/v1/sessions/current", nil, bearer(tok)...); r.Status != http.StatusUnauthorized {
				t.Errorf("attacker's session after the freeze: got %d, want 401", r.Status)
			}
		}
		a, err := e.App.Accounts.ByID(context.Background(), atk.Account.ID)
		if err != nil {
			t.Fatal(err)
		}
		if a.Email != owner || !a.EmailVerified || !a.Frozen() {
			t.Fatalf("after the freeze: email %q verified %v frozen %v, want %q verified, frozen", a.Email, a.EmailVerified, a.Frozen(), owner)
		}
		if r, _ := login(t, e, owner, attackerPassword); r.Status != http.StatusForbidden || r.ErrorCode() != "account_frozen" {
			t.Errorf("sign-in of a frozen account: got %d %s, want 403 account_frozen", r.Status, r.Body)
		}
		if r, _ := login(t, e, attacker, attackerPassword); r.Status != http.StatusUnauthorized {
			t.Errorf("sign-in with the attacker's address: got %d, want 401", r.Status)
		}
		// The owner's address is told of the freeze and where to recover.
		e.Deliver(t)
		if got := e.MailTo(t, owner); len(got) != 2 || got[1].Link("/recovery") == "" || got[1].Link("/freeze?token=") != "" {
			t.Errorf("the old address after the freeze got %d mails, want the notice of the freeze with the recovery page", len(got))
		}
		// The freeze link works once.
		if r := e.Do(t, "POST", "/api/v1/freeze", map[string]string{"token": freeze}); r.Status != http.StatusGone {
			t.Errorf("freeze link used twice: got %d, want 410", r.Status)
		}

		// The owner recovers through the old address and signs in.
		if r := e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": owner}); r.Status != http.StatusAccepted {
			t.Fatalf("recovery: %d %s", r.Status, r.Body)
		}
		reset := tokenOf(t, e.LatestLink(t, owner, "/recovery/reset?token="))
		const ownerNew = "Zhibek-Zholy-2026"
		if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(reset, ownerNew)); r.Status != http.StatusNoContent {
			t.Fatalf("reset: %d %s", r.Status, r.Body)
		}
		mustLogin(t, e, owner, ownerNew)
		// The attacker's address got its confirmation link and the notice of the attacker's
		// own password change, never the owner's recovery link.
		for _, m := range e.MailTo(t, attacker) {
			if strings.Contains(m.Text, "/recovery/reset?token=") {
				t.Errorf("the attacker's address got a recovery link")
			}
		}
	})
}

// TestPhoneChannel: a phone added to an e-mail account by code, with a wrong code counted,
// a resend cool-down; then the e-mail removed while the phone remains, and the phone
// refused removal as the last channel. The current password answer stays valid 5 minutes.
func TestPhoneChannel(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		const addr, number = "dana@mail.kz", "+77051234567"
		addAccount(t, e, addr, "", goodPassword)
		s := mustLogin(t, e, addr, goodPassword)
		if r := e.Do(t, "POST", "/api/v1/account/channels", map[string]string{"phone": "8 705 123 45 67", "current_password": "Wrong-Password-1"}, bearer(s.Token)...); r.Status != http.StatusForbidden || r.ErrorCode() != "current_password_incorrect" {
			t.Fatalf("wrong current password: got %d %s, want 403 current_password_incorrect", r.Status, r.Body)
		}
		id := startChange(t, e, s.Token, map[string]string{"phone": "8 705 123 45 67", "current_password": goodPassword})
		code := e.LatestCode(t, number)
		if r := e.Do(t, "POST", "/api/v1/account/channels/"+id+"/resend", nil, bearer(s.Token)...); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Errorf("resend at once: got %d %v, want 429 with Retry-After", r.Status, r.Header)
		}
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		if r := e.Do(t, "POST", "/api/v1/account/channels/"+id+"/verify", map[string]string{"code": wrong}, bearer(s.Token)...); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("wrong code: got %d %s, want 422", r.Status, r.Body)
		}
		if r := e.Do(t, "POST", "/api/v1/account/channels/"+id+"/verify", map[string]string{"code": code}, bearer(s.Token)...); r.Status != http.StatusOK {
			t.Fatalf("verify: got %d %s, want 200", r.Status, r.Body)
		}
		e.Deliver(t)
		if mails := e.MailTo(t, addr); len(mails) != 1 || !strings.Contains(mails[0].Text, "/freeze?token=") {
			t.Errorf("the e-mail got %d mails, want the notice of the added phone", len(mails))
		}
		// Both recovery paths work now: a recovery code to the number.
		if r := e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": number}); r.Status != http.StatusAccepted {
			t.Fatalf("recovery by phone: %d %s", r.Status, r.Body)
		}
		e.LatestCode(t, number)
		// Within 5 minutes the password need not be given again.
		if r := e.Do(t, "DELETE", "/api/v1/account/channels/email", map[string]string{}, bearer(s.Token)...); r.Status != http.StatusNoContent {
			t.Fatalf("remove the e-mail: got %d %s, want 204", r.Status, r.Body)
		}
		if r := e.Do(t, "DELETE", "/api/v1/account/channels/phone", map[string]string{}, bearer(s.Token)...); r.Status != http.StatusConflict || r.ErrorCode() != "last_channel" {
			t.Errorf("remove the last channel: got %d %s, want 409 last_channel", r.Status, r.Body)
		}
		e.Clock.Advance(6 * 60e9)
		if r := e.Do(t, "DELETE", "/api/v1/account/channels/phone", map[string]string{}, bearer(s.Token)...); r.Status != http.StatusBadRequest || r.ErrorCode() != "password_required" {
			t.Errorf("after 6 minutes without the password: got %d %s, want 400 password_required", r.Status, r.Body)
		}
		if mails := e.MailTo(t, addr); len(mails) != 2 {
			e.Deliver(t)
		}
		if mails := e.MailTo(t, addr); len(mails) != 2 {
			t.Errorf("the removed address got %d mails, want 2 (the second: its removal)", len(mails))
		}
	})
}

// TestChannelOfAnotherAccount: an identifier of another account gets a byte-identical
// answer (but for the id) to a free one, nothing verifiable is sent, and the owner is told.
func TestChannelOfAnotherAccount(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "owner@mail.kz", "", goodPassword)
		addAccount(t, e, "asker@mail.kz", "", goodPassword)
		s := mustLogin(t, e, "asker@mail.kz", goodPassword)
		answer := func(addr string) string {
			r := e.Do(t, "POST", "/api/v1/account/channels", map[string]string{"email": addr, "current_password": goodPassword}, bearer(s.Token)...)
			if r.Status != http.StatusAccepted {
				t.Fatalf("%s: got %d %s", addr, r.Status, r.Body)
			}
			var out map[string]any
			r.JSON(t, &out)
			delete(out, "channel_change_id")
			keys := []string{}
			for k := range out {
				keys = append(keys, k)
			}
			return strings.Join(keys, ",") + string(r.Header.Get("Content-Type"))
		}
		if taken, free := answer("owner@mail.kz"), answer("free@mail.kz"); taken != free {
			t.Errorf("taken %q and free %q answer differently", taken, free)
		}
		e.Deliver(t)
		mails := e.MailTo(t, "owner@mail.kz")
		if len(mails) != 1 || strings.Contains(mails[0].Text, "token=") {
			t.Fatalf("the owner got %d mails, want one notice without any link token: %+v", len(mails), mails)
		}
		if len(e.MailTo(t, "free@mail.kz")) != 1 {
			t.Errorf("the free address got no link")
		}
	})
}

// TestFreezeRaces: a freeze link used twice at once (exactly one wins); two channel changes
// at once (one stays pending); a freeze during a reset (the account ends frozen, with no
// session and no live link).
func TestFreezeRaces(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "race@mail.kz", "", goodPassword)
		s := mustLogin(t, e, "race@mail.kz", goodPassword)
		// Two changes at once: both answered, the newer alone pending.
		var wg sync.WaitGroup
		for _, addr := range []string{"one@mail.kz", "two@mail.kz"} {
			wg.Go(func() {
				e.Do(t, "POST", "/api/v1/account/channels", map[string]string{"email": addr, "current_password": goodPassword}, bearer(s.Token)...)
			})
		}
		wg.Wait()
		live := 0
		for _, addr := range []string{"one@mail.kz", "two@mail.kz"} {
			tok := tokenOf(t, e.LatestLink(t, addr, "/account/channels/confirm?token="))
			if r := e.Do(t, "POST", "/api/v1/account/channels/confirm", map[string]string{"token": tok}, bearer(s.Token)...); r.Status == http.StatusOK {
				live++
			}
		}
		if live != 1 {
			t.Fatalf("%d of two concurrent changes could be confirmed, want exactly 1", live)
		}

		// A freeze link used twice at once.
		link := tokenOf(t, freezeLink(t, e, "race@mail.kz"))
		var mu sync.Mutex
		statuses := map[int]int{}
		for range 2 {
			wg.Go(func() {
				r := e.Do(t, "POST", "/api/v1/freeze", map[string]string{"token": link})
				mu.Lock()
				statuses[r.Status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if statuses[http.StatusNoContent] != 1 || statuses[http.StatusGone] != 1 {
			t.Fatalf("a freeze link used twice at once: %v, want one 204 and one 410", statuses)
		}
		e.Deliver(t) // the notice of the freeze, before the recovery's mail

		// A freeze during a reset: recover (lifting the freeze), and freeze again with the
		// reset's notice while another reset is under way.
		e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": "race@mail.kz"})
		first := tokenOf(t, e.LatestLink(t, "race@mail.kz", "/recovery/reset?token="))
		if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(first, "Reset-Number-One-1")); r.Status != http.StatusNoContent {
			t.Fatalf("reset: %d %s", r.Status, r.Body)
		}
		mustLogin(t, e, "race@mail.kz", "Reset-Number-One-1")
		freeze := tokenOf(t, freezeLink(t, e, "race@mail.kz"))
		e.Do(t, "POST", "/api/v1/recovery/email", map[string]string{"email": "race@mail.kz"})
		second := tokenOf(t, e.LatestLink(t, "race@mail.kz", "/recovery/reset?token="))
		var resetStatus, freezeStatus int
		wg.Go(func() {
			resetStatus = e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(second, "Reset-Number-Two-2")).Status
		})
		wg.Go(func() { freezeStatus = e.Do(t, "POST", "/api/v1/freeze", map[string]string{"token": freeze}).Status })
		wg.Wait()
		if freezeStatus != http.StatusNoContent || (resetStatus != http.StatusNoContent && resetStatus != http.StatusGone) {
			t.Fatalf("freeze %d, reset %d", freezeStatus, resetStatus)
		}
		a, err := e.App.Accounts.ByID(context.Background(), s.Account.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !a.Frozen() {
			t.Errorf("after a freeze during a reset the account is not frozen (reset %d)", resetStatus)
		}
		for _, pw := range []string{"Reset-Number-One-1", "Reset-Number-Two-2"} {
			if r, _ := login(t, e, "race@mail.kz", pw); r.Status == http.StatusCreated {
				t.Errorf("signed in with %q after the freeze", pw)
			}
		}
	})
}

// TestChannelTimingDoesNotTell: asking for an address of another account and for a free one
// take indistinguishable times (the decoy does the same work: one locked read, one insert,
// one queued message), by the two-sample Kolmogorov–Smirnov test of
// TestTimingDoesNotTellKnownFromUnknown, two samples before it fails.
func TestChannelTimingDoesNotTell(t *testing.T) {
	if testing.Short() {
		t.Skip("statistical timing test: not in -short")
	}
	e := kilttest.Start(t, "sqlite", map[string]string{
		"KILT_LIMIT_REGISTRATION_IP": "0/1h", "KILT_LIMIT_REGISTRATION_IDENTIFIER": "0/1h", "KILT_LOG_LEVEL": "error",
	})
	known := make([]string, 40)
	for i := range known {
		known[i] = fmt.Sprintf("k%d@mail.kz", i)
		addAccount(t, e, known[i], "", goodPassword)
	}
	addAccount(t, e, "asker@mail.kz", "", goodPassword)
	s := mustLogin(t, e, "asker@mail.kz", goodPassword)
	// The password once; the fake clock stands still, so the answer stays fresh.
	startChange(t, e, s.Token, map[string]string{"email": "first@mail.kz", "current_password": goodPassword})
	measure := func(addr string) (float64, int) {
		start := time.Now()
		r := e.Do(t, "POST", "/api/v1/account/channels", map[string]string{"email": addr}, bearer(s.Token)...)
		return float64(time.Since(start).Microseconds()), r.Status
	}
	const n = 200
	for attempt := 1; ; attempt++ {
		var kt, ut []float64
		for i := range n {
			var dk, du float64
			var sk, su int
			if i%2 == 0 {
				dk, sk = measure(known[i%len(known)])
				du, su = measure(fmt.Sprintf("free%d-%d@mail.kz", attempt, i))
			} else {
				du, su = measure(fmt.Sprintf("free%d-%d@mail.kz", attempt, i))
				dk, sk = measure(known[i%len(known)])
			}
			if sk != http.StatusAccepted || su != http.StatusAccepted {
				t.Fatalf("request %d: status %d for a taken address, %d for a free one", i, sk, su)
			}
			kt, ut = append(kt, dk), append(ut, du)
		}
		d := ksStatistic(kt, ut)
		crit := 1.95 * math.Sqrt(float64(len(kt)+len(ut))/float64(len(kt)*len(ut)))
		t.Logf("median taken %.0f µs, free %.0f µs; KS D = %.3f (critical %.3f)", median(kt), median(ut), d, crit)
		if d <= crit {
			return
		}
		if attempt == 2 {
			t.Errorf("response times tell a taken address from a free one: KS D = %.3f > %.3f", d, crit)
			return
		}
	}
}

// TestReplacedPhoneEndsItsRecovery: a recovery code sent to a number before the number was
// replaced does not set the password afterwards.
func TestReplacedPhoneEndsItsRecovery(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	const old, number = "+77011234567", "+77059998877"
	addAccount(t, e, "", old, goodPassword)
	r := e.Do(t, "POST", "/api/v1/recovery/phone", map[string]string{"phone": old})
	var flow struct {
		FlowID string `json:"flow_id"`
	}
	r.JSON(t, &flow)
	code := e.LatestCode(t, old)
	s := mustLogin(t, e, old, goodPassword)
	id := startChange(t, e, s.Token, map[string]string{"phone": number, "current_password": goodPassword})
	if r := e.Do(t, "POST", "/api/v1/account/channels/"+id+"/verify", map[string]string{"code": e.LatestCode(t, number)}, bearer(s.Token)...); r.Status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/api/v1/recovery/phone/verify", map[string]string{"flow_id": flow.FlowID, "code": code}); r.Status == http.StatusOK {
		t.Errorf("the old number's recovery code still works after the number was replaced: %d %s", r.Status, r.Body)
	}
}

// TestFreezeKeepsAnIdentifier: when the old address went to another account after the
// change, the freeze leaves the change (an account keeps an identifier) and still freezes.
func TestFreezeKeepsAnIdentifier(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		a := addAccount(t, e, "first@mail.kz", "", goodPassword)
		s := mustLogin(t, e, "first@mail.kz", goodPassword)
		startChange(t, e, s.Token, map[string]string{"email": "second@mail.kz", "current_password": goodPassword})
		tok := tokenOf(t, e.LatestLink(t, "second@mail.kz", "/account/channels/confirm?token="))
		if r := e.Do(t, "POST", "/api/v1/account/channels/confirm", map[string]string{"token": tok}, bearer(s.Token)...); r.Status != http.StatusOK {
			t.Fatalf("confirm: %d %s", r.Status, r.Body)
		}
		freeze := tokenOf(t, freezeLink(t, e, "first@mail.kz"))
		addAccount(t, e, "first@mail.kz", "", goodPassword) // the old address, someone else's now
		if r := e.Do(t, "POST", "/api/v1/freeze", map[string]string{"token": freeze}); r.Status != http.StatusNoContent {
			t.Fatalf("freeze: %d %s", r.Status, r.Body)
		}
		got, err := e.App.Accounts.ByID(context.Background(), a.ID)
		if err != nil || got.Email != "second@mail.kz" || !got.Frozen() {
			t.Errorf("after the freeze: %+v %v", got, err)
		}
	})
}
