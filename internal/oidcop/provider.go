package oidcop

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"kilt"
	kiltoidc "kilt/internal/oidc"
	"kilt/internal/web"
)

// Config is what the provider needs from the wiring.
type Config struct {
	// Issuer is KILT_BASE_URL.
	Issuer string
	// Secret is the server secret (op's CryptoKey derives from it, though op's Crypto is
	// replaced by opaqueTokens: no token of Kilt's is encrypted with it).
	Secret []byte
	// SecureCookie and the cookie names follow the pages'.
	SecureCookie bool
	// Session returns the browser's live Kilt session (nil when none).
	Session func(r *http.Request) (*kiltoidc.Session, error)
	// EndSession ends a Kilt session (sign-out), which ends its tokens too.
	EndSession func(ctx context.Context, sess *kiltoidc.Session) error
	// RenderError shows an error page (never a redirect).
	RenderError func(w http.ResponseWriter, r *http.Request, status int, err error)
}

// Provider is the OpenID provider's HTTP surface.
type Provider struct {
	svc  *kiltoidc.Service
	op   *op.Provider
	st   *storage
	cfg  Config
	base string
}

// Paths of the provider.
const (
	pathAuthorize  = "/oauth/authorize"
	pathToken      = "/oauth/token"
	pathUserinfo   = "/oauth/userinfo"
	pathRevoke     = "/oauth/revoke"
	pathIntrospect = "/oauth/introspect"
	pathEndSession = "/oauth/end_session"
	pathKeys       = "/oauth/keys"
	pathLogin      = "/oauth/login"
	pathResume     = "/oauth/resume"
	pathConsent    = "/oauth/consent"
)

// New returns the provider.
func New(svc *kiltoidc.Service, cfg Config) (*Provider, error) {
	p := &Provider{svc: svc, cfg: cfg, base: strings.TrimSuffix(cfg.Issuer, "/")}
	p.st = &storage{svc: svc, p: p}
	var key [32]byte
	copy(key[:], kilt.DeriveKey(cfg.Secret, "oidc-op-crypto"))
	opts := []op.Option{
		op.WithCustomEndpoints(op.NewEndpoint(strings.TrimPrefix(pathAuthorize, "/")), op.NewEndpoint(strings.TrimPrefix(pathToken, "/")),
			op.NewEndpoint(strings.TrimPrefix(pathUserinfo, "/")), op.NewEndpoint(strings.TrimPrefix(pathRevoke, "/")),
			op.NewEndpoint(strings.TrimPrefix(pathEndSession, "/")), op.NewEndpoint(strings.TrimPrefix(pathKeys, "/"))),
		op.WithCustomIntrospectionEndpoint(op.NewEndpoint(strings.TrimPrefix(pathIntrospect, "/"))),
		op.WithCrypto(opaqueTokens{}),
		op.WithIDTokenHintKeySet(hintKeys{svc: svc}),
	}
	if strings.HasPrefix(p.base, "http://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	o, err := op.NewProvider(&op.Config{
		CryptoKey:                key,
		DefaultLogoutRedirectURI: p.base + "/login",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       []language.Tag{language.Kazakh, language.Russian, language.English},
		SupportedClaims: []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "amr", "sid", "azp", "at_hash", "c_hash",
			"email", "email_verified", "phone_number", "phone_number_verified"},
		SupportedScopes:            kiltoidc.KnownScopes,
		BackChannelLogoutSupported: true, BackChannelLogoutSessionSupported: true,
	}, p.st, op.StaticIssuer(p.base), opts...)
	if err != nil {
		return nil, err
	}
	p.op = o
	return p, nil
}

