package browser

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"kilt/internal/kilttest"
	"kilt/internal/oidc"
)

// axeResult is what the check reports of one broken rule.
type axeResult struct {
	ID     string    `json:"id"`
	Impact string    `json:"impact"`
	Help   string    `json:"help"`
	Nodes  []axeNode `json:"nodes"`
}

type axeNode struct {
	Target  string `json:"target"`
	HTML    string `json:"html"`
	Summary string `json:"summary"`
}

// axeRun runs axe-core on the whole document and sums up each violation.
const axeRun = `axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
	id: v.id, impact: v.impact || '', help: v.help,
	nodes: v.nodes.map(n => ({target: JSON.stringify(n.target), html: n.html, summary: n.failureSummary || ''}))
})))`

// axeModes are the ways TestAccessibility sees every page: JavaScript on and off, each
// colour scheme (prefers-color-scheme, emulated), on a 360 px phone and a 1280 px desktop.
var axeModes = []struct {
	mode
	scheme string
	width  int64
}{
	{modes[0], "light", 1280},
	{modes[1], "light", 360},
	{modes[0], "dark", 360},
	{modes[1], "dark", 1280},
}

// TestAccessibility injects axe-core into every page, in Kazakh, with JavaScript on and off,
// in the light and the dark colour scheme, at 360 and 1280 px, and fails on any serious or
// critical violation; lesser ones are logged.
func TestAccessibility(t *testing.T) {
	axePath, err := Axe()
	if err != nil {
		unavailable(t, err)
	}
	axe, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatal(err)
	}
	bctx := startBrowser(t)
	for _, m := range axeModes {
		t.Run(fmt.Sprintf("%s, %s, %d px", m.name, m.scheme, m.width), func(t *testing.T) {
			e := kilttest.Start(t, "sqlite", nil)
			addAccount(t, e, "page@mail.kz", "+77011234567", goodPassword)
			addAccount(t, e, "channels@mail.kz", "+77021234567", goodPassword) // frozen by channelPages
			b := newTab(t, bctx, e, m.js)
			b.setScheme(m.scheme)
			b.setWidth(m.width)
			t.Run("a planted violation is found", func(t *testing.T) {
				b.t = t
				b.expect("the sign-in page", b.open("/login"), 200, "/login")
				b.do("planting an image without a text", chromedp.Evaluate[chromedp.Void](
					`document.querySelector("main").append(Object.assign(document.createElement("img"), {src: "/static/none.png"}))`))
				var found bool
				for _, v := range runAxe(b, string(axe)) {
					found = found || v.ID == "image-alt" && (v.Impact == "serious" || v.Impact == "critical")
				}
				if !found {
					t.Error("axe-core did not report the image without a text: the check cannot fail")
				}
			})
			// The tab goes from page to page as a person does; each page's findings are
			// its own subtest's.
			for _, p := range accessibilityPages(e) {
				t.Run(p.name, func(t *testing.T) {
					b.t = t
					p.open(b)
					checkAxe(b, string(axe))
				})
			}
		})
	}
}

// page is a page of the site and how a person reaches it, one after the other in one tab.
type page struct {
	name string
	open func(b *tab)
}

