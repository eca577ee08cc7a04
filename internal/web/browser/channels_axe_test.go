package browser

import (
	"strings"

	"github.com/chromedp/chromedp"

	"kilt/internal/kilttest"
)

// channelPages are the pages of the citizen's channels and of "this wasn't me", for
// channels@mail.kz (whose account they end frozen): a form error on the account page, the
// code page, a wrong code, the freeze confirmation and its result, a frozen sign-in; then
// page@mail.kz is signed in again for the pages after.
func channelPages(e *kilttest.Env) []page {
	return []page{
		{"account with channels", func(b *tab) {
			b.open("/logout")
			b.press(kk("button_logout"))
			b.signIn("channels@mail.kz", goodPassword)
		}},
		{"account channel error", func(b *tab) {
			b.do("opening the phone form", chromedp.Click(chromedp.Search(`//summary[normalize-space()=`+xpathString(kk("channel_replace_phone"))+`]`)))
			b.fill("new_phone", "+7 708 123 45 67")
			b.fill("channel_password_phone", "Wrong-Guess-11")
			b.expect("a wrong current password", b.press(kk("button_send_code")), 403, "/account/channels")
		}},
		{"channel code", func(b *tab) {
			b.fill("channel_password_phone", goodPassword)
			if st := b.press(kk("button_send_code")); st != 200 || !strings.HasPrefix(b.path(), "/account/channels/") {
				b.t.Fatalf("asking for a new number: %d at %s", st, b.path())
			}
		}},
		{"channel wrong code", func(b *tab) {
			b.fill("code", "000000")
			if st := b.press("Жіберу"); st != 422 && st != 303 && st != 200 {
				b.t.Fatalf("a wrong code: %d", st)
			}
		}},
		{"freeze", func(b *tab) {
			b.expect("the account page", b.open("/account"), 200, "/account")
			b.fill("current_password", goodPassword)
			b.fill("password", newPassword)
			b.fill("password_confirm", newPassword)
			b.expect("«Сақтау»", b.press("Сақтау"), 200, "/account")
			b.expect("the freeze link", b.openLink(e.LatestLink(b.t, "channels@mail.kz", "/freeze?token=")), 200, "/freeze")
		}},
		{"freeze done", func(b *tab) {
			b.expect("«"+kk("button_freeze")+"»", b.press(kk("button_freeze")), 200, "/freeze")
		}},
		{"frozen sign-in", func(b *tab) {
			b.expect("the sign-in page", b.open("/login"), 200, "/login")
			b.fill("identifier", "channels@mail.kz")
			b.fill("password", newPassword)
			b.expect("signing in, frozen", b.press("Кіру"), 403, "/login")
		}},
		{"account, signed in again", func(b *tab) { b.signIn("page@mail.kz", goodPassword) }},
	}
}
