package browser

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"kilt/internal/kilttest"
)

// TestScreenshots writes the README's screenshots when KILT_SCREENSHOTS names a directory
// (a relative one is taken from the repository's root), each of the whole page, in Kazakh,
// on a phone (360×740 CSS pixels at twice the density) and a desktop (1280×800) window, as
// NAME-{phone,desktop}.png: the sign-in page (login), the registration form with its
// consent (register), recovery by e-mail after «Жіберу» (recovery-email), recovery by phone
// at the code step (recovery-phone), the new-password page (reset), the code step of a
// registration by phone (register-code), the account page with its sessions and deletion
// sections (account), a new e-mail address's "link sent" page (channel-link) and its
// confirmation (channel-confirm), a new number's code page (channel-code), the account
// with a deletion pending (deletion-pending), the notice's cancel page (deletion-cancel)
// and its result (deletion-cancelled), the «Бұл мен емеспін» confirmation (freeze) and the
// frozen account's page (freeze-done).
// `make screenshots` runs it.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("KILT_SCREENSHOTS")
	if dir == "" {
		t.Skip("set KILT_SCREENSHOTS=DIR to write the screenshots (make screenshots)")
	}
	if !filepath.IsAbs(dir) {
		root, err := repositoryRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bctx := startBrowser(t)
	sizes := []struct {
		name          string
		width, height int64
		viewport      []chromedp.EmulateViewportOption
	}{
		{"phone", 360, 740, []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait}},
		{"desktop", 1280, 800, nil},
	}
	for _, size := range sizes {
		t.Run(size.name, func(t *testing.T) {
			e := kilttest.Start(t, "sqlite", nil)
			addAccount(t, e, "aigerim@mail.kz", "+77011234567", goodPassword)
			b := newTab(t, bctx, e, true)
			b.do("sizing the window", chromedp.EmulateViewport(size.width, size.height, size.viewport...))
			shoot := func(name string) {
				t.Helper()
				// The whole page, as a person scrolling the window sees it (on a phone the
				// reset form goes below the fold), without the text cursor or a focus
				// ring the tab's own typing and clicks left.
				b.do("settling the page", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`))
				png := run(b, "the screenshot of "+name, chromedp.FullScreenshot(100))
				file := filepath.Join(dir, name+"-"+size.name+".png")
				if err := os.WriteFile(file, png, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s", file)
			}

			b.expect("the sign-in page", b.open("/login"), 200, "/login")
			shoot("login")

			b.expect("registration", b.open("/register"), 200, "/register")
			shoot("register")

			b.expect("recovery by e-mail", b.open("/recovery"), 200, "/recovery")
			b.fill("email", "aigerim@mail.kz")
			b.expect("«Жіберу»", b.press("Жіберу"), 200, "/recovery/email/sent")
			shoot("recovery-email")

			b.expect("recovery by phone", b.open("/recovery?by=phone"), 200, "/recovery?by=phone")
			b.fill("phone", "+7 701 123 45 67")
			b.expect("«Кодты жіберу»", b.press("Кодты жіберу"), 200, "/recovery/phone")
			shoot("recovery-phone")

			b.expect("the reset link", b.openLink(e.LatestLink(t, "aigerim@mail.kz", "/recovery/reset?token=")), 200, "/recovery/reset")
			shoot("reset")

			b.expect("registration by phone", b.open("/register?by=phone"), 200, "/register?by=phone")
			b.fillRegistration("+7 747 123 45 67", goodPassword, goodPassword)
			if status := b.press(kk("button_register")); status != 200 {
				t.Fatalf("registering by phone: got %d", status)
			}
			shoot("register-code")

			// The account page, with a second device signed in for the sessions list.
			other := newTab(t, bctx, e, true)
			other.signIn("aigerim@mail.kz", goodPassword)
			b.signIn("aigerim@mail.kz", goodPassword)
			shoot("account")

			// A deletion: pending on the account page, then the notice's cancel page.
			b.fill("delete_password", goodPassword)
			b.do("ticking the box", chromedp.Click(chromedp.ID("delete_confirm")))
			b.expect("«"+kk("button_delete_account")+"»", b.press(kk("button_delete_account")), 200, "/account")
			shoot("deletion-pending")
			b.expect("the notice's link", b.openLink(e.LatestLink(t, "aigerim@mail.kz", "/deletion/cancel?token=")), 200, "/deletion/cancel")
			shoot("deletion-cancel")
			b.expect("«"+kk("button_cancel_deletion")+"»", b.press(kk("button_cancel_deletion")), 200, "/deletion/cancel")
			shoot("deletion-cancelled")
			b.expect("the account page", b.open("/account"), 200, "/account")

			// A new e-mail address: the link sent, then its confirmation.
			b.do("opening the e-mail form", chromedp.Click(chromedp.Search(`//summary[normalize-space()=`+xpathString(kk("channel_replace_email"))+`]`)))
			b.fill("new_email", "aigerim.new@mail.kz")
			b.fill("channel_password_email", goodPassword)
			if st := b.press(kk("button_send_link")); st != 200 || !strings.HasPrefix(b.path(), "/account/channels/") {
				t.Fatalf("asking for a new address: %d at %s", st, b.path())
			}
			shoot("channel-link")
			b.expect("the new address's link", b.openLink(e.LatestLink(t, "aigerim.new@mail.kz", "/account/channels/confirm?token=")), 200, "/account/channels/confirm")
			shoot("channel-confirm")
			b.expect("«"+kk("button_confirm_address")+"»", b.press(kk("button_confirm_address")), 200, "/account")

			// A new number: its code page.
			b.do("opening the phone form", chromedp.Click(chromedp.Search(`//summary[normalize-space()=`+xpathString(kk("channel_replace_phone"))+`]`)))
			b.fill("new_phone", "+7 708 123 45 67")
			b.fill("channel_password_phone", goodPassword)
			if st := b.press(kk("button_send_code")); st != 200 || !strings.HasPrefix(b.path(), "/account/channels/") {
				t.Fatalf("asking for a new number: %d at %s", st, b.path())
			}
			shoot("channel-code")

			// «Бұл мен емеспін»: the link of the password change's notice, then the freeze.
			b.expect("the account page", b.open("/account"), 200, "/account")
			b.fill("current_password", goodPassword)
			b.fill("password", newPassword)
			b.fill("password_confirm", newPassword)
			b.expect("«Сақтау»", b.press("Сақтау"), 200, "/account")
			b.expect("the freeze link", b.openLink(e.LatestLink(t, "aigerim.new@mail.kz", "/freeze?token=")), 200, "/freeze")
			shoot("freeze")
			b.expect("«"+kk("button_freeze")+"»", b.press(kk("button_freeze")), 200, "/freeze")
			shoot("freeze-done")
		})
	}
}
