package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"kilt/internal/i18n"
	"kilt/internal/kilttest"
)

// TestChannelPages walks the channel pages without JavaScript on both databases: a phone
// added by its code (a wrong code shown on the code page, the resend countdown), an e-mail
// replaced by its link (the token moved out of the address, the confirmation a POST), the
// phone removed, and the forms' errors shown next to their fields.
func TestChannelPages(t *testing.T) {
	for _, d := range kilttest.Dialects {
		t.Run(d, func(t *testing.T) {
			e := kilttest.Start(t, d, nil)
			addAccount(t, e, "page@mail.kz", "", goodPassword)
			b := newBrowser(t, e)
			b.signIn("page@mail.kz", goodPassword)

			// A wrong current password: the account page again, the error at the field.
			r := b.post("/account/channels", url.Values{"kind": {"phone"}, "new_channel": {"+7 705 111 22 33"}, "current_password": {"Wrong-Guess-11"}})
			if r.Status != http.StatusForbidden || !strings.Contains(r.Body, `id="channel_password_phone-errors"`) ||
				!strings.Contains(r.Body, `value="&#43;7 705 111 22 33"`) {
				t.Fatalf("wrong password: got %d\n%s", r.Status, r.Body)
			}
			r = b.post("/account/channels", url.Values{"kind": {"phone"}, "new_channel": {"+7 705 111 22 33"}, "current_password": {goodPassword}})
			code := b.follow(r)
			if code.Status != http.StatusOK || !strings.Contains(code.Body, `name="code"`) || !strings.Contains(code.Body, `data-countdown="60"`) {
				t.Fatalf("code page: %d\n%s", code.Status, code.Body)
			}
			wrong := b.post(r.Location+"/verify", url.Values{"code": {"000000"}})
			if sent := e.LatestCode(t, "+77051112233"); sent != "000000" {
				if wrong.Status != http.StatusUnprocessableEntity || !strings.Contains(wrong.Body, `id="code-errors"`) {
					t.Fatalf("wrong code: %d\n%s", wrong.Status, wrong.Body)
				}
				r = b.post(r.Location+"/verify", url.Values{"code": {sent}})
			} else {
				r = wrong
			}
			if r.Status != http.StatusSeeOther || r.Location != "/account" {
				t.Fatalf("right code: %d %q", r.Status, r.Location)
			}
			if acct := b.get("/account"); !strings.Contains(acct.Body, "705 111") {
				t.Errorf("the account page does not show the new phone")
			}

			// Replace the e-mail: the link's GET moves the token out of the address.
			started := b.post("/account/channels", url.Values{"kind": {"email"}, "new_channel": {"new@mail.kz"}, "current_password": {goodPassword}})
			// The account page leads back to the change while it waits.
			if acct := b.get("/account"); !strings.Contains(acct.Body, `href="`+started.Location+`"`) {
				t.Errorf("the account page has no link back to the pending change %q", started.Location)
			}
			link := e.LatestLink(t, "new@mail.kz", "/account/channels/confirm?token=")
			r = b.open(link)
			if r.Status != http.StatusSeeOther || r.Location != "/account/channels/confirm" || r.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Fatalf("the link's GET: %d %q %v", r.Status, r.Location, r.Header)
			}
			page := b.get(r.Location)
			tok := strings.SplitN(link, "?token=", 2)[1]
			if page.Status != http.StatusOK || !strings.Contains(page.Body, `value="`+tok+`"`) {
				t.Fatalf("confirm page: %d\n%s", page.Status, page.Body)
			}
			if r := b.post("/account/channels/confirm", url.Values{"token": {tok}}); r.Status != http.StatusSeeOther {
				t.Fatalf("confirm: %d\n%s", r.Status, r.Body)
			}
			// Within 5 minutes no password is asked again: remove the phone.
			if r := b.post("/account/channels/remove", url.Values{"kind": {"phone"}}); r.Status != http.StatusSeeOther {
				t.Fatalf("remove: %d\n%s", r.Status, r.Body)
			}
			if r := b.post("/account/channels/remove", url.Values{"kind": {"email"}}); r.Status != http.StatusNotFound && r.Status != http.StatusConflict {
				t.Errorf("removing the last channel: %d", r.Status)
			}
		})
	}
}

// TestFreezePages: the freeze link's GET changes nothing and moves the token out of the
// address (303 to the clean /freeze, no Referer, no cache); the page carries it in a hidden
// field; the POST freezes (every session ends, sign-in refused with the message to recover);
// a used link shows the invalid-link page.
func TestFreezePages(t *testing.T) {
	for _, d := range kilttest.Dialects {
		t.Run(d, func(t *testing.T) { freezePages(t, kilttest.Start(t, d, nil)) })
	}
}

func freezePages(t *testing.T, e *kilttest.Env) {
	a := addAccount(t, e, "page@mail.kz", "", goodPassword)
	b := newBrowser(t, e)
	b.signIn("page@mail.kz", goodPassword)
	if r := b.post("/account/password", url.Values{"current_password": {goodPassword}, "password": {newPassword}, "password_confirm": {newPassword}}); r.Status != http.StatusSeeOther {
		t.Fatalf("change of password: %d", r.Status)
	}
	link := e.LatestLink(t, "page@mail.kz", "/freeze?token=")
	tok := strings.SplitN(link, "?token=", 2)[1]
	owner := newBrowser(t, e)
	r := owner.open(link)
	if r.Status != http.StatusSeeOther || r.Location != "/freeze" || r.Header.Get("Referrer-Policy") != "no-referrer" ||
		r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET of the link: %d %q %v", r.Status, r.Location, r.Header)
	}
	if got, _ := e.App.Accounts.ByID(context.Background(), a.ID); got.Frozen() {
		t.Fatal("the GET froze the account")
	}
	page := owner.get("/freeze")
	if page.Status != http.StatusOK || !strings.Contains(page.Body, `name="token" value="`+tok+`"`) {
		t.Fatalf("freeze page: %d\n%s", page.Status, page.Body)
	}
	checkMarkup(t, page.Body)
	if again := owner.get("/freeze"); again.Status != http.StatusGone {
		t.Errorf("the token stayed in its cookie: a second GET got %d", again.Status)
	}
	done := owner.post("/freeze", url.Values{"token": {tok}})
	if done.Status != http.StatusOK || !strings.Contains(done.Body, text(i18n.T("kk", "freeze_done"))) {
		t.Fatalf("freeze: %d\n%s", done.Status, done.Body)
	}
	checkMarkup(t, done.Body)
	if b.signedIn() {
		t.Error("the session survived the freeze")
	}
	r = newBrowser(t, e).post("/login", url.Values{"identifier": {"page@mail.kz"}, "password": {newPassword}})
	if r.Status != http.StatusForbidden || !strings.Contains(r.Body, text(i18n.T("kk", "account_frozen"))) {
		t.Errorf("sign-in of a frozen account: %d\n%s", r.Status, r.Body)
	}
	if r := owner.post("/freeze", url.Values{"token": {tok}}); r.Status != http.StatusGone || !strings.Contains(r.Body, text(i18n.T("kk", "freeze_link_invalid"))) {
		t.Errorf("the link used twice: %d", r.Status)
	}
}
