package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"kilt/internal/i18n"
	"kilt/internal/kilttest"
)

// The account page's sessions, export and deletion, and the cancel link's page, without
// JavaScript, on both databases.

func forEachDialect(t *testing.T, env map[string]string, f func(t *testing.T, e *kilttest.Env)) {
	for _, d := range kilttest.Dialects {
		t.Run(d, func(t *testing.T) { f(t, kilttest.Start(t, d, env)) })
	}
}

// TestSessionsPage: the account page lists the sessions with "this device"; one ends by
// its button, another account's id ends nothing (404), and "end all others" keeps this one.
func TestSessionsPage(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "aigerim@mail.kz", "", goodPassword)
		addAccount(t, e, "bolat@mail.kz", "", goodPassword)
		a, phone, laptop, bolat := newBrowserIn(t, e, "kk"), newBrowserIn(t, e, "kk"), newBrowserIn(t, e, "kk"), newBrowserIn(t, e, "kk")
		a.signIn("aigerim@mail.kz", goodPassword)
		phone.signIn("aigerim@mail.kz", goodPassword)
		laptop.signIn("aigerim@mail.kz", goodPassword)
		bolat.signIn("bolat@mail.kz", goodPassword)

		page := a.get("/account")
		contains(t, "account page", page.Body, text(i18n.T("kk", "session_this_device")), text(i18n.T("kk", "button_end_other_sessions")))
		if n := strings.Count(page.Body, `action="/account/sessions/end"`); n != 2 {
			t.Errorf("%d end buttons, want 2 (every session but this one)", n)
		}
		if n := strings.Count(page.Body, `<span class="badge ok">`+text(i18n.T("kk", "session_this_device"))); n != 1 {
			t.Errorf("%d sessions marked this device, want 1", n)
		}

		other := hidden(bolat.get("/account").Body, "session")
		if r := a.post("/account/sessions/end", url.Values{"session": {other}}); r.Status != http.StatusNotFound {
			t.Errorf("another account's session: got %d, want 404", r.Status)
		}
		if !bolat.signedIn() {
			t.Error("another account's session ended")
		}

		r := a.post("/account/sessions/end", url.Values{"session": {hidden(page.Body, "session")}})
		if r.Status != http.StatusSeeOther || r.Location != "/account" {
			t.Fatalf("end one: got %d to %q; body:\n%s", r.Status, r.Location, r.Body)
		}
		contains(t, "after ending one", a.follow(r).Body, text(i18n.T("kk", "flash_session_ended")))
		if phone.signedIn() && laptop.signedIn() {
			t.Error("no session ended")
		}
		r = a.post("/account/sessions/end-others", nil)
		contains(t, "after ending the others", a.follow(r).Body, text(i18n.T("kk", "flash_other_sessions_ended")),
			text(i18n.T("kk", "event_sessions_revoked_others")))
		if phone.signedIn() || laptop.signedIn() || !a.signedIn() {
			t.Error("end all others: the others live on, or this one ended")
		}
		if n := strings.Count(a.get("/account").Body, `action="/account/sessions/end"`); n != 0 {
			t.Errorf("%d end buttons left, want 0", n)
		}
	})
}

