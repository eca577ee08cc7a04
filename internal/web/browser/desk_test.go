package browser

import (
	"context"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/chromedp/chromedp"

	"kilt/internal/desk"
	"kilt/internal/kilttest"
)

// TestDeskInKazakh: a support operator enrols the second factor (QR code and key), looks a
// citizen up and issues a printed slip; the citizen enters the slip's code at
// /recovery/desk, sets a new password on the manual's screen and signs in — in Kazakh, in
// Chromium, with the console on a listener of its own.
func TestDeskInKazakh(t *testing.T) {
	// The console's pages are checked with axe-core too, when it is there (TestAccessibility
	// says whether it must be).
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
	checkConsole := func(b *tab) {
		t.Helper()
		if axe != "" {
			checkAxe(b, axe)
		}
	}
	bctx := startBrowser(t)
	e := kilttest.Start(t, "sqlite", nil)
	srv := httptest.NewServer(e.App.AdminHandler())
	t.Cleanup(srv.Close)
	addAccount(t, e, "desk@mail.kz", "", goodPassword)
	if _, err := e.App.Desk.AddOperator(context.Background(), "desk@mail.kz", desk.RoleSupport); err != nil {
		t.Fatal(err)
	}
	addAccount(t, e, "", "+77051112233", goodPassword) // the citizen who lost the phone

	console := *e
	console.URL = srv.URL
	op := newTab(t, bctx, &console, true)
	op.expect("the console, signed out", op.open("/admin"), 200, "/admin/login")
	if got := op.text("h1"); got != kk("admin_title_login") {
		t.Errorf("title %q, want %q", got, kk("admin_title_login"))
	}
	checkConsole(op)
	op.fill("identifier", "desk@mail.kz")
	op.fill("password", goodPassword)
	op.expect("the first sign-in", op.press(kk("button_login")), 200, "/admin/login")
	if got := op.text("h1"); got != kk("admin_title_enrol") {
		t.Fatalf("after the first sign-in: %q, want the enrolment", got)
	}
	if !op.shown("svg.qr") {
		t.Error("no QR code shown")
	}
	checkConsole(op)
	secret := op.text("#totp-secret")
	code, err := desk.CodeAt(secret, e.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	op.fill("code", code)
	op.expect("confirming the code", op.press(kk("button_confirm")), 200, "/admin/enrol")
	if n := evaluate[int](op, `document.querySelectorAll("ol.backup-codes li").length`); n != 10 {
		t.Errorf("%d backup codes shown, want 10", n)
	}
	checkConsole(op)
	op.expect("to the console", op.follow(kk("admin_to_console")), 200, "/admin")
	op.fill("identifier", "8 705 111 22 33")
	op.expect("looking up", op.press(kk("admin_button_lookup")), 200, "/admin/lookup")
	op.contains("#account", "+7****", kk("admin_verified"))
	checkConsole(op)
	op.fill("reason-recovery-code", "жеке куәлік тексерілді")
	op.do("ticking the identity check", chromedp.Click(chromedp.ID("identity-recovery-code")))
	status := op.press(kk("admin_button_slip"))
	if status != 201 {
		t.Fatalf("issuing the slip: %d", status)
	}
	op.contains(`section[lang="kk"]`, kk("admin_slip_step2"), "/recovery/desk")
	checkConsole(op)
	slip := op.text(`section[lang="kk"] .slip-code`)

	b := newTab(t, bctx, e, true)
	b.expect("the desk page", b.open("/recovery/desk"), 200, "/recovery/desk")
	b.contains("h1", kk("title_recovery_desk"))
	b.fill("desk_code", slip)
	b.expect("«"+kk("button_continue")+"»", b.press(kk("button_continue")), 200, "/recovery/reset")
	b.checkResetPage()
	b.fill("password", newPassword)
	b.fill("password_confirm", newPassword)
	b.expect("«Сақтау»", b.press("Сақтау"), 200, "/login")
	b.contains("#messages", kk("flash_password_reset"))
	b.signIn("+7 705 111 22 33", newPassword)

	// The same slip a second time: refused.
	b2 := newTab(t, bctx, e, false)
	b2.expect("the desk page again", b2.open("/recovery/desk"), 200, "/recovery/desk")
	b2.fill("desk_code", slip)
	if got := b2.press(kk("button_continue")); got != 410 {
		t.Errorf("the slip used twice: %d, want 410", got)
	}
	b2.contains("#messages", kk("desk_code_invalid"))
}
