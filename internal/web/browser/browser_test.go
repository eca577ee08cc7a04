package browser

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"kilt/internal/account"
	"kilt/internal/kilttest"
)

const (
	goodPassword = "Tulpar-Sunkar-77"
	newPassword  = "Kokpar-Baiga-2026"

	// testTimeout bounds a whole test and its browser; stepTimeout one action in it, so a
	// page that never shows what a step waits for fails in seconds, naming the step.
	testTimeout = 5 * time.Minute
	stepTimeout = 30 * time.Second
)

// required reports whether a missing browser or checker fails the tests instead of
// skipping them: in CI, and under `make test`.
func required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("KILT_TEST_BROWSER") == "1"
}

// unavailable skips the test for the missing component, or fails it when the browser tests
// are required.
func unavailable(t *testing.T, err error) {
	t.Helper()
	if required() {
		t.Fatalf("browser tests required (CI=true or KILT_TEST_BROWSER=1) but: %v", err)
	}
	t.Skipf("skipping the browser tests: %v (run scripts/test-deps.sh, or set KILT_CHROME and KILT_AXE)", err)
}

// startBrowser starts a headless Chromium in a fresh profile, ended with the test, which it
// bounds by testTimeout. Tabs opened on the returned context share that browser.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := Chrome()
	if err != nil {
		unavailable(t, err)
	}
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	actx, acancel := chromedp.NewExecAllocator(ctx, Options(path, profile)...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		bcancel()
		acancel() // waits for the browser to exit, before the profile is removed
		cancel()
	})
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return bctx
}

// mode is JavaScript on or off in a tab.
type mode struct {
	name string
	js   bool
}

var modes = []mode{{"js on", true}, {"js off", false}}

// tab is one browser tab of a person on a running Kilt: its own cookies (a fresh browser
// context), Kazakh as the browser's language, JavaScript on or off.
type tab struct {
	t   *testing.T
	e   *kilttest.Env
	ctx context.Context
	js  bool
}

// newTab opens a tab in the browser of bctx, closed when the test ends.
func newTab(t *testing.T, bctx context.Context, e *kilttest.Env, js bool) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first run on a context opens its tab and binds the tab's life to the context it
	// is given: this one, not a step's, whose timeout would close the tab.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	b := &tab{t: t, e: e, ctx: ctx, js: js}
	b.do("setting the browser's language to Kazakh", chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tt, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": "kk-KZ,kk;q=0.9"}})
		return err
	}))
	if !js {
		// The setting holds for every page the tab loads from now on; app.js never runs.
		b.setScripts(false)
	}
	return b
}

// agree ticks the personal-data consent of the registration form, unless it is ticked
// already (a form that came back), as a citizen must before «Тіркелу» is accepted.
// fillRegistration calls it, so every browser test that registers gives the consent.
func (b *tab) agree() {
	b.t.Helper()
	if evaluate[bool](b, `document.getElementById("consent_version").checked`) {
		return
	}
	b.do("ticking the personal-data consent", chromedp.Click(chromedp.ID("consent_version")))
}

// setScheme makes the tab's pages see prefers-color-scheme: scheme ("light" or "dark").
func (b *tab) setScheme(scheme string) {
	b.t.Helper()
	b.do("preferring the "+scheme+" colour scheme", chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tt, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	}))
}

// setWidth sizes the tab's viewport: width CSS pixels wide, a phone's (mobile, touch) when
// under 600.
func (b *tab) setWidth(width int64) {
	b.t.Helper()
	var opts []chromedp.EmulateViewportOption
	if width < 600 {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	b.do("sizing the window", chromedp.EmulateViewport(width, 800, opts...))
}

// setScripts turns the page's scripts on or off for the pages the tab loads next.
func (b *tab) setScripts(on bool) {
	b.t.Helper()
	what := "turning JavaScript off"
	if on {
		what = "turning JavaScript on"
	}
	b.do(what, chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		_, err := cdp.Call(ctx, tt, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
		return err
	}))
}

// do runs the actions within stepTimeout, failing the test with what they were for.
func (b *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// load runs the actions, which must load a page, and returns the page's HTTP status (the
// last response of a chain of redirects).
func (b *tab) load(what string, actions ...chromedp.Action[chromedp.Void]) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return resp.Status
}

// open loads path (with its query) of the running Kilt, as typed in the address bar.
func (b *tab) open(path string) int64 {
	b.t.Helper()
	return b.load("opening "+path, chromedp.Navigate(b.e.URL+path))
}

// openLink opens a link a mail or an SMS carries. Links are built on Kilt's configured base
// URL, http://kilt.test; the browser reaches the same path on the test server.
func (b *tab) openLink(link string) int64 {
	b.t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Host != "kilt.test" {
		b.t.Fatalf("link %q is not on the base URL", link)
	}
	return b.load("opening the link", chromedp.Navigate(b.e.URL+u.RequestURI()))
}

// fill types value into the field with the id, as a person does.
func (b *tab) fill(id, value string) {
	b.t.Helper()
	b.do("typing into #"+id, chromedp.SendKeys(chromedp.ID(id), value))
}