// TestDeletePage: "Download my data" gives the JSON file; "Delete my account" wants the
// password and the ticked box, then shows the date with a cancel button; the cancel link
// shows a confirmation on GET (nothing changes), cancels on POST, once.
func TestDeletePage(t *testing.T) {
	forEachDialect(t, nil, func(t *testing.T, e *kilttest.Env) {
		addAccount(t, e, "aigerim@mail.kz", "+77011234567", goodPassword)
		b := newBrowserIn(t, e, "ru")
		b.signIn("aigerim@mail.kz", goodPassword)

		r := b.get("/account/export")
		if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment;") ||
			!strings.Contains(r.Body, `"aigerim@mail.kz"`) || strings.Contains(r.Body, "argon2") {
			t.Errorf("export: got %d, %q:\n%s", r.Status, r.Header.Get("Content-Disposition"), r.Body)
		}
		if r := newBrowser(t, e).get("/account/export"); r.Status != http.StatusSeeOther || r.Location != "/login" {
			t.Errorf("export signed out: got %d to %q", r.Status, r.Location)
		}

		r = b.post("/account/delete", url.Values{"current_password": {goodPassword}})
		if r.Status != http.StatusBadRequest {
			t.Errorf("without the box: got %d, want 400", r.Status)
		}
		contains(t, "without the box", r.Body, text(i18n.T("ru", "deletion_confirm_required")), `href="#delete_confirm"`)
		r = b.post("/account/delete", url.Values{"current_password": {"Not-The-One-1"}, "confirm": {"yes"}})
		if r.Status != http.StatusForbidden || strings.Contains(r.Body, "Not-The-One-1") {
			t.Errorf("a wrong password: got %d (or the page writes it back)", r.Status)
		}
		contains(t, "a wrong password", r.Body, text(i18n.T("ru", "current_password_incorrect")), `href="#delete_password"`)
		r = b.post("/account/delete", url.Values{"current_password": {goodPassword}, "confirm": {"yes"}})
		if r.Status != http.StatusSeeOther || r.Location != "/account" {
			t.Fatalf("delete: got %d to %q; body:\n%s", r.Status, r.Location, r.Body)
		}
		e.Deliver(t) // this notice before the next one: the link below is the newest mail's
		due := e.Clock.Now().Add(14 * 24 * time.Hour)
		page := b.follow(r)
		contains(t, "after the request", page.Body, text(i18n.T("ru", "flash_deletion_scheduled")), `action="/account/deletion/cancel"`,
			i18n.T("ru", fmt.Sprintf("month_%d", int(due.Month()))), fmt.Sprint(due.Year()))

		// Signing in again during the grace shows the date and the button.
		c := newBrowserIn(t, e, "ru")
		c.signIn("+77011234567", goodPassword)
		contains(t, "signing in during the grace", c.get("/account").Body, `class="notice notice-warning"`, text(i18n.T("ru", "button_cancel_deletion")))
		r = c.post("/account/deletion/cancel", nil)
		contains(t, "after the cancel", c.follow(r).Body, text(i18n.T("ru", "flash_deletion_cancelled")))
		if strings.Contains(b.get("/account").Body, `notice-warning`) {
			t.Error("the banner stays after the cancel")
		}

		// Again, and this time the notice's link cancels.
		b.post("/account/delete", url.Values{"current_password": {goodPassword}, "confirm": {"yes"}})
		link := e.LatestLink(t, "aigerim@mail.kz", "/deletion/cancel?token=")
		tok := tokenOf(t, link)
		scanner := newBrowser(t, e)
		r = scanner.open(link)
		if r.Status != http.StatusSeeOther || r.Location != "/deletion/cancel" {
			t.Fatalf("opening the link: got %d to %q", r.Status, r.Location)
		}
		checkSecretHeaders(t, r)
		page = scanner.follow(r)
		if page.Status != http.StatusOK || hidden(page.Body, "token") != tok {
			t.Fatalf("the link's page: got %d, token %q", page.Status, hidden(page.Body, "token"))
		}
		contains(t, "the link's page", page.Body, text(i18n.T("kk", "deletion_cancel_question")))
		if !strings.Contains(b.get("/account").Body, `notice-warning`) {
			t.Fatal("opening the link cancelled the deletion")
		}
		// The language switch posts the token back and changes nothing else.
		r = scanner.post("/deletion/cancel", url.Values{"token": {tok}, "lang": {"en"}})
		if r.Status != http.StatusOK || hidden(r.Body, "token") != tok || !strings.Contains(r.Body, `<html lang="en">`) {
			t.Fatalf("the language switch: got %d, token %q", r.Status, hidden(r.Body, "token"))
		}
		contains(t, "the link's page in English", r.Body, text(i18n.T("en", "deletion_cancel_question")))
		if !strings.Contains(b.get("/account").Body, `notice-warning`) {
			t.Fatal("the language switch cancelled the deletion")
		}
		r = scanner.post("/deletion/cancel", url.Values{"token": {tok}})
		if r.Status != http.StatusOK {
			t.Fatalf("cancel by link: got %d", r.Status)
		}
		contains(t, "cancelled by link", r.Body, text(i18n.T("en", "deletion_cancelled_text"))) // the switch chose English
		if strings.Contains(b.get("/account").Body, `notice-warning`) {
			t.Error("the link did not cancel")
		}
		if r := scanner.post("/deletion/cancel", url.Values{"token": {tok}}); r.Status != http.StatusGone {
			t.Errorf("the link used twice: got %d, want 410", r.Status)
		}
		if r := newBrowser(t, e).get("/deletion/cancel"); r.Status != http.StatusGone {
			t.Errorf("the page without a token: got %d, want 410", r.Status)
		}
	})
}
