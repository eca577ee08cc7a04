package web_test

import (
	"context"
	"html"
	"html/template"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"kilt/internal/account"
	"kilt/internal/kilttest"
)

const (
	goodPassword = "Tulpar-Sunkar-77"
	newPassword  = "Kokpar-Baiga-2026"
)

// browser is a person with a browser that runs no JavaScript: it keeps cookies, sends
// forms, and shows each redirect instead of following it, so tests can look at them.
type browser struct {
	t *testing.T
	e *kilttest.Env
	c *http.Client
}

func newBrowser(t *testing.T, e *kilttest.Env) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, e: e, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// newBrowserIn is a browser whose person chose lang with the language switch.
func newBrowserIn(t *testing.T, e *kilttest.Env, lang string) *browser {
	t.Helper()
	b := newBrowser(t, e)
	b.get("/login?lang=" + lang)
	return b
}

// response is a page as the browser got it.
type response struct {
	Status int
	Header http.Header
	Body   string
	// Location is the redirect's target ("" for none).
	Location string
	cookies  []*http.Cookie
}

// cookie returns the Set-Cookie of the response named name, or nil.
func (r *response) cookie(name string) *http.Cookie {
	for _, c := range r.cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (b *browser) do(req *http.Request) *response {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: string(body),
		Location: resp.Header.Get("Location"), cookies: resp.Cookies()}
}

// get GETs path (with its query) with the given headers (name, value pairs).
func (b *browser) get(path string, headers ...string) *response {
	b.t.Helper()
	req, err := http.NewRequest("GET", b.e.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// post submits a form to path, as a browser does.
func (b *browser) post(path string, form url.Values) *response {
	b.t.Helper()
	req, err := http.NewRequest("POST", b.e.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// follow GETs the target of the redirect r, failing the test if r is not a 303.
func (b *browser) follow(r *response) *response {
	b.t.Helper()
	if r.Status != http.StatusSeeOther || r.Location == "" {
		b.t.Fatalf("got %d (Location %q), want 303 with a Location; body:\n%s", r.Status, r.Location, r.Body)
	}
	return b.get(r.Location)
}

// open opens a link from a mail (built on the configured base URL) in the browser.
func (b *browser) open(link string) *response {
	b.t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Host != "kilt.test" {
		b.t.Fatalf("link %q is not on the base URL", link)
	}
	return b.get(u.RequestURI())
}

// signIn signs in through the form, failing the test if that does not work.
func (b *browser) signIn(identifier, pw string) {
	b.t.Helper()
	r := b.post("/login", url.Values{"identifier": {identifier}, "password": {pw}})
	if r.Status != http.StatusSeeOther || r.Location != "/account" {
		b.t.Fatalf("sign in as %s: got %d to %q, want 303 to /account; body:\n%s", identifier, r.Status, r.Location, r.Body)
	}
}

// signedIn reports whether the browser's session opens the account page.
func (b *browser) signedIn() bool {
	b.t.Helper()
	r := b.get("/account")
	switch {
	case r.Status == http.StatusOK:
		return true
	case r.Status == http.StatusSeeOther && r.Location == "/login":
		return false
	}
	b.t.Fatalf("GET /account: got %d %q", r.Status, r.Location)
	return false
}

var hiddenPattern = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// hidden returns the value of the first hidden field name in body, or "".
func hidden(body, name string) string {
	for _, m := range hiddenPattern.FindAllStringSubmatch(body, -1) {
		if m[1] == name {
			return html.UnescapeString(m[2])
		}
	}
	return ""
}

func addAccount(t *testing.T, e *kilttest.Env, email, phone, pw string) *account.Account {
	t.Helper()
	a, err := e.App.Accounts.Add(context.Background(), account.NewAccount{Email: email, Phone: phone,
		EmailVerified: email != "", PhoneVerified: phone != "", Password: pw, Confirm: pw})
	if err != nil {
		t.Fatalf("adding %s%s: %v", email, phone, err)
	}
	return a
}

// tokenOf is the token of a link.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || len(u.Query().Get("token")) != 43 {
		t.Fatalf("link %q carries no token", link)
	}
	return u.Query().Get("token")
}

// wrongCode is a code that is not code.
func wrongCode(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// contains fails the test unless body contains each of want.
func contains(t *testing.T, what, body string, want ...string) {
	t.Helper()
	// Compared as text: a word kept whole on narrow screens («e-mail») is wrapped in a
	// span, and a character may be escaped one way or another.
	body = html.UnescapeString(nowrap.ReplaceAllString(body, "$1"))
	for _, w := range want {
		if !strings.Contains(body, html.UnescapeString(w)) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// nowrap finds the spans that keep a word whole on one line.
var nowrap = regexp.MustCompile(`<span class="nowrap">([^<]*)</span>`)

var textTemplate = template.Must(template.New("").Parse(`{{.}}`))

// text is a catalog text as html/template writes it into a page.
func text(s string) string {
	var b strings.Builder
	if err := textTemplate.Execute(&b, s); err != nil {
		panic(err)
	}
	return b.String()
}
