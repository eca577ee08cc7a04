package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"kilt/internal/oidc"
	"kilt/internal/session"
)

// The single sign-on scenarios (SPEC §8) share ssoBase: a first-party confidential client
// registered for the run, and one Kilt session per client — a citizen's browser, signed in
// already — created directly through the session service before the clock starts (so that
// the run measures the provider, not Argon2id).
//
//   - sso-code: one whole authorization per operation: GET /oauth/authorize (with the
//     session cookie), the provider's hand-off to its sign-in (which answers at once with a
//     code for a signed-in browser), and the code exchanged at POST /oauth/token — timed
//     whole and by step;
//   - sso-refresh: POST /oauth/token with grant_type=refresh_token, each client rotating its
//     own refresh token;
//   - sso-userinfo: GET /oauth/userinfo with each client's access token;
//   - sso-introspect: POST /oauth/introspect of each client's access token, as its client.
//
// With --rs256 the report gives the rate as a share of the machine's raw RS256 signing rate
// measured in the same run (SPEC §7: a refresh at 32 clients ≥ 50 % of it); userinfo and
// introspection have a floor (--floor).

// ssoRedirect is the client's redirect URI: the tool reads the code from the Location the
// provider answers with and never follows it.
const ssoRedirect = "http://127.0.0.1:9/kilt-load/callback"

// ssoBase is what the single sign-on scenarios share.
type ssoBase struct {
	env           *Env
	clientID      string
	secret        string
	issuer        string   // the provider's issuer (KILT_BASE_URL), on whose address it sends the browser
	cookies       []string // per client: its Kilt session cookie
	tokenURL      string
	authorizeURL  string
	userinfoURL   string
	introspectURL string
}

// prepare registers the client, makes sure the accounts exist and signs each client in.
func (s *ssoBase) prepare(ctx context.Context, env *Env, name string) error {
	if !env.HasDatabase {
		return fmt.Errorf("the %s scenario registers a client and signs its accounts in first: give --database (the server's KILT_DATABASE_URL)", name)
	}
	if env.Config.BaseURL == nil {
		return errors.New("the single sign-on needs the server's KILT_BASE_URL in the tool's environment")
	}
	s.env = env
	s.issuer = strings.TrimRight(env.Config.BaseURL.String(), "/")
	s.authorizeURL = env.endpoint("/oauth/authorize")
	s.tokenURL = env.endpoint("/oauth/token")
	s.userinfoURL = env.endpoint("/oauth/userinfo")
	s.introspectURL = env.endpoint("/oauth/introspect")
	if err := prepareAccounts(ctx, env, loadAccounts, env.Clients, false); err != nil {
		return err
	}
	app, err := env.OpenApp(ctx)
	if err != nil {
		return fmt.Errorf("opening the database: %w", err)
	}
	defer app.Close()
	c, secret, err := app.OIDC.AddClient(ctx, oidc.NewClient{Name: "kilt-load", RedirectURIs: []string{ssoRedirect},
		FirstParty: true, Scopes: []string{oidc.ScopeOpenID, oidc.ScopeEmail, oidc.ScopeOffline}})
	if err != nil {
		return fmt.Errorf("registering the client: %w", err)
	}
	s.clientID, s.secret = c.ID, secret
	cookie := "kilt"
	if env.Config.Secure() {
		cookie = "__Host-kilt"
	}
	start := time.Now()
	s.cookies = make([]string, env.Clients)
	for i := range s.cookies {
		// Each from an address of its own: the sign-ins are not one client's burst.
		in, err := app.Sessions.SignIn(ctx, loadAccounts.email(i%env.Accounts), loadPassword, "",
			session.Client{IP: forwardedAddr(i), UserAgent: "kilt-load"})
		if err != nil {
			return fmt.Errorf("signing %s in: %w", loadAccounts.email(i%env.Accounts), err)
		}
		s.cookies[i] = cookie + "=" + in.Token
	}
	fmt.Fprintf(env.Log, "single sign-on: client %s registered, %d sessions in %v\n", c.ID, len(s.cookies), time.Since(start).Round(time.Millisecond))
	return nil
}