// press clicks the button of the page's main content labelled label and returns the status
// of the page it loads.
func (b *tab) press(label string) int64 {
	b.t.Helper()
	return b.load("pressing «"+label+"»", chromedp.Click(buttonLabelled(label)))
}

// follow clicks the link labelled label and returns the status of the page it loads.
func (b *tab) follow(label string) int64 {
	b.t.Helper()
	return b.load("following «"+label+"»", chromedp.Click(chromedp.Search(`//a[normalize-space()=`+xpathString(label)+`]`)))
}

// clickTo clicks the element the CSS selector finds and returns the status of the page it
// loads.
func (b *tab) clickTo(sel string) int64 {
	b.t.Helper()
	return b.load("clicking "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// buttonLabelled selects the button of the main content whose text is label.
func buttonLabelled(label string) chromedp.Search {
	return chromedp.Search(`//main//button[normalize-space()=` + xpathString(label) + `]`)
}

// xpathString is s as an XPath string literal (the labels hold no double quote).
func xpathString(s string) string { return `"` + s + `"` }

// path returns the path and query of the page the tab shows, as in the address bar.
func (b *tab) path() string {
	b.t.Helper()
	loc := evaluate[string](b, `location.href`)
	if !strings.HasPrefix(loc, b.e.URL+"/") {
		b.t.Fatalf("the tab shows %s, not a page of the Kilt under test", loc)
	}
	return strings.TrimPrefix(loc, b.e.URL)
}

// text returns the rendered text of the first element the CSS selector finds, failing the
// test when there is none.
func (b *tab) text(sel string) string {
	b.t.Helper()
	r := evaluate[foundText](b, `(() => { const n = document.querySelector(`+jsString(sel)+`); return {found: !!n, text: n ? n.innerText : ""}; })()`)
	if !r.Found {
		b.t.Fatalf("%s: no %s on the page; it shows:\n%s", b.path(), sel, evaluate[string](b, `document.body.innerText`))
	}
	return strings.Join(strings.Fields(r.Text), " ")
}

// foundText is what text reads from the page.
type foundText struct {
	Found bool   `json:"found"`
	Text  string `json:"text"`
}

// has reports whether the CSS selector finds an element.
func (b *tab) has(sel string) bool {
	b.t.Helper()
	return evaluate[bool](b, `document.querySelector(`+jsString(sel)+`) !== null`)
}

// attr returns the value of the attribute name of the first element the CSS selector finds
// ("" and false when the element or the attribute is missing).
func (b *tab) attr(sel, name string) (string, bool) {
	b.t.Helper()
	v := evaluate[[]string](b, `(() => { const n = document.querySelector(`+jsString(sel)+`);
		return n && n.hasAttribute(`+jsString(name)+`) ? [n.getAttribute(`+jsString(name)+`)] : []; })()`)
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// shown reports whether the element the CSS selector finds takes space on the page.
func (b *tab) shown(sel string) bool {
	b.t.Helper()
	return evaluate[bool](b, `(() => { const n = document.querySelector(`+jsString(sel)+`);
		return !!n && n.getClientRects().length > 0 && getComputedStyle(n).visibility !== "hidden"; })()`)
}

// evaluate runs the JavaScript expression in the page through the DevTools protocol (which
// works with the page's own scripts off) and decodes its value.
func evaluate[T any](b *tab, expr string) T {
	b.t.Helper()
	return run(b, "evaluating "+expr, chromedp.Evaluate[T](expr))
}

// run runs the action within stepTimeout and returns its value, failing the test with what
// it was for.
func run[T any](b *tab, what string, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	j, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(j)
}

// expect fails the test unless the page that loaded with status is wantPath (path and
// query) with wantStatus; what names the step.
func (b *tab) expect(what string, status, wantStatus int64, wantPath string) {
	b.t.Helper()
	if got := b.path(); status != wantStatus || got != wantPath {
		b.t.Fatalf("%s: got %d at %s, want %d at %s; the page shows:\n%s", what, status, got, wantStatus, wantPath,
			evaluate[string](b, `document.body.innerText`))
	}
}

// contains fails the test unless the text of the element sel contains each of want.
func (b *tab) contains(sel string, want ...string) {
	b.t.Helper()
	got := b.text(sel)
	for _, w := range want {
		if !strings.Contains(got, strings.Join(strings.Fields(w), " ")) {
			b.t.Errorf("%s %s: got %q, want it to contain %q", b.path(), sel, got, w)
		}
	}
}

// signIn signs in through the sign-in form and fails the test unless the account page
// follows.
func (b *tab) signIn(identifier, password string) {
	b.t.Helper()
	b.expect("the sign-in page", b.open("/login"), 200, "/login")
	b.fill("identifier", identifier)
	b.fill("password", password)
	b.expect("signing in as "+identifier, b.press("Кіру"), 200, "/account")
}

// addAccount adds an active account with verified channels.
func addAccount(t *testing.T, e *kilttest.Env, email, phone, password string) {
	t.Helper()
	_, err := e.App.Accounts.Add(context.Background(), account.NewAccount{Email: email, Phone: phone,
		EmailVerified: email != "", PhoneVerified: phone != "", Password: password, Confirm: password})
	if err != nil {
		t.Fatalf("adding %s%s: %v", email, phone, err)
	}
}
