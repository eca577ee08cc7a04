package browser

import (
	"os"
	"testing"

	"github.com/chromedp/chromedp"

	"kilt/internal/kilttest"
)

func TestDebugShots(t *testing.T) {
	bctx := startBrowser(t)
	e := kilttest.Start(t, "sqlite", nil)
	addAccount(t, e, "owner@mail.kz", "+77011234567", goodPassword)
	b := newTab(t, bctx, e, true)
	b.do("size", chromedp.EmulateViewport(360, 740))
	shoot := func(name string) {
		png := run(b, "shot", chromedp.FullScreenshot(100))
		os.WriteFile("/tmp/shot-"+name+".png", png, 0o644)
	}
	b.open("/register?by=phone")
	b.fillRegistration("8 747 123 45 67", "abc", "ab")
	shoot("register")
	b.press(kk("button_register"))
	b.open("/register?by=phone")
	b.fillRegistration("8 747 123 45 67", goodPassword, goodPassword)
	b.press(kk("button_register"))
	shoot("code")
	code := e.LatestCode(t, "+77471234567")
	for i := 0; i < 5; i++ {
		b.fill("code", wrong(code))
		b.press("Жіберу")
	}
	shoot("spent")
	b.open("/recovery")
	b.fill("email", "owner@mail.kz")
	b.press("Жіберу")
	shoot("sent")
	b.open("/login")
	b.fill("identifier", "x@@y")
	b.press("Кіру")
	shoot("login")
	b.open("/nothing")
	shoot("404")
	b.signIn("owner@mail.kz", goodPassword)
	shoot("account")
}
