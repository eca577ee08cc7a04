// Package oidcop puts Kilt's provider domain (internal/oidc) behind zitadel/oidc's op package:
// op parses the protocol, signs and verifies JWTs and serves discovery; this package
// implements its Storage by calling the domain, and adds what op leaves to its user — the
// sign-in hand-off to Kilt's pages, codes of 32 random bytes, `iss` in every authorization
// response (RFC 9207) and the end of a session.
package oidcop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"kilt"
	kiltoidc "kilt/internal/oidc"
)

// storage implements op.Storage on the domain service.
type storage struct {
	svc *kiltoidc.Service
	p   *Provider
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

func oidcErr(err error) error {
	if err == nil {
		return nil
	}
	switch kilt.ErrorCode(err) {
	case kiltoidc.CodeInvalidGrant:
		return oidc.ErrInvalidGrant()
	case kiltoidc.CodeInvalidRequest:
		e, _ := kilt.AsError(err)
		return oidc.ErrInvalidRequest().WithDescription("%s", e.Message)
	case kiltoidc.CodeUnknownClient, kiltoidc.CodeInvalidClient:
		return oidc.ErrInvalidClient()
	case kiltoidc.CodeRedirectURI:
		return oidc.ErrInvalidRequestRedirectURI()
	}
	return err
}

// CreateAuthRequest keeps the pending authorization after the domain's checks: S256 PKCE
// for every client, scopes the client may have.
// hintSubject is the sub of the request's id_token_hint, which op verified ("" without one).
func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintSubject string) (op.AuthRequest, error) {
	if req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery {
		// Refused before op runs (checkClient); kept so that no other path stores one.
		return nil, oidc.ErrInvalidRequest().WithDescription("only response_mode=query is supported")
	}
	a := &kiltoidc.AuthRequest{ClientID: req.ClientID, RedirectURI: req.RedirectURI, Scopes: req.Scopes, State: req.State,
		Nonce: req.Nonce, CodeChallenge: req.CodeChallenge, Prompt: req.Prompt, MaxAge: -1, LoginHint: req.LoginHint,
		UILocales: req.UILocales.String(), HintSubject: hintSubject}
	if req.MaxAge != nil {
		a.MaxAge = int64(*req.MaxAge)
	}
	if err := s.svc.NewAuthRequest(ctx, a, string(req.CodeChallengeMethod)); err != nil {
		return nil, oidcErr(err)
	}
	return &authRequest{a: a, svc: s.svc}, nil
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	a, err := s.svc.AuthRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	return &authRequest{a: a, svc: s.svc}, nil
}

// AuthRequestByCode finds the request a code answers; a code used before is refused and
// what it issued revoked.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	g, err := s.svc.Redeem(ctx, code)
	if err != nil {
		return nil, oidcErr(err)
	}
	return &authRequest{a: g.AuthRequest, grant: g, svc: s.svc}, nil
}

// SaveAuthCode is not used: Kilt answers authorizations itself (Provider.complete), with
// codes of its own.
func (s *storage) SaveAuthCode(context.Context, string, string) error {
	return errors.New("oidcop: codes are made by the domain")
}

// DeleteAuthRequest keeps the row: a code presented again must still find it to be refused
// and revoke what it issued. Expired rows are left to the store's cleanup.
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

func grantOf(req op.TokenRequest) (*kiltoidc.Grant, error) {
	switch r := req.(type) {
	case *authRequest:
		if r.grant != nil {
			return r.grant, nil
		}
	case *refreshRequest:
		return r.grant, nil
	}
	return nil, oidc.ErrInvalidGrant()
}

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	g, err := grantOf(req)
	if err != nil {
		return "", time.Time{}, err
	}
	is, err := s.svc.IssueTokens(ctx, g, false)
	if err != nil {
		return "", time.Time{}, oidcErr(err)
	}
	return is.Access, is.Expires, nil
}

func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, _ string) (string, string, time.Time, error) {
	g, err := grantOf(req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	is, err := s.svc.IssueTokens(ctx, g, true)
	if err != nil {
		return "", "", time.Time{}, oidcErr(err)
	}
	return is.Access, is.Refresh, is.Expires, nil
}

func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	g, err := s.svc.Refresh(ctx, token)
	if err != nil {
		return nil, op.ErrInvalidRefreshToken
	}
	return &refreshRequest{grant: g, subject: s.svc.Subject(g.AccountID)}, nil
}