// Routes mounts the provider on mux. The token-side endpoints are called across origins
// (a relying party's server, a single-page app), and an application's page may POST to the
// authorization and logout endpoints (OpenID Connect Core 3.1.2.1, RP-Initiated Logout 1.0
// §2: GET and POST both MUST be supported): bypass lists them for the mux's cross-origin
// protection. Neither POST makes anything forgeable that a GET did not: an authorization
// creates a pending request only, and end_session ends a session only with an
// id_token_hint of that session (TerminateSessionFromRequest), else shows the confirmation
// page.
func (p *Provider) Routes(mux *http.ServeMux) (bypass []string) {
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.Handle(pathAuthorize, p.checkClient(withIss(p.op, p.base)))
	for _, path := range []string{pathToken, pathIntrospect} {
		mux.Handle(path, noStore(p.op))
	}
	mux.Handle(pathUserinfo, noStore(http.HandlerFunc(p.userinfo)))
	for _, path := range []string{pathRevoke, pathKeys} {
		mux.Handle(path, p.op)
	}
	mux.Handle(pathEndSession, noStore(http.HandlerFunc(p.endSessionEndpoint)))
	mux.HandleFunc("GET "+pathLogin, p.login)
	mux.HandleFunc("GET "+pathResume, p.resume)
	return []string{pathAuthorize, pathToken, pathUserinfo, pathRevoke, pathIntrospect, pathEndSession}
}

// discovery is op's document plus what op does not know: `iss` in every authorization
// response (RFC 9207).
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	ctx := op.ContextWithIssuer(r.Context(), p.base)
	conf := op.CreateDiscoveryConfig(ctx, p.op, p.st)
	conf.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
	conf.ResponseModesSupported = []string{string(oidc.ResponseModeQuery)}
	conf.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	conf.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	raw, err := json.Marshal(conf)
	var m map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &m)
	}
	if err != nil {
		http.Error(w, "discovery failed", http.StatusInternalServerError)
		return
	}
	m["authorization_response_iss_parameter_supported"] = true
	delete(m, "device_authorization_endpoint") // no device flow
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(m)
}