func accessibilityPages(e *kilttest.Env) []page {
	var resetLink, deletionLink string
	pages := []page{
		{"login", func(b *tab) { b.expect("the sign-in page", b.open("/login"), 200, "/login") }},
		{"register by e-mail", func(b *tab) { b.expect("registration", b.open("/register"), 200, "/register") }},
		{"register by phone", func(b *tab) {
			b.expect("registration by phone", b.open("/register?by=phone"), 200, "/register?by=phone")
		}},
		{"register with errors", func(b *tab) {
			b.expect("registration", b.open("/register"), 200, "/register")
			b.fillRegistration("not an address", "short", "other")
			b.expect("registering with errors", b.press(kk("button_register")), 400, "/register")
		}},
		{"register sent", func(b *tab) {
			b.expect("registration", b.open("/register"), 200, "/register")
			b.fillRegistration("fresh@mail.kz", goodPassword, goodPassword)
			b.expect("registering", b.press(kk("button_register")), 200, "/register/sent")
		}},
		{"register confirm link", func(b *tab) {
			b.expect("the confirmation link", b.openLink(e.LatestLink(b.t, "fresh@mail.kz", "/register/confirm?token=")), 200, "/register/confirm")
		}},
		{"register confirm code", func(b *tab) {
			b.expect("registration by phone", b.open("/register?by=phone"), 200, "/register?by=phone")
			b.fillRegistration("+7 747 123 45 67", goodPassword, goodPassword)
			status := b.press(kk("button_register"))
			if u, err := url.Parse(b.path()); status != 200 || err != nil || u.Path != "/register/confirm" {
				b.t.Fatalf("registering by phone: got %d at %s, want 200 at /register/confirm?id=…", status, b.path())
			}
		}},
		{"recovery", func(b *tab) { b.expect("recovery", b.open("/recovery"), 200, "/recovery") }},

		{"recovery e-mail sent", func(b *tab) {
			b.expect("recovery", b.open("/recovery"), 200, "/recovery")
			b.fill("email", "page@mail.kz")
			b.expect("«Жіберу»", b.press("Жіберу"), 200, "/recovery/email/sent")
			resetLink = e.LatestLink(b.t, "page@mail.kz", "/recovery/reset?token=")
		}},
		{"recovery phone", func(b *tab) { b.expect("recovery by phone", b.open("/recovery?by=phone"), 200, "/recovery?by=phone") }},
		{"recovery phone code", func(b *tab) {
			b.fill("phone", "+7 701 123 45 67")
			b.expect("«Кодты жіберу»", b.press("Кодты жіберу"), 200, "/recovery/phone")
		}},
		{"recovery phone wrong code", func(b *tab) {
			b.fill("code", "000000")
			b.expect("a wrong code", b.press("Жіберу"), 422, "/recovery/phone/verify")
		}},
		{"recovery desk", func(b *tab) { b.expect("the desk page", b.open("/recovery/desk"), 200, "/recovery/desk") }},
		{"recovery desk wrong code", func(b *tab) {
			b.fill("desk_code", "QRST-WXYZ-2345")
			b.expect("a wrong slip code", b.press("Жалғастыру"), 410, "/recovery/desk")
		}},
		{"reset", func(b *tab) {
			if resetLink == "" {
				b.t.Fatal("no reset link: the e-mail recovery page failed")
			}
			b.expect("the reset link", b.openLink(resetLink), 200, "/recovery/reset")
		}},
		{"reset link used up", func(b *tab) {
			b.expect("the reset page again", b.open("/recovery/reset"), 410, "/recovery/reset")
		}},
		{"account", func(b *tab) { b.signIn("page@mail.kz", goodPassword) }},
		{"account delete with errors", func(b *tab) {
			b.expect("deleting without password nor box", b.press(kk("button_delete_account")), 400, "/account/delete")
		}},
		{"account deletion pending", func(b *tab) {
			b.fill("delete_password", goodPassword)
			b.do("ticking the box", chromedp.Click(chromedp.ID("delete_confirm")))
			b.expect("deleting", b.press(kk("button_delete_account")), 200, "/account")
			deletionLink = e.LatestLink(b.t, "page@mail.kz", "/deletion/cancel?token=")
		}},
		{"deletion cancel link", func(b *tab) {
			b.expect("the cancel link", b.openLink(deletionLink), 200, "/deletion/cancel")
		}},
		{"deletion cancelled", func(b *tab) {
			b.expect("cancelling", b.press(kk("button_cancel_deletion")), 200, "/deletion/cancel")
		}},
		{"deletion link used up", func(b *tab) {
			b.expect("the cancel link again", b.openLink(deletionLink), 410, "/deletion/cancel")
		}},
	}
	pages = append(append(pages, channelPages(e)...), ssoPages(e)...)
	return append(pages, page{"logout", func(b *tab) { b.expect("signing out", b.open("/logout"), 200, "/logout") }},
		page{"not found", func(b *tab) { b.expect("an unknown page", b.open("/no-such-page"), 404, "/no-such-page") }})
}

