package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"kilt/internal/desk"
	"kilt/internal/i18n"
	"kilt/internal/kilttest"
)

// TestRecoveryDesk walks the citizen with a slip code through /recovery/desk to the reset
// screen and signing in, in Kazakh; a wrong code gets the one message, and neither code
// nor token reaches the log.
func TestRecoveryDesk(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	a := addAccount(t, e, "lost@mail.kz", "", goodPassword)
	op := addAccount(t, e, "desk@mail.kz", "", goodPassword)
	ctx := context.Background()
	if _, err := e.App.Desk.AddOperator(ctx, "desk@mail.kz", desk.RoleSupport); err != nil {
		t.Fatal(err)
	}
	p := &desk.Principal{Operator: desk.Operator{AccountID: op.ID}}
	if _, err := e.App.Desk.Lookup(ctx, p, desk.Client{}, "lost@mail.kz"); err != nil {
		t.Fatal(err)
	}
	iss, err := e.App.Desk.IssueSlip(ctx, p, desk.Client{}, a.ID, "passport checked", true)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowserIn(t, e, "kk")
	r := b.post("/recovery/desk", url.Values{"desk_code": {"QRST-WXYZ-2345"}})
	if r.Status != http.StatusGone {
		t.Fatalf("wrong code: got %d, want 410", r.Status)
	}
	contains(t, "wrong code", r.Body, text(i18n.T("kk", "desk_code_invalid")), `aria-invalid="true"`)
	if strings.Contains(r.Body, "QRST-WXYZ-2345") {
		t.Error("the typed code is written back into the page")
	}
	r = b.post("/recovery/desk", url.Values{"desk_code": {strings.ToLower(iss.Code)}})
	if r.Status != http.StatusSeeOther || r.Location != "/recovery/reset" {
		t.Fatalf("right code: got %d to %q, want 303 to /recovery/reset; body:\n%s", r.Status, r.Location, r.Body)
	}
	checkSecretHeaders(t, r)
	page := b.follow(r)
	contains(t, "reset page", page.Body, `>Құпия сөз</label>`, `>Құпия сөзді қайталау</label>`, `>Сақтау</button>`)
	tok := hidden(page.Body, "token")
	r = b.post("/recovery/reset", url.Values{"token": {tok}, "password": {newPassword}, "password_confirm": {newPassword}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("reset: got %d; body:\n%s", r.Status, r.Body)
	}
	b.signIn("lost@mail.kz", newPassword)
	if !b.signedIn() {
		t.Error("not signed in with the new password")
	}
	for _, secret := range []string{iss.Code, strings.ReplaceAll(iss.Code, "-", ""), tok} {
		if strings.Contains(e.Log.String(), secret) {
			t.Errorf("the log holds a secret %q", secret)
		}
	}
}