// TerminateSession is replaced by TerminateSessionFromRequest.
func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

// TerminateSessionFromRequest ends the browser's Kilt session when the id_token_hint was
// issued for that very session (its sub and sid), and answers where to go: the registered
// post-logout URI op validated; without a hint, or with one of another session (an earlier,
// ended one of the same account, kept in an application's logs), Kilt's sign-out page, which
// asks (RP-Initiated Logout 1.0 §2: the OP MUST ask when the ID token "does not belong to the
// current OP session with the RP").
func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	if req.IDTokenHintClaims == nil {
		return s.p.base + "/logout", nil
	}
	if sess, ok := ctx.Value(browserSessionKey{}).(*kiltoidc.Session); ok {
		if s.svc.Subject(sess.AccountID) != req.UserID || req.IDTokenHintClaims.SessionID != sid(sess.ID) {
			return s.p.base + "/logout", nil
		}
		if err := s.p.endSession(ctx, sess); err != nil {
			return "", err
		}
	}
	if req.RedirectURI == "" {
		return s.p.base + "/login", nil
	}
	return req.RedirectURI, nil
}

// RevokeToken revokes an access token, or a refresh token with its whole grant, of the client;
// another client's token is left alone (RFC 7009 answers 200 anyway). op passes the token as
// presented: GetRefreshTokenInfo answers the refresh token itself as its "id", and
// opaqueTokens decodes an access token to itself.
func (s *storage) RevokeToken(ctx context.Context, token, _ string, clientID string) *oidc.Error {
	if err := s.svc.Revoke(ctx, token, clientID); err != nil {
		return oidc.ErrServerError()
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	t, err := s.svc.RefreshTokenInfo(ctx, clientID, token)
	if err != nil {
		return "", "", op.ErrInvalidRefreshToken
	}
	return s.svc.Subject(t.AccountID), token, nil
}

// signingKey is the active key for op. With count set, op signs through a counting
// wrapper of the private key (go-jose's cryptosigner: the same signature), so that
// oidc.Service.Signatures tells what a token response cost.
type signingKey struct {
	k     *kiltoidc.SigningKey
	count func()
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(k.k.Alg)
}
func (k signingKey) Key() any {
	if k.count == nil {
		return k.k.Private
	}
	return cryptosigner.Opaque(countingSigner{Signer: k.k.Private, count: k.count})
}
func (k signingKey) ID() string { return k.k.ID }

// countingSigner counts the signatures made with its key.
type countingSigner struct {
	crypto.Signer
	count func()
}

func (c countingSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	c.count()
	return c.Signer.Sign(r, digest, opts)
}

// publicKey is a published key for op's JWKS.
type publicKey struct{ k *kiltoidc.SigningKey }

func (k publicKey) ID() string                         { return k.k.ID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(k.k.Alg) }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return publicOf(k.k) }
func publicOf(k *kiltoidc.SigningKey) any {
	switch p := k.Private.Public().(type) {
	case *rsa.PublicKey:
		return p
	case *ecdsa.PublicKey:
		return p
	}
	return nil
}

func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	k, err := s.svc.SigningKey(ctx)
	if err != nil {
		return nil, err
	}
	return signingKey{k: k, count: s.svc.CountSignature}, nil
}

func (s *storage) SignatureAlgorithms(ctx context.Context) ([]jose.SignatureAlgorithm, error) {
	ks, err := s.svc.PublicKeys(ctx)
	if err != nil {
		return nil, err
	}
	algs := []jose.SignatureAlgorithm{jose.RS256}
	for _, k := range ks {
		if a := jose.SignatureAlgorithm(k.Alg); !slices.Contains(algs, a) {
			algs = append(algs, a)
		}
	}
	return algs, nil
}

func (s *storage) KeySet(ctx context.Context) ([]op.Key, error) {
	ks, err := s.svc.PublicKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, 0, len(ks))
	for _, k := range ks {
		out = append(out, publicKey{k})
	}
	return out, nil
}

