package api_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"kilt/internal/account"
	"kilt/internal/desk"
	"kilt/internal/kilttest"
)

// deskOperator makes an operator (an account with the support role) and returns its
// principal, as the console's authentication would give.
func deskOperator(t *testing.T, e *kilttest.Env) *desk.Principal {
	t.Helper()
	opAcct := addAccount(t, e, "", "+77019998877", goodPassword)
	if _, err := e.App.Desk.AddOperator(context.Background(), "+77019998877", desk.RoleSupport); err != nil {
		t.Fatal(err)
	}
	return &desk.Principal{Operator: desk.Operator{AccountID: opAcct.ID, Role: desk.RoleSupport}}
}

// lookUp has the operator look the account up by its e-mail address (or phone), which it
// must before acting on it.
func lookUp(t *testing.T, e *kilttest.Env, p *desk.Principal, a *account.Account) {
	t.Helper()
	identifier := a.Email
	if identifier == "" {
		identifier = a.Phone
	}
	if _, err := e.App.Desk.Lookup(context.Background(), p, desk.Client{IP: "10.9.9.9"}, identifier); err != nil {
		t.Fatal(err)
	}
}

// issueSlip has a new operator look the account up and issue a slip code for it.
func issueSlip(t *testing.T, e *kilttest.Env, a *account.Account) string {
	t.Helper()
	return issueSlipBy(t, e, deskOperator(t, e), a)
}

// issueSlipBy is issueSlip by the operator p.
func issueSlipBy(t *testing.T, e *kilttest.Env, p *desk.Principal, a *account.Account) string {
	t.Helper()
	lookUp(t, e, p, a)
	iss, err := e.App.Desk.IssueSlip(context.Background(), p, desk.Client{IP: "10.9.9.9"}, a.ID, "passport checked", true)
	if err != nil {
		t.Fatal(err)
	}
	return iss.Code
}

func docRecoveryDesk(t *testing.T, e *docEnv) {
	a := addAccount(t, e.Env, "lost@mail.kz", "", goodPassword)
	code := issueSlip(t, e.Env, a)
	redeem := func(want int, code string) *kilttest.Response {
		t.Helper()
		return e.call(t, want, "redeemDeskCode", "/api/v1/recovery/desk", map[string]string{"code": code})
	}
	e.call(t, http.StatusBadRequest, "redeemDeskCode", "/api/v1/recovery/desk", `{"code":12}`)
	// Lower case and without dashes is the same code.
	r := redeem(http.StatusOK, strings.ToLower(strings.ReplaceAll(code, "-", "")))
	var v struct {
		ResetToken string `json:"reset_token"`
	}
	r.JSON(t, &v)
	e.call(t, http.StatusNoContent, "resetPassword", "/api/v1/recovery/reset", resetBody(v.ResetToken, newPassword))
	redeem(http.StatusGone, code)
	for range 4 { // with the used code above, five wrong entries
		redeem(http.StatusGone, "ABCD-EFGH-JKMN")
	}
	redeem(http.StatusTooManyRequests, code)
}

// TestDeskCodeSingleUse: a slip code gives one reset token; its second use is refused.
func TestDeskCodeSingleUse(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	a := addAccount(t, e, "lost@mail.kz", "", goodPassword)
	code := issueSlip(t, e, a)
	r := e.Do(t, "POST", "/api/v1/recovery/desk", map[string]string{"code": code})
	if r.Status != http.StatusOK {
		t.Fatalf("first use: %d %s", r.Status, r.Body)
	}
	var v struct {
		ResetToken string `json:"reset_token"`
	}
	r.JSON(t, &v)
	if r := e.Do(t, "POST", "/api/v1/recovery/desk", map[string]string{"code": code}); r.Status != http.StatusGone || r.ErrorCode() != desk.CodeSlipInvalid {
		t.Errorf("second use: %d %s, want 410 desk_code_invalid", r.Status, r.Body)
	}
	// The reset token sets the password once, and the citizen signs in with it.
	if r := e.Do(t, "POST", "/api/v1/recovery/reset", resetBody(v.ResetToken, newPassword)); r.Status != http.StatusNoContent {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/api/v1/sessions", map[string]string{"identifier": "lost@mail.kz", "password": newPassword}); r.Status != http.StatusCreated {
		t.Errorf("sign-in with the new password: %d %s", r.Status, r.Body)
	}
}

