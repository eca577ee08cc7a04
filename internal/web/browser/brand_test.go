package browser

import (
	"os"
	"path/filepath"
	"testing"

	"kilt/internal/kilttest"
)

// brandLogo is a small SVG logo of the test's portal.
const brandLogo = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40" width="40" height="40"><rect width="40" height="40" rx="6" fill="#14532d"/><path d="M10 20h20" stroke="#fff" stroke-width="4"/></svg>`

// TestBrand: a portal configured with its own name per language, logo, colour and support
// contact shows them in Chromium: the header's logo (loaded) and name, the window title, the
// support contact in the footer (its number and address as links), the main button in the
// brand's colour; in Russian its
// Russian name; in the dark scheme a dark page whose links take the brand's light variant.
// On /account at 360 px the sign-out is in the header, within the first screen, and works.
func TestBrand(t *testing.T) {
	bctx := startBrowser(t)
	logo := filepath.Join(t.TempDir(), "akimat.svg")
	if err := os.WriteFile(logo, []byte(brandLogo), 0o600); err != nil {
		t.Fatal(err)
	}
	e := kilttest.Start(t, "sqlite", map[string]string{
		"KILT_BRAND_NAME_KK":   "Әкімдік порталы",
		"KILT_BRAND_NAME_RU":   "Портал акимата",
		"KILT_BRAND_NAME_EN":   "Akimat portal",
		"KILT_BRAND_LOGO":      logo,
		"KILT_BRAND_COLOR":     "#14532d",
		"KILT_SUPPORT_CONTACT": "1414, help@akimat.kz",
	})
	addAccount(t, e, "page@mail.kz", "+77011234567", goodPassword)
	b := newTab(t, bctx, e, true)
	b.setWidth(360)

	b.expect("the sign-in page", b.open("/login"), 200, "/login")
	if got := b.text("header.site .brand"); got != "Әкімдік порталы" {
		t.Errorf("header: got %q, want the Kazakh name", got)
	}
	if !evaluate[bool](b, `(() => { const i = document.querySelector("header.site .brand img.logo"); return !!i && i.complete && i.naturalWidth === 40 })()`) {
		t.Error("the header's logo is missing or did not load")
	}
	if got, want := evaluate[string](b, `document.title`), kk("title_login")+" — Әкімдік порталы"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	b.contains("footer.site", kk("support_contact", "contact", "1414, help@akimat.kz"), "Әкімдік порталы")
	for sel, want := range map[string]string{`footer.site a[href^="tel:"]`: "tel:1414", `footer.site a[href^="mailto:"]`: "mailto:help@akimat.kz"} {
		if got, _ := b.attr(sel, "href"); got != want {
			t.Errorf("the support contact's link %s: got %q, want %q", sel, got, want)
		}
	}
	if got := evaluate[string](b, `getComputedStyle(document.querySelector("main button.primary")).backgroundColor`); got != "rgb(20, 83, 45)" {
		t.Errorf("the main button: background %s, want the brand's rgb(20, 83, 45)", got)
	}
	if got := evaluate[string](b, `getComputedStyle(document.body).backgroundColor`); got != "rgb(244, 246, 248)" {
		t.Errorf("light scheme: page background %s, want rgb(244, 246, 248)", got)
	}

	b.expect("the sign-in page in Russian", b.open("/login?lang=ru"), 200, "/login?lang=ru")
	if got := b.text("header.site .brand"); got != "Портал акимата" {
		t.Errorf("header in Russian: got %q, want the Russian name", got)
	}
	b.expect("the sign-in page in Kazakh", b.open("/login?lang=kk"), 200, "/login?lang=kk")

	b.setScheme("dark")
	b.expect("the sign-in page, dark", b.open("/login"), 200, "/login")
	if got := evaluate[string](b, `getComputedStyle(document.body).backgroundColor`); got != "rgb(18, 21, 25)" {
		t.Errorf("dark scheme: page background %s, want rgb(18, 21, 25)", got)
	}
	if got := evaluate[string](b, `getComputedStyle(document.querySelector("main a")).color`); got == "rgb(20, 83, 45)" {
		t.Errorf("dark scheme: links keep the dark brand colour %s, unreadable on a dark page", got)
	}
	if got := evaluate[string](b, `getComputedStyle(document.querySelector("main button.primary")).color`); got != "rgb(255, 255, 255)" {
		t.Errorf("dark scheme: the main button's text %s, want white on the brand colour", got)
	}
	b.setScheme("light")

	b.signIn("page@mail.kz", goodPassword)
	if !evaluate[bool](b, `(() => { const r = document.querySelector("header.site nav.user button").getBoundingClientRect(); return r.width > 0 && r.bottom <= innerHeight })()`) {
		t.Error("/account at 360 px: the sign-out button is not in the header's first screen")
	}
	if got := b.text("header.site nav.user button"); got != kk("button_logout") {
		t.Errorf("the header's button reads %q, want %q", got, kk("button_logout"))
	}
	b.expect("signing out from the header", b.clickTo("header.site nav.user button"), 200, "/login")
	if b.has("header.site nav.user") {
		t.Error("signed out, the header still shows the account menu")
	}
}

// TestConsentAtRegistration: with JavaScript on and off, «Тіркелу» without the consent ticked
// is refused next to the checkbox (linked from the error summary, aria-invalid), the address
// stays, and with it ticked the registration goes through.
func TestConsentAtRegistration(t *testing.T) {
	bctx := startBrowser(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			e := kilttest.Start(t, "sqlite", nil)
			b := newTab(t, bctx, e, m.js)
			b.expect("the registration page", b.open("/register"), 200, "/register")
			b.contains("fieldset.consent", kk("personal_data_consent_title"), kk("personal_data_consent_label"))
			b.fill("email", "dana@mail.kz")
			b.fill("password", goodPassword)
			b.fill("password_confirm", goodPassword)
			b.expect("«"+kk("button_register")+"» without the consent", b.press(kk("button_register")), 422, "/register")
			b.contains("#consent_version-errors", kk("personal_data_consent_required"))
			if got, _ := b.attr("#error-summary a", "href"); got != "#consent_version" {
				t.Errorf("the error summary links to %q, want #consent_version", got)
			}
			if got, _ := b.attr("#consent_version", "aria-invalid"); got != "true" {
				t.Errorf("the checkbox: aria-invalid %q, want true", got)
			}
			if got := evaluate[string](b, `document.getElementById("email").value`); got != "dana@mail.kz" {
				t.Errorf("the address: got %q, want it kept", got)
			}
			b.fill("password", goodPassword)
			b.fill("password_confirm", goodPassword)
			b.agree()
			b.expect("«"+kk("button_register")+"» with the consent", b.press(kk("button_register")), 200, "/register/sent")
		})
	}
}