// do sends one request; it returns the status, the Location and the body (read to the end,
// so the connection is reused). form is sent as a form when not nil; header is name, value…
func (s *ssoBase) do(ctx context.Context, method, target string, form url.Values, header ...string) (int, string, []byte, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, s.env.nextTarget(target), body)
	if err != nil {
		return 0, "", nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.env.HTTP.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return resp.StatusCode, resp.Header.Get("Location"), b, err
}

// onTarget returns a Location of the provider's on the target: it sends the browser to its
// issuer's address, which the load goes to at --url.
func (s *ssoBase) onTarget(loc string) (string, error) {
	switch {
	case strings.HasPrefix(loc, s.issuer+"/"):
		return strings.TrimRight(s.env.endpoint(""), "/") + loc[len(s.issuer):], nil
	case strings.HasPrefix(loc, "/"):
		return strings.TrimRight(s.env.endpoint(""), "/") + loc, nil
	}
	return "", fmt.Errorf("the provider sent the browser to %q", loc)
}

// tokens is the token endpoint's answer.
type tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
	ID      string `json:"id_token"`
}

// codeFlow runs one authorization of client's browser and exchanges its code. It returns the
// operation's outcome (steps authorize, code, token) and the tokens when it worked.
func (s *ssoBase) codeFlow(ctx context.Context, client int) (Outcome, *tokens, error) {
	var out Outcome
	step := func(name string, start time.Time) { out.Steps = append(out.Steps, Step{name, time.Since(start)}) }
	verifier := make([]byte, 32)
	rand.Read(verifier)
	v := base64.RawURLEncoding.EncodeToString(verifier)
	sum := sha256.Sum256([]byte(v))
	q := url.Values{"client_id": {s.clientID}, "redirect_uri": {ssoRedirect}, "response_type": {"code"},
		"scope": {"openid email offline_access"}, "state": {"load"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}}
	cookie := s.cookies[client%len(s.cookies)]

	start := time.Now()
	status, loc, _, err := s.do(ctx, http.MethodGet, s.authorizeURL+"?"+q.Encode(), nil, "Cookie", cookie)
	step("authorize", start)
	if out.Status = status; err != nil || status/100 != 3 {
		return out, nil, err
	}
	hand, err := s.onTarget(loc)
	if err != nil {
		return out, nil, err
	}
	start = time.Now()
	status, loc, _, err = s.do(ctx, http.MethodGet, hand, nil, "Cookie", cookie)
	step("code", start)
	if out.Status = status; err != nil || status/100 != 3 {
		return out, nil, err
	}
	back, err := url.Parse(loc)
	if err != nil || !strings.HasPrefix(loc, ssoRedirect) || back.Query().Get("code") == "" {
		out.Status = 0
		return out, nil, fmt.Errorf("the authorization did not answer with a code (%s)", back.Query().Get("error"))
	}
	start = time.Now()
	status, _, body, err := s.do(ctx, http.MethodPost, s.tokenURL, url.Values{"grant_type": {"authorization_code"},
		"code": {back.Query().Get("code")}, "redirect_uri": {ssoRedirect}, "code_verifier": {v}}, "Authorization", s.basic())
	step("token", start)
	if out.Status = status; err != nil || status != http.StatusOK {
		return out, nil, err
	}
	var t tokens
	if err := json.Unmarshal(body, &t); err != nil || t.Access == "" {
		return out, nil, errors.New("the token endpoint answered no access token")
	}
	return out, &t, nil
}

// basic is the client's HTTP Basic credentials (RFC 6749 2.3.1: form-encoded first).
func (s *ssoBase) basic() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(s.clientID)+":"+url.QueryEscape(s.secret)))
}

// tokensFor runs one code flow per client before the run and returns each one's tokens.
func (s *ssoBase) tokensFor(ctx context.Context) ([]*tokens, error) {
	out := make([]*tokens, len(s.cookies))
	for i := range out {
		o, t, err := s.codeFlow(ctx, i)
		if err != nil || t == nil {
			return nil, fmt.Errorf("the code flow of client %d: status %d: %v", i, o.Status, err)
		}
		out[i] = t
	}
	return out, nil
}

// ssoCode is the sso-code scenario.
type ssoCode struct{ ssoBase }

func (*ssoCode) Name() string { return "sso-code" }
func (*ssoCode) Unit() string { return "code flows" }
func (*ssoCode) Summary() string {
	return "single sign-on: authorize a signed-in browser, get the code, exchange it (POST /oauth/token); needs --database"
}
func (s *ssoCode) Prepare(ctx context.Context, env *Env) error { return s.prepare(ctx, env, s.Name()) }

