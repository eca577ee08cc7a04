package browser

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"kilt/internal/kilttest"
)

// TestScreenshots writes the README's screenshots when KILT_SCREENSHOTS names a directory
// (a relative one is taken from the repository's root): the sign-in page, recovery by
// e-mail after «Жіберу», recovery by phone at the code step, the reset page and the code step
// of a registration by phone, in Kazakh, on a phone (360×740 CSS pixels at twice the density)
// and a desktop (1280×800) window, as
// {login,recovery-email,recovery-phone,reset,register-code}-{phone,desktop}.png, each of the
// whole page.
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
		})
	}
}
