package browser

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// typedKey is where app.js keeps the typed fields across a language switch.
const typedKey = "kilt.typed"

// languageKeepsTyped: with JavaScript on, what a citizen typed into a form — an e-mail, a
// phone number — is still there after choosing another language, and a password is not,
// even one the eye toggle shows as text; the browser's sessionStorage never holds it, and
// holds nothing once the page is back. Without JavaScript the switch is a plain link and
// the typed text is lost (README, Decisions).
func languageKeepsTyped(t *testing.T, b *tab, axe string) {
	pages := []struct {
		path, field, value string
		passwords          []string // the password fields filled too
	}{
		{"/login?lang=kk", "identifier", "aigul@mail.kz", []string{"password"}},
		{"/recovery?lang=kk", "email", "aigul@mail.kz", nil},
		{"/register?by=phone&lang=kk", "phone", "8 747 123 45 67", []string{"password", "password_confirm"}},
	}
	for _, p := range pages {
		b.expect("opening "+p.path, b.open(p.path), 200, p.path)
		b.fill(p.field, p.value)
		for _, pw := range p.passwords {
			b.fill(pw, goodPassword)
		}
		if b.js && len(p.passwords) > 0 {
			// A password shown as text is a password still.
			b.do("showing the password", chromedp.Click(chromedp.CSS(`button.eye[aria-controls="password"]`)))
			if got, _ := b.attr("#password", "type"); got != "text" {
				t.Fatalf("%s: the eye toggle left the password as %q", p.path, got)
			}
		}
		if b.js {
			// What the switch keeps, read before the page it leads to takes it back: the
			// page's own click handler runs first, then this one stops the navigation.
			kept := evaluate[string](b, `(() => {
				const a = document.querySelector('nav.langs a[lang="ru"]');
				a.addEventListener("click", e => e.preventDefault(), {once: true});
				a.click();
				return sessionStorage.getItem(`+jsString(typedKey)+`) || "";
			})()`)
			if !strings.Contains(kept, p.value) {
				t.Errorf("%s: sessionStorage keeps %q, want the %s typed", p.path, kept, p.field)
			}
			if strings.Contains(kept, goodPassword) || strings.Contains(kept, "password") {
				t.Errorf("%s: sessionStorage keeps a password: %q", p.path, kept)
			}
		}
		want := strings.Replace(p.path, "lang=kk", "lang=ru", 1)
		b.expect("choosing Русский", b.switchLang("ru"), 200, want)
		got := evaluate[string](b, `document.getElementById(`+jsString(p.field)+`).value`)
		switch {
		case b.js && got != p.value:
			t.Errorf("%s: after the switch #%s holds %q, want %q", want, p.field, got, p.value)
		case !b.js && got != "":
			t.Errorf("%s: without JavaScript #%s holds %q after the switch, a link carries nothing", want, p.field, got)
		}
		for _, pw := range p.passwords {
			if got := evaluate[string](b, `document.getElementById(`+jsString(pw)+`).value`); got != "" {
				t.Errorf("%s: the switch kept the password in #%s", want, pw)
			}
		}
		if n := evaluate[int](b, `sessionStorage.length`); n != 0 {
			t.Errorf("%s: sessionStorage holds %d items after the page took them back", want, n)
		}
		// Once: the same page loaded again starts empty.
		b.expect("opening "+want+" again", b.open(want), 200, want)
		if got := evaluate[string](b, `document.getElementById(`+jsString(p.field)+`).value`); got != "" {
			t.Errorf("%s: loaded again, #%s still holds %q", want, p.field, got)
		}
	}
	checkAxe(b, axe)
}