func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.svc.Client(ctx, id)
	if err != nil {
		return nil, oidcErr(err)
	}
	return &client{c: c, base: s.p.base}, nil
}

func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	if err := s.svc.CheckSecret(ctx, id, secret); err != nil {
		return oidc.ErrInvalidClient()
	}
	return nil
}

// SetUserinfoFromScopes sets only the subject: the claims come from the request
// (SetUserinfoFromRequest), which names the account.
func (s *storage) SetUserinfoFromScopes(_ context.Context, ui *oidc.UserInfo, userID, _ string, _ []string) error {
	ui.Subject = userID
	return nil
}

// SetUserinfoFromRequest puts the scopes' claims and the session id (sid) in an ID token.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	var accountID, sessionID int64
	var acct *kiltoidc.Account
	switch r := req.(type) {
	case *authRequest:
		accountID, sessionID = r.a.AccountID, r.a.SessionID
		if r.grant != nil {
			acct = r.grant.Account
		}
	case *refreshRequest:
		accountID, sessionID, acct = r.grant.AccountID, r.grant.SessionID, r.grant.Account
	default:
		return nil
	}
	if acct == nil || acct.ID != accountID { // the grant's check read it already
		var err error
		if acct, err = s.svc.Account(ctx, accountID); err != nil {
			return err
		}
	}
	fillUserinfo(ui, s.svc.Subject(accountID), acct, scopes)
	ui.AppendClaims("sid", sid(sessionID))
	return nil
}

// sid is the session's id as the ID token's sid and the logout token's.
func sid(sessionID int64) string { return "s" + strconv.FormatInt(sessionID, 10) }

func fillUserinfo(ui *oidc.UserInfo, subject string, a *kiltoidc.Account, scopes []string) {
	ui.Subject = subject
	if slices.Contains(scopes, kiltoidc.ScopeEmail) && a.Email != "" {
		ui.Email, ui.EmailVerified = a.Email, oidc.Bool(a.EmailVerified)
	}
	if slices.Contains(scopes, kiltoidc.ScopePhone) && a.Phone != "" {
		ui.PhoneNumber, ui.PhoneNumberVerified = a.Phone, oidc.Bool(a.PhoneVerified)
	}
}

// SetUserinfoFromToken answers userinfo from the database: a revoked or expired token, an
// ended session, a locked account or a changed password gets access_denied (Provider.userinfo
// answers it as invalid_token); a failure of the database is returned as it is. tokenID is
// the access token itself (opaqueTokens); the subject comes from its row.
func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, _, _ string) error {
	l, err := s.svc.AccessToken(ctx, tokenID)
	if kilt.ErrorCode(err) == kiltoidc.CodeInvalidGrant {
		return oidc.ErrAccessDenied().WithDescription("token is not active")
	}
	if err != nil {
		return err
	}
	sub := s.svc.Subject(l.Account.ID)
	fillUserinfo(ui, sub, l.Account, l.Token.Scopes)
	return nil
}