// TestDeskCodeGuessing: five wrong codes from one IP in an hour make the sixth entry 429 —
// even the right code — until the hour has passed; and the right code then still works.
func TestDeskCodeGuessing(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	a := addAccount(t, e, "lost@mail.kz", "", goodPassword)
	code := issueSlip(t, e, a)
	for i, guess := range []string{"ABCD-EFGH-JKMN", "2345-6789-ABCD", "short", "ZZZZ-ZZZZ-ZZZZ", "0000-OOOO-1111"} {
		if r := e.Do(t, "POST", "/api/v1/recovery/desk", map[string]string{"code": guess}); r.Status != http.StatusGone {
			t.Fatalf("guess %d: %d %s, want 410", i+1, r.Status, r.Body)
		}
	}
	r := e.Do(t, "POST", "/api/v1/recovery/desk", map[string]string{"code": code})
	if r.Status != http.StatusTooManyRequests || r.ErrorCode() != desk.CodeSlipLimited || r.Header.Get("Retry-After") == "" {
		t.Fatalf("sixth entry: %d %s, want 429 desk_code_limited with Retry-After", r.Status, r.Body)
	}
	e.Clock.Advance(61 * time.Minute)
	if r := e.Do(t, "POST", "/api/v1/recovery/desk", map[string]string{"code": code}); r.Status != http.StatusOK {
		t.Errorf("after the hour: %d %s, want 200", r.Status, r.Body)
	}
}

// TestDeskCodeAfterLock: locking the account kills its slip code (and one that survived
// would still be refused while the account is locked).
func TestDeskCodeAfterLock(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	a := addAccount(t, e, "lost@mail.kz", "", goodPassword)
	p := deskOperator(t, e)
	code := issueSlipBy(t, e, p, a)
	if err := e.App.Desk.Act(context.Background(), p, desk.Client{}, a.ID, desk.ActionLock, "stolen identity reported"); err != nil {
		t.Fatal(err)
	}
	if r := e.Do(t, "POST", "/api/v1/recovery/desk", map[string]string{"code": code}); r.Status != http.StatusGone {
		t.Errorf("a code of a locked account: %d %s, want 410", r.Status, r.Body)
	}
}

// TestCommandLineLockKillsSlipAndChange: `kilt user lock` (session.Service.SetLocked) kills
// the desk's slip codes and a pending channel change's link as the desk's lock does, so
// neither works after `kilt user unlock`. (Before, a slip issued before the lock still gave
// a reset token after the unlock, and the change still completed.)
func TestCommandLineLockKillsSlipAndChange(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	a := addAccount(t, e, "lost@mail.kz", "", goodPassword)
	code := issueSlip(t, e, a)
	tok := mustLogin(t, e, "lost@mail.kz", goodPassword).Token
	startChange(t, e, tok, map[string]string{"email": "new@mail.kz", "current_password": goodPassword})
	change := tokenOf(t, e.LatestLink(t, "new@mail.kz", "token="))
	ctx := context.Background()
	if err := e.App.Sessions.SetLocked(ctx, a.ID, true, "kilt user lock"); err != nil {
		t.Fatal(err)
	}
	if err := e.App.Sessions.SetLocked(ctx, a.ID, false, "kilt user unlock"); err != nil {
		t.Fatal(err)
	}
	if r := e.Do(t, "POST", "/api/v1/recovery/desk", map[string]string{"code": code}); r.Status != http.StatusGone || r.ErrorCode() != "desk_code_invalid" {
		t.Errorf("a slip code issued before the lock, after the unlock: %d %s, want 410 desk_code_invalid", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/api/v1/account/channels/confirm", map[string]string{"token": change}, bearer(tok)...); r.Status != http.StatusGone || r.ErrorCode() != "channel_change_invalid" {
		t.Errorf("a channel change started before the lock, after the unlock: %d %s, want 410 channel_change_invalid", r.Status, r.Body)
	}
}

// TestDeskCodeGuessingIPv6: a client cannot escape the limit by picking new addresses in
// its IPv6 /64.
func TestDeskCodeGuessingIPv6(t *testing.T) {
	e := kilttest.Start(t, "sqlite", map[string]string{"KILT_TRUSTED_PROXIES": "127.0.0.1/32,::1/128"})
	a := addAccount(t, e, "lost@mail.kz", "", goodPassword)
	code := issueSlip(t, e, a)
	for i := range 5 {
		xff := "2001:db8:1:2::" + strconv.Itoa(i+1)
		if r := e.Do(t, "POST", "/api/v1/recovery/desk", map[string]string{"code": "QRST-WXYZ-2345"}, "X-Forwarded-For", xff); r.Status != http.StatusGone {
			t.Fatalf("guess %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	r := e.Do(t, "POST", "/api/v1/recovery/desk", map[string]string{"code": code}, "X-Forwarded-For", "2001:db8:1:2:abcd::77")
	if r.Status != http.StatusTooManyRequests {
		t.Errorf("a sixth address of the same /64: %d %s, want 429", r.Status, r.Body)
	}
	if r := e.Do(t, "POST", "/api/v1/recovery/desk", map[string]string{"code": code}, "X-Forwarded-For", "10.1.2.3"); r.Status != http.StatusOK {
		t.Errorf("another client: %d %s, want 200", r.Status, r.Body)
	}
}
