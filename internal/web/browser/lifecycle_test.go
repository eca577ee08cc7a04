package browser

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"kilt/internal/kilttest"
)

// TestAccountLifecycleInKazakh walks a citizen, in Kazakh, on a 360 px wide phone, with
// JavaScript on and off, through the account page's sessions list — «Осы құрылғы», ending
// another device's session — and the deletion: the password and the box, the date and
// «Жоюдан бас тарту», then the notice's link, which asks before it cancels.
func TestAccountLifecycleInKazakh(t *testing.T) {
	bctx := startBrowser(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			e := kilttest.Start(t, "sqlite", nil)
			addAccount(t, e, "aigerim@mail.kz", "+77011234567", goodPassword)
			phone, laptop := newTab(t, bctx, e, m.js), newTab(t, bctx, e, m.js)
			for _, b := range []*tab{phone, laptop} {
				b.do("sizing the window as a phone", chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile))
				b.signIn("aigerim@mail.kz", goodPassword)
			}
			b := phone
			b.expect("the account page", b.open("/account"), 200, "/account")
			b.checkWidth()
			b.contains("#sessions-title + p + ul", kk("session_this_device"))
			if n := evaluate[int](b, `document.querySelectorAll("form[action='/account/sessions/end']").length`); n != 1 {
				t.Fatalf("%d end buttons, want 1 (the laptop's)", n)
			}
			b.expect("«"+kk("button_end_session")+"»", b.press(kk("button_end_session")), 200, "/account")
			b.contains(".notice", kk("flash_session_ended"))
			laptop.expect("the laptop after its session ended", laptop.open("/account"), 200, "/login")

			// Deleting: without the box the form comes back, with the box the date shows.
			b.fill("delete_password", goodPassword)
			b.expect("«"+kk("button_delete_account")+"» without the box", b.press(kk("button_delete_account")), 400, "/account/delete")
			b.contains("#error-summary", kk("deletion_confirm_required"))
			b.fill("delete_password", goodPassword)
			b.do("ticking the box", chromedp.Click(chromedp.ID("delete_confirm")))
			b.expect("«"+kk("button_delete_account")+"»", b.press(kk("button_delete_account")), 200, "/account")
			b.contains(".notice-warning", "жойылады")
			b.checkWidth()
			e.Deliver(t) // this notice before the next one: the link below is the newest mail's
			b.expect("«"+kk("button_cancel_deletion")+"»", b.press(kk("button_cancel_deletion")), 200, "/account")
			b.contains(".notice", kk("flash_deletion_cancelled"))
			if b.has(".notice-warning") {
				t.Error("the deletion banner stays after the cancel")
			}

			// Again, and the notice's link cancels, after asking.
			b.fill("delete_password", goodPassword)
			b.do("ticking the box", chromedp.Click(chromedp.ID("delete_confirm")))
			b.expect("«"+kk("button_delete_account")+"» again", b.press(kk("button_delete_account")), 200, "/account")
			link := e.LatestLink(t, "aigerim@mail.kz", "/deletion/cancel?token=")
			laptop.expect("opening the notice's link", laptop.openLink(link), 200, "/deletion/cancel")
			laptop.checkNoToken(link)
			laptop.contains("main", kk("deletion_cancel_question"))
			laptop.checkWidth()
			b.expect("the account after the link was opened", b.open("/account"), 200, "/account")
			if !b.has(".notice-warning") {
				t.Fatal("opening the link cancelled the deletion")
			}
			laptop.expect("«"+kk("button_cancel_deletion")+"» on the link's page", laptop.press(kk("button_cancel_deletion")), 200, "/deletion/cancel")
			laptop.contains("main", kk("deletion_cancelled_text"))
			b.expect("the account after the link", b.open("/account"), 200, "/account")
			if b.has(".notice-warning") {
				t.Error("the link did not cancel the deletion")
			}
			if !strings.Contains(b.text("#main"), kk("event_deletion_cancelled")) {
				t.Errorf("the activity does not show the cancel")
			}
		})
	}
}

// checkWidth fails the test when the page is wider than the window: nothing may make a
// person scroll sideways on a 360 px phone.
func (b *tab) checkWidth() {
	b.t.Helper()
	if w := evaluate[int](b, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
		b.t.Errorf("%s: the page is %d px wider than the window", b.path(), w)
	}
}
