package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"kilt/internal/kilttest"
)

// TestLockedAccountPages: a locked account's session gets the API's answer on the pages
// too — 403 account_locked where a signed-in person is needed — while public pages show as
// to anyone, and an unlock restores the session.
func TestLockedAccountPages(t *testing.T) {
	e := kilttest.Start(t, "sqlite", nil)
	a := addAccount(t, e, "aigerim@mail.kz", "", goodPassword)
	b := newBrowserIn(t, e, "en")
	b.signIn("aigerim@mail.kz", goodPassword)
	if err := e.App.Sessions.SetLocked(context.Background(), a.ID, true, "by a test"); err != nil {
		t.Fatal(err)
	}
	r := b.get("/account")
	if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "This account is locked") {
		t.Errorf("account page of a locked account: got %d, want 403 with the locked message", r.Status)
	}
	if r := b.get("/login"); r.Status != http.StatusOK {
		t.Errorf("sign-in page: got %d, want 200", r.Status)
	}
	if err := e.App.Sessions.SetLocked(context.Background(), a.ID, false, "by a test"); err != nil {
		t.Fatal(err)
	}
	if !b.signedIn() {
		t.Error("after unlock: the session does not open the account page")
	}
	// A locked account's session may sign out: it ends, and an unlock does not revive it.
	if err := e.App.Sessions.SetLocked(context.Background(), a.ID, true, "by a test"); err != nil {
		t.Fatal(err)
	}
	tok := sessionToken(t, b)
	if r := b.post("/logout", nil); r.Status != http.StatusSeeOther || r.Location != "/login" {
		t.Fatalf("sign-out when locked: got %d to %q", r.Status, r.Location)
	}
	if err := e.App.Sessions.SetLocked(context.Background(), a.ID, false, "by a test"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.App.Sessions.Current(context.Background(), tok); err == nil {
		t.Error("the session signed out while locked is alive after unlock")
	}
}

// sessionToken is the session cookie the browser holds.
func sessionToken(t *testing.T, b *browser) string {
	t.Helper()
	u, err := url.Parse(b.e.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "kilt" {
			return c.Value
		}
	}
	t.Fatal("the browser holds no session cookie")
	return ""
}
