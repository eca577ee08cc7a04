package browser

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"kilt/internal/account"
	"kilt/internal/kilttest"
)

// TestTakeoverInKazakh is issue 14's takeover scenario in Chromium, in Kazakh, without
// JavaScript: an attacker who knows the password replaces the e-mail on /account; the
// owner's old address gets the notice; the owner opens its «Бұл мен емеспін» link (the
// token leaves the address bar), confirms, and the account is frozen: the e-mail change is
// reverted, the attacker's session is gone; the owner recovers through the old address and
// signs in. Every page on the way is checked with axe-core when it is there.
func TestTakeoverInKazakh(t *testing.T) {
	var axe string
	if p, err := Axe(); err == nil {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		axe = string(b)
	} else if required() {
		t.Fatalf("axe-core: %v", err)
	}
	// Every page of the scenario: axe-core clean, and nothing wider than a 360 px phone.
	check := func(b *tab) {
		t.Helper()
		if axe != "" {
			checkAxe(b, axe)
		}
		if w := evaluate[int64](b, `document.documentElement.scrollWidth`); w > 360 {
			t.Errorf("%s is %d px wide on a 360 px phone", b.path(), w)
		}
	}
	phone := func(b *tab) {
		b.do("sizing the window as a phone's", chromedp.EmulateViewport(360, 740, chromedp.EmulateScale(2), chromedp.EmulateMobile,
			chromedp.EmulateTouch, chromedp.EmulatePortrait))
	}
	bctx := startBrowser(t)
	e := kilttest.Start(t, "sqlite", nil)
	const owner, thief = "aigerim@mail.kz", "thief@evil.example"
	addAccount(t, e, owner, "", goodPassword)

	atk := newTab(t, bctx, e, false)
	phone(atk)
	atk.signIn(owner, goodPassword)
	check(atk)
	atk.do("opening «"+kk("channel_replace_email")+"»",
		chromedp.Click(chromedp.Search(`//summary[normalize-space()=`+xpathString(kk("channel_replace_email"))+`]`)))
	atk.fill("new_email", thief)
	atk.fill("channel_password_email", goodPassword)
	if st := atk.press(kk("button_send_link")); st != 200 || !strings.HasPrefix(atk.path(), "/account/channels/") {
		t.Fatalf("asking for the new address: %d at %s", st, atk.path())
	}
	atk.contains("#messages", kk("channel_link_sent", "to", thief))
	check(atk)
	link := e.LatestLink(t, thief, "/account/channels/confirm?token=")
	atk.expect("the new address's link", atk.openLink(link), 200, "/account/channels/confirm")
	check(atk)
	atk.expect("«"+kk("button_confirm_address")+"»", atk.press(kk("button_confirm_address")), 200, "/account")
	atk.contains("main", thief)

	// The owner's old address got the notice; its one link freezes.
	e.Deliver(t)
	mails := e.MailTo(t, owner)
	if len(mails) != 1 {
		t.Fatalf("the old address got %d mails, want the notice", len(mails))
	}
	freeze := mails[0].Link("/freeze?token=")
	own := newTab(t, bctx, e, false)
	phone(own)
	own.expect("the notice's link", own.openLink(freeze), 200, "/freeze")
	if strings.Contains(own.path(), "token") {
		t.Errorf("the token stayed in the address: %s", own.path())
	}
	own.contains("main", kk("freeze_intro"), kk("freeze_effect_revert"))
	check(own)
	own.expect("«"+kk("button_freeze")+"»", own.press(kk("button_freeze")), 200, "/freeze")
	own.contains("main", kk("freeze_done"))
	check(own)
	e.Deliver(t) // the notice of the freeze, before the recovery's mail

	// The attacker's session is gone, the e-mail is the owner's again, sign-in is refused.
	atk.expect("the attacker's account page", atk.open("/account"), 200, "/login")
	a, err := e.App.Accounts.Lookup(context.Background(), mustEmail(t, e, owner))
	if err != nil || !a.Frozen() {
		t.Fatalf("the owner's address names no frozen account: %+v %v", a, err)
	}
	own.expect("the sign-in page", own.open("/login"), 200, "/login")
	own.fill("identifier", owner)
	own.fill("password", goodPassword)
	own.expect("signing in, frozen", own.press("Кіру"), 403, "/login")
	own.contains("main", kk("account_frozen"))

	// The old address was told of the freeze, with the way back.
	if got := e.MailTo(t, owner); len(got) != 2 || got[1].Link("/recovery") == "" {
		t.Errorf("the old address got %d mails after the freeze, want the notice of the freeze", len(got))
	}
	// The owner recovers through the old address and signs in.
	own.expect("the recovery page", own.open("/recovery"), 200, "/recovery")
	own.fill("email", owner)
	own.expect("«Жіберу»", own.press("Жіберу"), 200, "/recovery/email/sent")
	own.expect("the reset link", own.openLink(e.LatestLink(t, owner, "/recovery/reset?token=")), 200, "/recovery/reset")
	own.fill("password", newPassword)
	own.fill("password_confirm", newPassword)
	own.expect("«Сақтау»", own.press("Сақтау"), 200, "/login")
	own.signIn(owner, newPassword)
	own.contains("main", owner)
	check(own)
}

func mustEmail(t *testing.T, e *kilttest.Env, addr string) account.Identifier {
	t.Helper()
	id, err := e.App.Accounts.ParseIdentifier(addr)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