// checkClient answers an unknown client or a redirect URI that is not registered exactly
// with Kilt's error page (in the citizen's language), never a redirect: nothing is sent to an
// address the operator did not register. A parameter given more than once (RFC 6749 3.1:
// "MUST NOT be included more than once") gets the error page too: this check reads one
// value and op's decoder may read another, so a second redirect_uri would be checked by op
// alone.
func (p *Provider) checkClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			p.cfg.RenderError(w, r, http.StatusBadRequest, kilt.E(kilt.KindInvalid, kiltoidc.CodeInvalidRequest))
			return
		}
		for _, v := range r.Form { // the query and a POST body together
			if len(v) > 1 {
				p.cfg.RenderError(w, r, http.StatusBadRequest, kilt.E(kilt.KindInvalid, kiltoidc.CodeInvalidRequest))
				return
			}
		}
		er := withUILocale(r) // the error pages in the application's language
		if r.Form.Get("request") != "" || r.Form.Get("request_uri") != "" {
			// Request objects could carry another redirect URI than the one checked here.
			p.cfg.RenderError(w, er, http.StatusBadRequest, kilt.E(kilt.KindInvalid, kiltoidc.CodeInvalidRequest))
			return
		}
		c, err := p.svc.Client(r.Context(), r.Form.Get("client_id"))
		if kilt.ErrorKind(err) == kilt.KindNotFound {
			p.cfg.RenderError(w, er, http.StatusBadRequest, kilt.E(kilt.KindInvalid, kiltoidc.CodeUnknownClient))
			return
		}
		if err != nil {
			p.cfg.RenderError(w, er, http.StatusServiceUnavailable, err)
			return
		}
		if !c.RedirectAllowed(r.Form.Get("redirect_uri")) {
			p.cfg.RenderError(w, er, http.StatusBadRequest, kilt.E(kilt.KindInvalid, kiltoidc.CodeRedirectURI))
			return
		}
		// Kilt answers in the query only, with iss (RFC 9207). op would put its error for
		// another mode in the fragment, without iss; and an application that asked for the
		// fragment or a form post would not read a query answer: the error page shows the
		// mistake to the application's developer instead.
		if m := r.Form.Get("response_mode"); m != "" && m != string(oidc.ResponseModeQuery) {
			p.cfg.RenderError(w, er, http.StatusBadRequest, kilt.E(kilt.KindInvalid, kiltoidc.CodeInvalidRequest))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// userinfo is op's userinfo endpoint with the bearer errors of RFC 6750 3.1 (OpenID Connect
// Core 5.3.3), which op does not send: 401 with "WWW-Authenticate: Bearer" without a token,
// and with error="invalid_token" for one that is malformed, revoked, expired or of an ended
// session (op answered 403 access_denied). The token is read as op reads it (the
// Authorization header or an access_token form field) and answered from the database
// (storage.SetUserinfoFromToken).
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	token, err := op.ParseUserinfoRequest(r, p.op.Decoder())
	if err != nil || token == "" {
		w.Header().Set("WWW-Authenticate", "Bearer") // no error code: none was sent (RFC 6750 3.1)
		http.Error(w, "access token missing", http.StatusUnauthorized)
		return
	}
	ui := new(oidc.UserInfo)
	err = p.st.SetUserinfoFromToken(r.Context(), ui, token, "", "")
	var oe *oidc.Error
	if errors.As(err, &oe) && oe.ErrorType == oidc.AccessDenied {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="the access token is not active"`)
		httphelper.MarshalJSONWithStatus(w, &oidc.Error{ErrorType: "invalid_token", Description: "the access token is not active"},
			http.StatusUnauthorized)
		return
	}
	if err != nil {
		op.RequestError(w, r, err, nil)
		return
	}
	httphelper.MarshalJSON(w, ui)
}

// noStore keeps the answers of h out of every cache: RFC 6749 5.1 and OpenID Connect Core
// 3.1.3.3 require "Cache-Control: no-store" and "Pragma: no-cache" on a response with tokens
// (op sends neither); introspection and userinfo answer what a token holds.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// withIss adds `iss` to every redirect the authorization endpoint answers with to a client
// (errors op redirects), as RFC 9207 asks.
func withIss(h http.Handler, issuer string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&issWriter{ResponseWriter: w, issuer: issuer}, r)
	})
}

type issWriter struct {
	http.ResponseWriter
	issuer string
}

func (w *issWriter) WriteHeader(code int) {
	if code == http.StatusFound || code == http.StatusSeeOther {
		if loc := w.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, w.issuer+"/") {
			if u, err := url.Parse(loc); err == nil && u.IsAbs() {
				q := u.Query()
				if q.Get("iss") == "" && (q.Get("error") != "" || q.Get("code") != "") {
					q.Set("iss", w.issuer)
					u.RawQuery = q.Encode()
					w.Header().Set("Location", u.String())
				}
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

// ---- the hand-off to the sign-in pages ----

// authzCookie holds the pending authorization's id while the citizen signs in (and takes
// the recovery or registration detour): the request itself stays server-side.
func (p *Provider) authzCookie() string {
	if p.cfg.SecureCookie {
		return "__Host-kilt_authz"
	}
	return "kilt_authz"
}

func (p *Provider) setPending(w http.ResponseWriter, id string) {
	http.SetCookie(w, &http.Cookie{Name: p.authzCookie(), Value: id, Path: "/", MaxAge: int(kiltoidc.AuthRequestLifetime / time.Second),
		HttpOnly: true, Secure: p.cfg.SecureCookie, SameSite: http.SameSiteLaxMode})
}

func (p *Provider) clearPending(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: p.authzCookie(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: p.cfg.SecureCookie, SameSite: http.SameSiteLaxMode})
}

// pending returns the browser's pending authorization, nil when none or expired.
func (p *Provider) pending(r *http.Request) *kiltoidc.AuthRequest {
	c, err := r.Cookie(p.authzCookie())
	if err != nil {
		return nil
	}
	a, err := p.svc.AuthRequest(r.Context(), c.Value)
	if err != nil || a.Done {
		return nil
	}
	return a
}

// Pending reports the browser's pending authorization for the sign-in page: the
// application's name, the login hint, and whether the form must be shown although someone
// is signed in (prompt=login, max_age); ok false when none.
func (p *Provider) Pending(r *http.Request) (clientName, loginHint string, forceLogin, ok bool) {
	a := p.pending(r)
	if a == nil {
		return "", "", false, false
	}
	c, err := p.svc.Client(r.Context(), a.ClientID)
	if err != nil {
		return "", "", false, false
	}
	if sess, err := p.cfg.Session(r); err == nil && sess != nil && !p.svc.SessionSatisfies(a, sess) {
		forceLogin = true
	}
	return c.Name, a.LoginHint, forceLogin, true
}

// FormTarget is the origin of the pending authorization's redirect URI.
func (p *Provider) FormTarget(r *http.Request) string {
	a := p.pending(r)
	if a == nil {
		return ""
	}
	u, err := url.Parse(a.RedirectURI)
	if err != nil {
		return ""
	}
	if u.Host == "" {
		return u.Scheme + ":" // a native app's private-use scheme
	}
	return u.Scheme + "://" + u.Host
}

// Forget drops the browser's pending authorization (at sign-out): on a shared computer the
// next person to sign in would otherwise be taken on into the application the last one left
// half done. The request row stays until it expires, unreachable without the cookie.
func (p *Provider) Forget(w http.ResponseWriter) { p.clearPending(w) }

// ResumePath is where the sign-in page sends the citizen after signing in when an
// authorization is pending.
func (p *Provider) ResumePath() string { return pathResume }

// login is the client's LoginURL: op sends the browser here with the new request's id.
// The id moves into a cookie; a session that satisfies the request answers at once;
// prompt=none without one answers login_required; else the sign-in page.
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	a, err := p.svc.AuthRequest(r.Context(), r.URL.Query().Get("id"))
	if err != nil {
		p.cfg.RenderError(w, r, http.StatusGone, err)
		return
	}
	sess, err := p.cfg.Session(r)
	if err != nil {
		p.cfg.RenderError(w, r, http.StatusServiceUnavailable, err)
		return
	}
	none := containsPrompt(a, "none")
	if sess != nil && p.svc.SessionSatisfies(a, sess) {
		p.finish(w, r, a, sess, none)
		return
	}
	if none {
		p.redirectError(w, r, a, "login_required")
		return
	}
	p.setPending(w, a.ID)
	q := url.Values{}
	if lang := uiLocale(a.UILocales); lang != "" {
		q.Set("lang", lang)
	}
	target := "/login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// withUILocale returns r asking for its ui_locales' language (as ?lang), for an error page
// answered to an authorization request; a lang already asked for wins.
func withUILocale(r *http.Request) *http.Request {
	lang := uiLocale(r.Form.Get("ui_locales"))
	q := r.URL.Query()
	if lang == "" || q.Get("lang") != "" {
		return r
	}
	q.Set("lang", lang)
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = q.Encode()
	return r2
}

// uiLocale is the first of the request's ui_locales Kilt speaks.
func uiLocale(locales string) string {
	for _, l := range strings.Fields(locales) {
		l = strings.ToLower(l)
		if i := strings.IndexByte(l, '-'); i > 0 {
			l = l[:i]
		}
		switch l {
		case "kk", "ru", "en":
			return l
		}
	}
	return ""
}

func containsPrompt(a *kiltoidc.AuthRequest, v string) bool {
	for _, p := range a.Prompt {
		if p == v {
			return true
		}
	}
	return false
}

// resume continues the pending authorization after the sign-in page.
func (p *Provider) resume(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	a := p.pending(r)
	if a == nil {
		p.clearPending(w)
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	sess, err := p.cfg.Session(r)
	if err != nil {
		p.cfg.RenderError(w, r, http.StatusServiceUnavailable, err)
		return
	}
	if sess == nil || !p.svc.SessionSatisfies(a, sess) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	p.finish(w, r, a, sess, containsPrompt(a, "none"))
}

// finish answers the authorization for sess: consent first for a third-party client, then
// a code to the registered redirect URI with state and iss.
func (p *Provider) finish(w http.ResponseWriter, r *http.Request, a *kiltoidc.AuthRequest, sess *kiltoidc.Session, none bool) {
	need, _, err := p.svc.NeedsConsent(r.Context(), a, sess.AccountID)
	if err != nil {
		p.cfg.RenderError(w, r, http.StatusServiceUnavailable, err)
		return
	}
	if need {
		if none {
			p.redirectError(w, r, a, "consent_required")
			return
		}
		p.setPending(w, a.ID)
		target := pathConsent
		if lang := uiLocale(a.UILocales); lang != "" {
			target += "?" + url.Values{"lang": {lang}}.Encode() // the page in the application's language
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
		return
	}
	p.complete(w, r, a, sess)
}

// complete answers the authorization with a code.
func (p *Provider) complete(w http.ResponseWriter, r *http.Request, a *kiltoidc.AuthRequest, sess *kiltoidc.Session) {
	a, code, err := p.svc.Complete(r.Context(), a.ID, sess, []string{"pwd"})
	if err != nil {
		p.cfg.RenderError(w, r, http.StatusGone, err)
		return
	}
	p.clearPending(w)
	p.redirect(w, r, a, url.Values{"code": {code}})
}

// redirect answers to the request's redirect URI (registered: checked when the request was
// made) with params, state and iss.
func (p *Provider) redirect(w http.ResponseWriter, r *http.Request, a *kiltoidc.AuthRequest, params url.Values) {
	u, err := url.Parse(a.RedirectURI)
	if err != nil {
		p.cfg.RenderError(w, r, http.StatusBadRequest, kilt.E(kilt.KindInvalid, kiltoidc.CodeRedirectURI))
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if a.State != "" {
		q.Set("state", a.State)
	}
	q.Set("iss", p.base)
	u.RawQuery = q.Encode()
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, a *kiltoidc.AuthRequest, code string) {
	p.clearPending(w)
	p.redirect(w, r, a, url.Values{"error": {code}})
}

// ---- consent ----

// Consent reports what the pending authorization asks the signed-in citizen to grant.
func (p *Provider) Consent(r *http.Request) (string, []string, bool) {
	a := p.pending(r)
	if a == nil {
		return "", nil, false
	}
	c, err := p.svc.Client(r.Context(), a.ClientID)
	if err != nil {
		return "", nil, false
	}
	return c.Name, a.Scopes, true
}

// Decide answers the pending authorization with the citizen's decision: access_denied to
// the application, or the consent kept (once per client and scope set) and a code.
func (p *Provider) Decide(w http.ResponseWriter, r *http.Request, allow bool) {
	a := p.pending(r)
	if a == nil {
		p.cfg.RenderError(w, r, http.StatusGone, kilt.E(kilt.KindGone, kiltoidc.CodeAuthorizationGone))
		return
	}
	sess, err := p.cfg.Session(r)
	if err != nil {
		p.cfg.RenderError(w, r, http.StatusServiceUnavailable, err)
		return
	}
	if sess == nil || !p.svc.SessionSatisfies(a, sess) {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if !allow {
		p.redirectError(w, r, a, "access_denied")
		return
	}
	if err := p.svc.GrantConsent(r.Context(), a, sess.AccountID); err != nil {
		p.cfg.RenderError(w, r, http.StatusServiceUnavailable, err)
		return
	}
	p.complete(w, r, a, sess)
}

// Connected lists the account's connected applications.
func (p *Provider) Connected(ctx context.Context, accountID int64) ([]web.ConnectedApp, error) {
	cs, err := p.svc.ConnectedClients(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]web.ConnectedApp, len(cs))
	for i, c := range cs {
		out[i] = web.ConnectedApp{ClientID: c.ClientID, Name: c.Name}
	}
	return out, nil
}

// Disconnect revokes the account's tokens and consent for the client.
func (p *Provider) Disconnect(ctx context.Context, accountID int64, clientID string) error {
	return p.svc.Disconnect(ctx, accountID, clientID)
}

// ---- end of a session ----

type browserSessionKey struct{}

// endSessionEndpoint is op's end_session with the browser's session in the context.
func (p *Provider) endSessionEndpoint(w http.ResponseWriter, r *http.Request) {
	sess, err := p.cfg.Session(r)
	if err != nil {
		p.cfg.RenderError(w, r, http.StatusServiceUnavailable, err)
		return
	}
	if !p.postLogoutAllowed(w, r) {
		return
	}
	if sess == nil && r.Method == http.MethodPost {
		// An application's page on another site posts without Kilt's session cookie
		// (SameSite=Lax): the same request as a GET, which a browser sends with it, can see
		// the session it is meant to end. (postLogoutAllowed parsed the form.)
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, pathEndSession+"?"+r.Form.Encode(), http.StatusSeeOther)
		return
	}
	ctx := r.Context()
	if sess != nil {
		ctx = context.WithValue(ctx, browserSessionKey{}, sess)
	}
	p.op.ServeHTTP(w, r.WithContext(ctx))
}

// postLogoutAllowed checks the request's post_logout_redirect_uri with Kilt's rule
// (oidc.Client.PostLogoutAllowed: byte for byte, a public client's loopback port aside) for
// the client named by client_id or by the hint's azp, before op, whose own check ignores the
// scheme and host among a native client's loopback URIs. An unknown client or an
// unregistered URI gets the error page (never a redirect) and reports false. A hint that does
// not verify is left to op, which refuses it.
func (p *Provider) postLogoutAllowed(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		p.cfg.RenderError(w, r, http.StatusBadRequest, kilt.E(kilt.KindInvalid, kiltoidc.CodeInvalidRequest))
		return false
	}
	uri := r.Form.Get("post_logout_redirect_uri")
	if uri == "" {
		return true
	}
	clientID := r.Form.Get("client_id")
	if hint := r.Form.Get("id_token_hint"); hint != "" && clientID == "" {
		ctx := op.ContextWithIssuer(r.Context(), p.base)
		claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, hint, p.op.IDTokenHintVerifier(ctx))
		if err != nil && !errors.As(err, &op.IDTokenHintExpiredError{}) {
			return true
		}
		clientID = claims.GetAuthorizedParty()
	}
	if clientID == "" {
		return true // op redirects nowhere but Kilt's own page without a client
	}
	c, err := p.svc.Client(r.Context(), clientID)
	if kilt.ErrorKind(err) == kilt.KindNotFound {
		p.cfg.RenderError(w, r, http.StatusBadRequest, kilt.E(kilt.KindInvalid, kiltoidc.CodeUnknownClient))
		return false
	}
	if err != nil {
		p.cfg.RenderError(w, r, http.StatusServiceUnavailable, err)
		return false
	}
	if !c.PostLogoutAllowed(uri) {
		p.cfg.RenderError(w, r, http.StatusBadRequest, kilt.E(kilt.KindInvalid, kiltoidc.CodeRedirectURI))
		return false
	}
	return true
}

func (p *Provider) endSession(ctx context.Context, sess *kiltoidc.Session) error {
	if p.cfg.EndSession == nil {
		return errors.New("oidcop: no EndSession")
	}
	return p.cfg.EndSession(ctx, sess)
}