// SetIntrospectionFromToken answers RFC 7662 from the database, to the client the token was
// issued to only.
func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, _, clientID string) error {
	l, err := s.svc.AccessToken(ctx, tokenID)
	if err != nil || l.Token.ClientID != clientID {
		// op answers {"active": false} on an error.
		return errors.New("oidcop: token is not active")
	}
	subject := s.svc.Subject(l.Account.ID)
	resp.Active = true
	resp.Scope = l.Token.Scopes
	resp.ClientID = l.Token.ClientID
	resp.TokenType = oidc.BearerToken
	resp.Expiration = oidc.FromTime(l.Token.ExpiresAt)
	resp.IssuedAt = oidc.FromTime(l.Token.CreatedAt)
	resp.AuthTime = oidc.FromTime(l.Token.AuthTime)
	resp.Subject = subject
	resp.Audience = []string{l.Token.ClientID}
	resp.Issuer = s.p.base
	resp.JWTID = l.Token.ID
	ui := new(oidc.UserInfo)
	fillUserinfo(ui, subject, l.Account, l.Token.Scopes)
	resp.SetUserInfo(ui)
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("oidcop: JWT profile not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("oidcop: JWT profile not supported")
}

func (s *storage) Health(context.Context) error { return nil }

// ---- requests ----

// authRequest is a pending authorization for op; grant is set when a code found it.
type authRequest struct {
	a     *kiltoidc.AuthRequest
	grant *kiltoidc.Grant
	svc   *kiltoidc.Service
}

func (r *authRequest) GetID() string          { return r.a.ID }
func (r *authRequest) GetACR() string         { return "" }
func (r *authRequest) GetAMR() []string       { return r.a.AMR }
func (r *authRequest) GetAudience() []string  { return []string{r.a.ClientID} }
func (r *authRequest) GetAuthTime() time.Time { return r.a.AuthTime }
func (r *authRequest) GetClientID() string    { return r.a.ClientID }
func (r *authRequest) GetNonce() string       { return r.a.Nonce }
func (r *authRequest) GetRedirectURI() string { return r.a.RedirectURI }
func (r *authRequest) GetScopes() []string    { return r.a.Scopes }
func (r *authRequest) GetState() string       { return r.a.State }
func (r *authRequest) Done() bool             { return r.a.Done }
func (r *authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseTypeCode
}
func (r *authRequest) GetResponseMode() oidc.ResponseMode { return oidc.ResponseModeQuery }
func (r *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	return &oidc.CodeChallenge{Challenge: r.a.CodeChallenge, Method: oidc.CodeChallengeMethodS256}
}
func (r *authRequest) GetSubject() string {
	if r.a.AccountID == 0 {
		return ""
	}
	return r.svc.Subject(r.a.AccountID)
}

// refreshRequest is a refresh token's grant for op. GetScopes answers the scopes of this
// response (its access token, its ID token's claims, its "scope"), narrowed by the request
// if it asked for fewer; the rotated refresh token keeps the grant's (oidc.Grant.Narrow).
type refreshRequest struct {
	grant   *kiltoidc.Grant
	subject string
}

func (r *refreshRequest) GetAMR() []string       { return r.grant.AMR }
func (r *refreshRequest) GetAudience() []string  { return []string{r.grant.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time { return r.grant.AuthTime }
func (r *refreshRequest) GetClientID() string    { return r.grant.ClientID }
func (r *refreshRequest) GetScopes() []string    { return r.grant.TokenScopes() }
func (r *refreshRequest) GetSubject() string     { return r.subject }
func (r *refreshRequest) SetCurrentScopes(s []string) {
	// This response only: never the grant's scopes, which the new refresh token keeps.
	r.grant.Narrow(s)
}

// ---- clients ----

type client struct {
	c    *kiltoidc.Client
	base string
}

func (c *client) GetID() string                    { return c.c.ID }
func (c *client) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.c.PostLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType {
	if c.c.Public {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(id string) string           { return c.base + "/oauth/login?id=" + id }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return kiltoidc.IDTokenLifetime }
func (c *client) DevMode() bool                       { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(scope string) bool     { return slices.Contains(c.c.Scopes, scope) }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }

// ---- access tokens ----

// opaqueTokens is op's Crypto for Kilt's access tokens, which are opaque: 32 random bytes
// made by the domain (oidc.Service.IssueTokens), only their SHA-256 kept, looked up by
// userinfo, introspection and revocation. op makes a bearer token by "encrypting"
// "id:subject"; here the token is the id itself (nothing to sign, nothing to decrypt: one
// signature a token response, the ID token's), and it decodes back to "token:" — the subject
// is read from the token's row. Anything else does not decode, and op then tries it as a JWT,
// which Kilt no longer issues as access tokens: refused.
type opaqueTokens struct{}

func (opaqueTokens) Encrypt(idSubject string) (string, error) {
	id, _, ok := strings.Cut(idSubject, ":")
	if !ok || !kilt.WellFormedToken(id) {
		return "", errors.New("oidcop: an access token id is not a token")
	}
	return id, nil
}

func (opaqueTokens) Decrypt(token string) (string, error) {
	if !kilt.WellFormedToken(token) {
		return "", errors.New("oidcop: not an access token")
	}
	return token + ":", nil
}