// Do runs one whole authorization with its code exchange.
func (s *ssoCode) Do(ctx context.Context, client int) (Outcome, error) {
	o, _, err := s.codeFlow(ctx, client)
	return o, err
}

// ssoRefresh is the sso-refresh scenario.
type ssoRefresh struct {
	ssoBase
	refresh []string // per client: its current refresh token
}

func (*ssoRefresh) Name() string { return "sso-refresh" }
func (*ssoRefresh) Summary() string {
	return "single sign-on: refresh (POST /oauth/token, grant_type=refresh_token), each client rotating its own token; needs --database"
}

func (s *ssoRefresh) Prepare(ctx context.Context, env *Env) error {
	if err := s.prepare(ctx, env, s.Name()); err != nil {
		return err
	}
	ts, err := s.tokensFor(ctx)
	if err != nil {
		return err
	}
	s.refresh = make([]string, len(ts))
	for i, t := range ts {
		if t.Refresh == "" {
			return errors.New("the code exchange answered no refresh token")
		}
		s.refresh[i] = t.Refresh
	}
	return nil
}

// Do refreshes client's tokens and keeps the new refresh token (the old one is rotated).
func (s *ssoRefresh) Do(ctx context.Context, client int) (Outcome, error) {
	i := client % len(s.refresh)
	status, _, body, err := s.do(ctx, http.MethodPost, s.tokenURL, url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {s.refresh[i]}}, "Authorization", s.basic())
	if err == nil && status == http.StatusOK {
		var t tokens
		if json.Unmarshal(body, &t) == nil && t.Refresh != "" {
			s.refresh[i] = t.Refresh
		}
	}
	return Outcome{Status: status}, err
}

// ssoUserinfo is the sso-userinfo scenario.
type ssoUserinfo struct {
	ssoBase
	access []string
}

func (*ssoUserinfo) Name() string { return "sso-userinfo" }
func (*ssoUserinfo) Summary() string {
	return "single sign-on: GET /oauth/userinfo with each client's access token; needs --database"
}

// FloorStatements and FloorReads: userinfo (and introspection) reads the token with its
// account and session in one statement outside any transaction; its floor reads one row by
// primary key the same way.
func (*ssoUserinfo) FloorStatements() int { return 1 }
func (*ssoUserinfo) FloorReads()          {}

func (s *ssoUserinfo) Prepare(ctx context.Context, env *Env) error {
	if err := s.prepare(ctx, env, s.Name()); err != nil {
		return err
	}
	ts, err := s.tokensFor(ctx)
	for _, t := range ts {
		s.access = append(s.access, t.Access)
	}
	return err
}

func (s *ssoUserinfo) Do(ctx context.Context, client int) (Outcome, error) {
	status, _, _, err := s.do(ctx, http.MethodGet, s.userinfoURL, nil, "Authorization", "Bearer "+s.access[client%len(s.access)])
	return Outcome{Status: status}, err
}

// ssoIntrospect is the sso-introspect scenario.
type ssoIntrospect struct{ ssoUserinfo }

func (*ssoIntrospect) Name() string { return "sso-introspect" }
func (*ssoIntrospect) Summary() string {
	return "single sign-on: POST /oauth/introspect of each client's access token, as its client; needs --database"
}

// Do introspects client's access token; an answer that is not active is class "inactive".
func (s *ssoIntrospect) Do(ctx context.Context, client int) (Outcome, error) {
	status, _, body, err := s.do(ctx, http.MethodPost, s.introspectURL, url.Values{"token": {s.access[client%len(s.access)]}},
		"Authorization", s.basic())
	o := Outcome{Status: status, Class: "active"}
	var a struct {
		Active bool `json:"active"`
	}
	if json.Unmarshal(body, &a) != nil || !a.Active {
		o.Class = "inactive"
	}
	return o, err
}

func (s *ssoIntrospect) Prepare(ctx context.Context, env *Env) error {
	if err := s.prepare(ctx, env, s.Name()); err != nil {
		return err
	}
	ts, err := s.tokensFor(ctx)
	for _, t := range ts {
		s.access = append(s.access, t.Access)
	}
	return err
}