// ssoPages are the single sign-on's pages, in each language its ui_locales asks for: the
// consent page of a third-party application (for the signed-in citizen), and the error
// pages of an unknown client and of a redirect URI that is not registered.
func ssoPages(e *kilttest.Env) []page {
	var clientID string
	authorize := func(b *tab, client, redirect, lang string) string {
		if clientID == "" {
			c, _, err := e.App.OIDC.AddClient(context.Background(), oidc.NewClient{Name: "Салық кабинеті",
				RedirectURIs: []string{"http://127.0.0.1:9/cb"}, Scopes: []string{"openid", "email", "phone"}})
			if err != nil {
				b.t.Fatal(err)
			}
			clientID = c.ID
		}
		if client == "" {
			client = clientID
		}
		return "/oauth/authorize?" + url.Values{"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"},
			"scope": {"openid email phone"}, "state": {"st"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
			"code_challenge_method": {"S256"}, "ui_locales": {lang}}.Encode()
	}
	inLang := func(b *tab, lang string) {
		b.t.Helper()
		if got := evaluate[string](b, `document.documentElement.lang`); got != lang {
			b.t.Errorf("the page is in %q, want %q (ui_locales)", got, lang)
		}
	}
	var out []page
	for _, lang := range []string{"kk", "ru", "en"} {
		out = append(out,
			page{"consent " + lang, func(b *tab) {
				// The provider sends the browser on to its issuer's address (the base URL,
				// http://kilt.test), which the tab reaches on the test server.
				client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				resp, err := client.Get(e.URL + authorize(b, "", "http://127.0.0.1:9/cb", lang))
				if err != nil {
					b.t.Fatal(err)
				}
				resp.Body.Close()
				b.expect("a third-party application's authorization", b.openLink(resp.Header.Get("Location")), 200, "/oauth/consent?lang="+lang)
				inLang(b, lang)
			}},
			page{"unknown client " + lang, func(b *tab) {
				path := authorize(b, "no-such-client", "http://127.0.0.1:9/cb", lang)
				b.expect("an unknown client", b.open(path), 400, path)
				inLang(b, lang)
			}},
			page{"unregistered redirect " + lang, func(b *tab) {
				path := authorize(b, "", "http://127.0.0.1:9/cb/other", lang)
				b.expect("an unregistered redirect URI", b.open(path), 400, path)
				inLang(b, lang)
			}})
	}
	return out
}

// checkAxe injects axe-core into the page the tab shows, runs it and fails the test for each
// serious or critical violation, naming the rule, its impact and the elements.
func checkAxe(b *tab, axe string) {
	b.t.Helper()
	results := runAxe(b, axe)
	for _, v := range results {
		var nodes strings.Builder
		for _, n := range v.Nodes {
			fmt.Fprintf(&nodes, "\n\t%s %s\n\t\t%s", n.Target, n.HTML, strings.ReplaceAll(n.Summary, "\n", "\n\t\t"))
		}
		switch v.Impact {
		case "serious", "critical":
			b.t.Errorf("%s: axe %s (%s): %s%s", b.path(), v.ID, v.Impact, v.Help, nodes.String())
		default:
			b.t.Logf("%s: axe %s (%s, not failing): %s%s", b.path(), v.ID, v.Impact, v.Help, nodes.String())
		}
	}
}

// runAxe injects axe-core into the page the tab shows and returns its violations. In a tab
// without JavaScript it turns scripts on for the check alone: axe-core needs timers, and the
// page's own script, skipped at load, does not run later, so axe sees the page a person
// without JavaScript sees.
func runAxe(b *tab, axe string) []axeResult {
	b.t.Helper()
	if !b.js {
		b.setScripts(true)
		defer func() {
			b.setScripts(false)
			b.checkScript()
		}()
	}
	if !evaluate[bool](b, `typeof axe === "object"`) {
		b.do("injecting axe-core", chromedp.Evaluate[chromedp.Void](axe))
	}
	return run(b, "running axe-core on "+b.path(), chromedp.Evaluate[[]axeResult](axeRun, chromedp.EvalAwaitPromise))
}
