package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"kilt"
	"kilt/internal/outbox"
)

// Config is what the provider needs beyond its store.
type Config struct {
	// Secret is the server secret: the subject key and the key sealing signing keys derive
	// from it.
	Secret []byte
	// SessionIdle and SessionLifetime are the session lifetimes (a refresh token dies with
	// its session).
	SessionIdle     time.Duration
	SessionLifetime time.Duration
	// Alg is the signing algorithm of new keys: RS256 (default) or ES256.
	Alg string
	// LogoutToken, when set, signs a logout token (Back-Channel Logout 1.0) for a client
	// with a back-channel logout URI that had tokens from an ended session, issued at now
	// (the service's clock) and expiring LogoutTokenLifetime later. It is given the active
	// signing key.
	LogoutToken func(key *SigningKey, c *Client, subject string, sessionID int64, now time.Time) (string, error)
}

// Service applies the provider's rules.
type Service struct {
	store      Store
	clock      kilt.Clock
	cfg        Config
	subjectKey []byte
	sealKey    []byte
	keys       *keyCache
	clients    *clientCache
}

// NewService returns the provider's domain service.
func NewService(store Store, clock kilt.Clock, cfg Config) *Service {
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 30 * time.Minute
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 12 * time.Hour
	}
	if cfg.Alg == "" {
		cfg.Alg = AlgRS256
	}
	return &Service{store: store, clock: clock, cfg: cfg,
		subjectKey: kilt.DeriveKey(cfg.Secret, "oidc-subject"),
		sealKey:    kilt.DeriveKey(cfg.Secret, "oidc-signing-keys"),
		keys:       newKeyCache(), clients: newClientCache()}
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.clock() }

// Subject is the account's `sub`: a keyed hash of its id, stable, opaque, never its e-mail
// or phone, and not a counter another client could enumerate.
func (s *Service) Subject(accountID int64) string {
	m := hmac.New(sha256.New, s.subjectKey)
	m.Write([]byte(strconv.FormatInt(accountID, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// ---- clients ----

// NewClient is what the operator registers.
type NewClient struct {
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	BackchannelLogoutURI   string
	Scopes                 []string
	Public                 bool
	FirstParty             bool
	// ID, when set, is the client id to use (the --dev demo client); else a random one.
	ID string
	// Secret, when set for a confidential client, is its secret (the --dev demo client).
	Secret string
}

func invalidClient(format string, args ...any) error {
	return kilt.Errorf(kilt.KindInvalid, CodeInvalidClientInput, format, args...)
}

// AddClient registers a client and returns it with its secret (confidential clients only),
// shown once: only its hash is kept.
func (s *Service) AddClient(ctx context.Context, n NewClient) (*Client, string, error) {
	c := &Client{ID: n.ID, Name: strings.TrimSpace(n.Name), RedirectURIs: n.RedirectURIs,
		PostLogoutRedirectURIs: n.PostLogoutRedirectURIs, BackchannelLogoutURI: n.BackchannelLogoutURI,
		Public: n.Public, FirstParty: n.FirstParty, CreatedAt: s.clock()}
	if c.Name == "" || len(c.Name) > 100 {
		return nil, "", invalidClient("a client needs a name of 1 to 100 bytes")
	}
	if len(c.RedirectURIs) == 0 {
		return nil, "", invalidClient("a client needs at least one redirect URI")
	}
	for _, u := range c.RedirectURIs {
		if err := checkRedirectURI(u, n.Public); err != nil {
			return nil, "", err
		}
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if err := checkRedirectURI(u, n.Public); err != nil {
			return nil, "", err
		}
	}
	if c.BackchannelLogoutURI != "" {
		if err := checkRedirectURI(c.BackchannelLogoutURI, false); err != nil {
			return nil, "", err
		}
	}
	scopes := n.Scopes
	if len(scopes) == 0 {
		scopes = KnownScopes
	}
	for _, sc := range scopes {
		if !slices.Contains(KnownScopes, sc) {
			return nil, "", invalidClient("unknown scope %q (known: %s)", sc, strings.Join(KnownScopes, ", "))
		}
	}
	if !slices.Contains(scopes, ScopeOpenID) {
		scopes = append([]string{ScopeOpenID}, scopes...)
	}
	c.Scopes = dedupe(scopes)
	if c.ID == "" {
		id, err := kilt.NewID()
		if err != nil {
			return nil, "", err
		}
		c.ID = id
	}
	var secret string
	if !c.Public {
		secret = n.Secret
		if secret == "" {
			t, _, err := kilt.NewToken()
			if err != nil {
				return nil, "", err
			}
			secret = t
		}
		c.SecretHash = kilt.HashToken(secret)
	}
	err := s.store.InTx(ctx, func(tx Tx) error { return tx.InsertClient(ctx, c) })
	s.clients.forget(c.ID)
	if errors.Is(err, ErrConflict) {
		return nil, "", kilt.Errorf(kilt.KindConflict, CodeInvalidClientInput, "a client %q exists already", c.ID)
	}
	if err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// checkRedirectURI accepts an absolute URI without fragment: https, http on a loopback host,
// or (public native clients) a private-use scheme (RFC 8252).
func checkRedirectURI(raw string, public bool) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Fragment != "" || strings.ContainsAny(raw, "# \t\r\n") {
		return invalidClient("%q is not an absolute URI without fragment", raw)
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case public && u.Scheme != "http" && u.Scheme != "https" && strings.Contains(u.Scheme, "."):
	default:
		return invalidClient("%q: want https, http on a loopback host, or (public clients) a reverse-domain scheme", raw)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// ClientCacheTTL is how long a client read from the database answers without being read
// again (Client, CheckSecret): every token request, introspection and revocation looks its
// client up, once or twice. A change made through this service (AddClient, RemoveClient,
// RotateSecret) is seen at once by this process; one made by another process (the `kilt
// client` command, another instance) within ClientCacheTTL, since the entry expires.
const ClientCacheTTL = 2 * time.Second

// clientCache keeps clients read from the database for ClientCacheTTL. Its entries are
// shared and never changed: callers must not change a *Client they are given.
type clientCache struct {
	mu sync.Mutex
	m  map[string]cachedClient
}

type cachedClient struct {
	c  *Client
	at time.Time
}

func newClientCache() *clientCache { return &clientCache{m: map[string]cachedClient{}} }

func (cc *clientCache) get(id string, now time.Time) *Client {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e, ok := cc.m[id]
	if !ok || now.Sub(e.at) >= ClientCacheTTL || now.Before(e.at) {
		return nil
	}
	return e.c
}

func (cc *clientCache) put(c *Client, now time.Time) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if len(cc.m) >= 1000 { // clients are registered by hand: a bound, not an eviction policy
		clear(cc.m)
	}
	cc.m[c.ID] = cachedClient{c: c, at: now}
}

func (cc *clientCache) forget(id string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	delete(cc.m, id)
}

// Client returns a registered client: from the cache while fresh (ClientCacheTTL), else read
// outside any transaction.
func (s *Service) Client(ctx context.Context, id string) (*Client, error) {
	now := s.clock()
	if c := s.clients.get(id, now); c != nil {
		return c, nil
	}
	c, err := s.store.ReadClient(ctx, id)
	if errors.Is(err, kilt.ErrNotFound) {
		return nil, errUnknownClient
	}
	if err != nil {
		return nil, err
	}
	s.clients.put(c, now)
	return c, nil
}

// Clients lists the registered clients.
func (s *Service) Clients(ctx context.Context) ([]Client, error) {
	var cs []Client
	err := s.store.InTx(ctx, func(tx Tx) (err error) { cs, err = tx.Clients(ctx); return err })
	return cs, err
}

// RemoveClient deletes a client; its tokens, codes and consents go with it.
func (s *Service) RemoveClient(ctx context.Context, id string) error {
	err := s.store.InTx(ctx, func(tx Tx) error { return tx.DeleteClient(ctx, id) })
	s.clients.forget(id)
	if errors.Is(err, kilt.ErrNotFound) {
		return errUnknownClient
	}
	return err
}

// RotateSecret gives a confidential client a new secret, shown once; the old one stops
// working at once.
func (s *Service) RotateSecret(ctx context.Context, id string) (string, error) {
	secret, hash, err := kilt.NewToken()
	if err != nil {
		return "", err
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		c, err := tx.Client(ctx, id)
		if err != nil {
			return err
		}
		if c.Public {
			return invalidClient("client %s is public: it has no secret", id)
		}
		return tx.SetClientSecret(ctx, id, hash)
	})
	s.clients.forget(id)
	if errors.Is(err, kilt.ErrNotFound) {
		return "", errUnknownClient
	}
	return secret, err
}

// CheckSecret reports whether secret is the confidential client's: the SHA-256 of the
// secret compared in constant time with the client's (cached for ClientCacheTTL, see Client).
func (s *Service) CheckSecret(ctx context.Context, clientID, secret string) error {
	c, err := s.Client(ctx, clientID)
	if err != nil {
		return kilt.E(kilt.KindUnauthorized, CodeInvalidClient)
	}
	if c.Public || len(c.SecretHash) == 0 ||
		subtle.ConstantTimeCompare(kilt.HashToken(secret), c.SecretHash) != 1 {
		return kilt.E(kilt.KindUnauthorized, CodeInvalidClient)
	}
	return nil
}

// RedirectAllowed reports whether uri is one of the client's redirect URIs byte for byte;
// for a public client a loopback http URI may differ in its port only (RFC 8252, 7.3).
func (c *Client) RedirectAllowed(uri string) bool {
	return matchURI(c.RedirectURIs, uri, c.Public)
}

// PostLogoutAllowed is RedirectAllowed for post-logout redirect URIs.
func (c *Client) PostLogoutAllowed(uri string) bool {
	return matchURI(c.PostLogoutRedirectURIs, uri, c.Public)
}

func matchURI(registered []string, uri string, public bool) bool {
	if slices.Contains(registered, uri) {
		return true
	}
	if !public {
		return false
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || u.Hostname() == "localhost" || !isLoopback(u.Hostname()) {
		return false
	}
	for _, r := range registered {
		ru, err := url.Parse(r)
		if err != nil || ru.Scheme != "http" || !isLoopback(ru.Hostname()) {
			continue
		}
		// Everything but the port, byte for byte.
		if ru.Hostname() == u.Hostname() && withoutPort(r, ru) == withoutPort(uri, u) {
			return true
		}
	}
	return false
}

// withoutPort is raw with its port removed from the authority.
func withoutPort(raw string, u *url.URL) string {
	if u.Port() == "" {
		return raw
	}
	return strings.Replace(raw, u.Host, u.Hostname(), 1)
}

// ---- pending authorizations ----

// NewAuthRequest keeps a pending authorization after checking its client, redirect URI,
// PKCE challenge and scopes. The redirect URI was checked by the caller before any error is
// redirected to it; this checks again.
func (s *Service) NewAuthRequest(ctx context.Context, a *AuthRequest, method string) error {
	id, err := kilt.NewID()
	if err != nil {
		return err
	}
	now := s.clock()
	a.ID, a.CreatedAt, a.ExpiresAt = id, now, now.Add(AuthRequestLifetime)
	return s.store.InTx(ctx, func(tx Tx) error {
		c, err := tx.Client(ctx, a.ClientID)
		if errors.Is(err, kilt.ErrNotFound) {
			return errUnknownClient
		}
		if err != nil {
			return err
		}
		if !c.RedirectAllowed(a.RedirectURI) {
			return kilt.E(kilt.KindInvalid, CodeRedirectURI)
		}
		// PKCE with S256 for every client (OAuth 2.1): a code without its verifier is
		// worthless to whoever intercepts it; plain would hand the verifier to that party.
		if a.CodeChallenge == "" || method != "S256" {
			return kilt.Errorf(kilt.KindInvalid, CodeInvalidRequest, "code_challenge with code_challenge_method=S256 required")
		}
		if len(a.CodeChallenge) != 43 {
			return kilt.Errorf(kilt.KindInvalid, CodeInvalidRequest, "code_challenge must be a base64url SHA-256")
		}
		var scopes []string
		for _, sc := range a.Scopes {
			if slices.Contains(c.Scopes, sc) && !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
		if !slices.Contains(scopes, ScopeOpenID) {
			return kilt.Errorf(kilt.KindInvalid, CodeInvalidRequest, "scope openid required")
		}
		a.Scopes = scopes
		return tx.InsertAuthRequest(ctx, a)
	})
}

// AuthRequest returns a live pending authorization.
func (s *Service) AuthRequest(ctx context.Context, id string) (*AuthRequest, error) {
	if !kilt.WellFormedID(id) {
		return nil, errGone
	}
	var a *AuthRequest
	err := s.store.InTx(ctx, func(tx Tx) (err error) { a, err = tx.AuthRequest(ctx, id); return err })
	if errors.Is(err, kilt.ErrNotFound) {
		return nil, errGone
	}
	if err != nil {
		return nil, err
	}
	if !s.clock().Before(a.ExpiresAt) {
		return nil, errGone
	}
	return a, nil
}

// SessionSatisfies reports whether the session may answer the request without a new
// sign-in: not when prompt=login asked for one (unless the session began after the
// request), nor when it is older than max_age, nor when it is another account's than the
// id_token_hint's (hintAllows).
func (s *Service) SessionSatisfies(a *AuthRequest, sess *Session) bool {
	fresh := !sess.CreatedAt.Before(a.CreatedAt)
	if slices.Contains(a.Prompt, "login") && !fresh {
		return false
	}
	if a.MaxAge >= 0 && s.clock().Sub(sess.CreatedAt) > time.Duration(a.MaxAge)*time.Second && !fresh {
		return false
	}
	return s.hintAllows(a, sess)
}

// NeedsConsent reports whether the account must consent before the client gets the
// request's scopes: never for a first-party client; for others once per client and scope
// set, or whenever prompt=consent asks.
func (s *Service) NeedsConsent(ctx context.Context, a *AuthRequest, accountID int64) (bool, *Client, error) {
	c, err := s.Client(ctx, a.ClientID)
	if err != nil {
		return false, nil, err
	}
	if c.FirstParty {
		return false, c, nil
	}
	if slices.Contains(a.Prompt, "consent") {
		return true, c, nil
	}
	var g *Consent
	err = s.store.InTx(ctx, func(tx Tx) (err error) { g, err = tx.Consent(ctx, accountID, c.ID); return err })
	if errors.Is(err, kilt.ErrNotFound) {
		return true, c, nil
	}
	if err != nil {
		return false, nil, err
	}
	for _, sc := range a.Scopes {
		if !slices.Contains(g.Scopes, sc) {
			return true, c, nil
		}
	}
	return false, c, nil
}

// GrantConsent records the account's consent to the request's scopes for its client.
func (s *Service) GrantConsent(ctx context.Context, a *AuthRequest, accountID int64) error {
	return s.store.InTx(ctx, func(tx Tx) error {
		return tx.PutConsent(ctx, &Consent{AccountID: accountID, ClientID: a.ClientID, Scopes: a.Scopes, GrantedAt: s.clock()})
	})
}

// Complete answers the pending authorization for the signed-in session: it records who
// signed in and returns a fresh code (32 random bytes, only its SHA-256 kept, CodeLifetime,
// single use). The request's client, redirect URI, challenge and nonce are bound to the code
// through the request row.
func (s *Service) Complete(ctx context.Context, authReqID string, sess *Session, amr []string) (*AuthRequest, string, error) {
	code, hash, err := kilt.NewToken()
	if err != nil {
		return nil, "", err
	}
	var a *AuthRequest
	err = s.store.InTx(ctx, func(tx Tx) error {
		if a, err = tx.AuthRequest(ctx, authReqID); err != nil {
			return err
		}
		now := s.clock()
		if !now.Before(a.ExpiresAt) || a.Done {
			return errGone
		}
		// AuthTime is the session's sign-in (the ID token's auth_time); the code's own issue
		// (CreatedAt) is what its liveness is judged by.
		a.AccountID, a.SessionID, a.AuthTime, a.AMR, a.Done = sess.AccountID, sess.ID, sess.CreatedAt, amr, true
		if err := tx.UpdateAuthRequest(ctx, a); err != nil {
			return err
		}
		return tx.InsertCode(ctx, &Code{Hash: hash, AuthRequestID: a.ID, CreatedAt: now, ExpiresAt: now.Add(CodeLifetime)})
	})
	if errors.Is(err, kilt.ErrNotFound) {
		return nil, "", errGone
	}
	if err != nil {
		return nil, "", err
	}
	return a, code, nil
}

// ---- codes and tokens ----

// Grant is what a token request is about: the signed-in account, its session, the client
// and scopes. It comes from a code (CodeHash set) or a refresh token (Refresh set).
type Grant struct {
	AuthRequest *AuthRequest
	CodeHash    []byte
	Refresh     *Token
	ClientID    string
	AccountID   int64
	SessionID   int64
	// Scopes are the grant's: the code's request's, or the refresh token's, which its
	// rotation keeps (RFC 6749 §6).
	Scopes []string
	// AccessScopes, when set (Narrow), are the scopes of this response's access token and
	// ID token: fewer than the grant's.
	AccessScopes []string
	AuthTime     time.Time
	AMR          []string
	Nonce        string
	// Account is the account as read when the grant was checked (the ID token's claims).
	Account *Account
}

// Narrow limits this response's access token (and its ID token's claims) to scopes, those
// of the grant among them: a refresh may ask for fewer, never more. The rotated refresh
// token keeps the grant's scopes: RFC 6749 §6 asks that they be identical to those of the
// refresh token presented, so that asking for less once does not lose the rest for good.
func (g *Grant) Narrow(scopes []string) {
	kept := []string{}
	for _, sc := range scopes {
		if slices.Contains(g.Scopes, sc) && !slices.Contains(kept, sc) {
			kept = append(kept, sc)
		}
	}
	g.AccessScopes = kept
}

// TokenScopes are the scopes of this response's access token and ID token: the grant's
// unless narrowed.
func (g *Grant) TokenScopes() []string {
	if g.AccessScopes != nil {
		return g.AccessScopes
	}
	return g.Scopes
}

// Redeem looks up a code for the token endpoint. A code already used is refused and every
// token issued from it revoked (RFC 6749, 4.1.2: the code has leaked). The client, redirect
// URI and PKCE verifier are checked by the caller before IssueTokens consumes the code. The
// code, its request, account and session are read in one statement outside any
// transaction: IssueTokens' UPDATE … WHERE used_at IS NULL decides between two redemptions.
func (s *Service) Redeem(ctx context.Context, code string) (*Grant, error) {
	if !kilt.WellFormedToken(code) {
		return nil, errInvalidGrant
	}
	hash := kilt.HashToken(code)
	c, a, acct, sess, err := s.store.ReadCode(ctx, hash)
	if errors.Is(err, kilt.ErrNotFound) {
		return nil, errInvalidGrant
	}
	if err != nil {
		return nil, err
	}
	now := s.clock()
	if c.UsedAt != nil {
		// A reuse commits its revocation, then is refused.
		if err := s.revokeGrant(ctx, c.AuthRequestID, now); err != nil {
			return nil, err
		}
		return nil, errInvalidGrant
	}
	if !now.Before(c.ExpiresAt) {
		return nil, errInvalidGrant
	}
	// Judged by the code's issue: the session's sign-in (a.AuthTime) predates a password
	// change that kept the session, and would refuse every code it answers after.
	if err := s.live(acct, sess, a.AccountID, c.CreatedAt); err != nil {
		return nil, err
	}
	return &Grant{AuthRequest: a, CodeHash: hash, ClientID: a.ClientID, AccountID: a.AccountID, SessionID: a.SessionID,
		Scopes: a.Scopes, AuthTime: a.AuthTime, AMR: a.AMR, Nonce: a.Nonce, Account: acct}, nil
}

// live refuses a grant whose session ended, whose account is gone or locked, or whose
// password changed after issued, on what was read: errInvalidGrant unless the account is there,
// unlocked and its password unchanged since issued, and the session is there, the account's,
// and neither expired nor idle.
func (s *Service) live(acct *Account, sess *Session, accountID int64, issued time.Time) error {
	if acct == nil || acct.ID != accountID || acct.Locked || acct.PasswordChangedAt.After(issued) || sess == nil {
		return errInvalidGrant
	}
	now := s.clock()
	if sess.AccountID != accountID || !now.Before(sess.ExpiresAt) || !now.Before(sess.LastSeenAt.Add(s.cfg.SessionIdle)) {
		return errInvalidGrant
	}
	return nil
}

// Refresh looks up a refresh token for the token endpoint. A rotated one presented again
// revokes its whole grant, access tokens included (the token was stolen, or its owner's copy
// was). The token, its
// account and its session are read in one statement outside any transaction: IssueTokens'
// rotation (UPDATE … WHERE rotated_at IS NULL AND revoked_at IS NULL) decides between two
// racing refreshes, and a revocation committed meanwhile (a sign-out, a password change)
// makes that rotation fail too.
func (s *Service) Refresh(ctx context.Context, token string) (*Grant, error) {
	if !kilt.WellFormedToken(token) {
		return nil, errInvalidGrant
	}
	t, acct, sess, err := s.store.ReadToken(ctx, kilt.HashToken(token))
	if errors.Is(err, kilt.ErrNotFound) {
		return nil, errInvalidGrant
	}
	if err != nil {
		return nil, err
	}
	now := s.clock()
	if t.Kind != KindRefresh || t.RevokedAt != nil || !now.Before(t.ExpiresAt) {
		return nil, errInvalidGrant
	}
	if t.RotatedAt != nil {
		// A reuse commits its revocation, then is refused.
		if err := s.revokeGrant(ctx, t.AuthRequestID, now); err != nil {
			return nil, err
		}
		return nil, errInvalidGrant
	}
	if err := s.live(acct, sess, t.AccountID, t.CreatedAt); err != nil {
		return nil, err
	}
	return &Grant{Refresh: t, ClientID: t.ClientID, AccountID: t.AccountID, SessionID: t.SessionID,
		Scopes: t.Scopes, AuthTime: t.AuthTime, AMR: t.AMR, Account: acct}, nil
}

// Issued is what IssueTokens made: the access token (opaque: 32 random bytes, only its
// SHA-256 kept) and its expiry, and a refresh token when one was asked for.
type Issued struct {
	Access    string
	Expires   time.Time
	Refresh   string
	AccountID int64
}

// IssueTokens consumes the grant (the code, once; the refresh token, rotated) and records a
// new access token, and a refresh token when withRefresh, in one call of the store
// (Store.IssueTokens: on PostgreSQL one statement). Two redemptions racing: one consumes,
// the other is refused and revokes the whole grant, what the first issued included.
func (s *Service) IssueTokens(ctx context.Context, g *Grant, withRefresh bool) (*Issued, error) {
	accessID, err := kilt.NewID()
	if err != nil {
		return nil, err
	}
	access, accessHash, err := kilt.NewToken()
	if err != nil {
		return nil, err
	}
	now := s.clock()
	var r Redemption
	authReqID, family := "", ""
	switch {
	case g.CodeHash != nil:
		r.CodeHash, authReqID = g.CodeHash, g.AuthRequest.ID
	case g.Refresh != nil:
		r.RefreshID, authReqID, family = g.Refresh.ID, g.Refresh.AuthRequestID, g.Refresh.Family
	default:
		return nil, errInvalidGrant
	}
	out := &Issued{Access: access, Expires: now.Add(AccessTokenLifetime), AccountID: g.AccountID}
	base := Token{AuthRequestID: authReqID, ClientID: g.ClientID, AccountID: g.AccountID, SessionID: g.SessionID,
		Scopes: g.Scopes, AuthTime: g.AuthTime, AMR: g.AMR, CreatedAt: now}
	at := base
	at.ID, at.Kind, at.Hash, at.ExpiresAt, at.Scopes = accessID, KindAccess, accessHash, out.Expires, g.TokenScopes()
	ts := []*Token{&at}
	if withRefresh {
		refresh, refreshHash, err := kilt.NewToken()
		if err != nil {
			return nil, err
		}
		rid, err := kilt.NewID()
		if err != nil {
			return nil, err
		}
		if family == "" {
			family = rid
		}
		rt := base
		rt.ID, rt.Kind, rt.Hash, rt.Family, rt.ExpiresAt = rid, KindRefresh, refreshHash, family, now.Add(RefreshTokenLifetime)
		ts, out.Refresh = append(ts, &rt), refresh
	}
	issued, err := s.store.IssueTokens(ctx, r, now, ts...)
	if err != nil {
		return nil, err
	}
	if !issued {
		// Lost a race with another redemption: the code or the refresh token leaked.
		if err := s.revokeGrant(ctx, authReqID, now); err != nil {
			return nil, err
		}
		return nil, errInvalidGrant
	}
	return out, nil
}

// revokeGrant revokes every token of one grant (the code's authorization request): its
// access tokens and each rotation of its refresh token. A code or a refresh token presented
// twice has leaked, and so may anything issued from it: RFC 6749 4.1.2 for codes, RFC 9700
// 4.14.2 for refresh tokens, and RFC 7009 2.1 asks the same when a refresh token is revoked.
func (s *Service) revokeGrant(ctx context.Context, authReqID string, now time.Time) error {
	return s.store.InTx(ctx, func(tx Tx) error {
		_, err := tx.RevokeTokens(ctx, TokenFilter{AuthRequestID: authReqID}, now)
		return err
	})
}

// Live is a live access token with its account, for userinfo and introspection.
type Live struct {
	Token   *Token
	Account *Account
}

// AccessToken returns a live access token: not revoked, not expired, its session alive, its
// account neither locked nor with a password changed since. Read from the database on every
// call (one statement, outside any transaction, so on SQLite it never queues behind the
// writers), so a revocation committed before it is seen at once.
func (s *Service) AccessToken(ctx context.Context, token string) (*Live, error) {
	if !kilt.WellFormedToken(token) {
		return nil, errInvalidGrant
	}
	t, acct, sess, err := s.store.ReadToken(ctx, kilt.HashToken(token))
	if errors.Is(err, kilt.ErrNotFound) {
		return nil, errInvalidGrant
	}
	if err != nil {
		return nil, err
	}
	if t.Kind != KindAccess || t.RevokedAt != nil || !s.clock().Before(t.ExpiresAt) {
		return nil, errInvalidGrant
	}
	if err := s.live(acct, sess, t.AccountID, t.CreatedAt); err != nil {
		return nil, err
	}
	return &Live{Token: t, Account: acct}, nil
}

// RefreshTokenInfo returns the refresh token's row if the client owns it.
func (s *Service) RefreshTokenInfo(ctx context.Context, clientID, token string) (*Token, error) {
	if !kilt.WellFormedToken(token) {
		return nil, errInvalidGrant
	}
	t, _, _, err := s.store.ReadToken(ctx, kilt.HashToken(token))
	if err != nil || t.ClientID != clientID || t.Kind != KindRefresh {
		return nil, errInvalidGrant
	}
	return t, nil
}

// RevokeToken revokes one token of the client (RFC 7009): a refresh token with its whole
// grant (its rotations and the access tokens issued with them, RFC 7009 2.1), an access
// token alone. Another client's token is left alone.
func (s *Service) RevokeToken(ctx context.Context, t *Token, clientID string) error {
	if t.ClientID != clientID {
		return nil
	}
	if t.Kind == KindRefresh {
		return s.revokeGrant(ctx, t.AuthRequestID, s.clock())
	}
	return s.store.InTx(ctx, func(tx Tx) error {
		_, err := tx.RevokeTokens(ctx, TokenFilter{ID: t.ID}, s.clock())
		return err
	})
}

// Revoke revokes the client's token (an access or a refresh token, as presented); anything
// else, another client's token included, is left alone (RFC 7009 answers 200 anyway).
func (s *Service) Revoke(ctx context.Context, token, clientID string) error {
	if !kilt.WellFormedToken(token) {
		return nil
	}
	t, _, _, err := s.store.ReadToken(ctx, kilt.HashToken(token))
	if errors.Is(err, kilt.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.RevokeToken(ctx, t, clientID)
}

// LogoutTx is what the end of a session needs of the provider, in the transaction of the
// session domain that ends it (session.EndTx embeds it): every end of a session, whoever
// asks for it, goes through SessionsEnded.
type LogoutTx interface {
	// SessionClients lists the clients that had tokens from the session.
	SessionClients(ctx context.Context, sessionID int64) ([]string, error)
	Client(ctx context.Context, id string) (*Client, error)
	// RevokeTokens is Tx.RevokeTokens: the codes not yet redeemed of what it selects too.
	RevokeTokens(ctx context.Context, f TokenFilter, now time.Time) (int64, error)
	// Enqueue adds a message to the outbox in this transaction (back-channel logout).
	Enqueue(ctx context.Context, m *outbox.Message) error
}

// Back-channel logout messages carry these parameters; the logout token itself is signed
// when the message is sent (LogoutToken), so that no token sits in the outbox and every
// retry carries a fresh one.
const (
	ParamClientID  = "client_id"
	ParamSubject   = "sub"
	ParamSessionID = "session_id"
)

// SessionsEnded is told, in the transaction that ends them, that the account's sessions
// ended: it revokes every token issued under them, and kills their codes not yet redeemed —
// every token and code of the account when wholeAccount (a password change or reset,
// sign-out everywhere, a lock, a freeze, a deletion) — and queues a back-channel logout message (Back-Channel Logout 1.0) for each
// client with a back-channel logout URI that had one of the sessions, sent through the outbox
// with its retries. A removed client is told nothing.
func (s *Service) SessionsEnded(ctx context.Context, tx LogoutTx, accountID int64, sessionIDs []int64, wholeAccount bool) error {
	now := s.clock()
	if wholeAccount {
		if _, err := tx.RevokeTokens(ctx, TokenFilter{AccountID: accountID}, now); err != nil {
			return err
		}
	}
	sub := s.Subject(accountID)
	for _, id := range sessionIDs {
		if !wholeAccount {
			if _, err := tx.RevokeTokens(ctx, TokenFilter{SessionID: id}, now); err != nil {
				return err
			}
		}
		clients, err := tx.SessionClients(ctx, id)
		if err != nil {
			return err
		}
		for _, cid := range clients {
			c, err := tx.Client(ctx, cid)
			if errors.Is(err, kilt.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if c.BackchannelLogoutURI == "" {
				continue
			}
			m := &outbox.Message{Channel: outbox.Backchannel, Kind: outbox.BackchannelLogout, To: c.BackchannelLogoutURI,
				AccountID: accountID, CreatedAt: now, Params: map[string]string{
					ParamClientID: c.ID, ParamSubject: sub, ParamSessionID: strconv.FormatInt(id, 10)}}
			if err := tx.Enqueue(ctx, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// LogoutToken signs the logout token of a back-channel logout message (its Params) with the
// active key, for the outbox when it sends the message. A client removed meanwhile gets
// kilt.ErrNotFound.
func (s *Service) LogoutToken(ctx context.Context, params map[string]string) (string, error) {
	if s.cfg.LogoutToken == nil {
		return "", errors.New("oidc: no logout token signer")
	}
	sessionID, err := strconv.ParseInt(params[ParamSessionID], 10, 64)
	if err != nil || params[ParamSubject] == "" {
		return "", errors.New("oidc: a back-channel logout message without its session or subject")
	}
	c, err := s.Client(ctx, params[ParamClientID])
	if err != nil {
		return "", err
	}
	key, err := s.SigningKey(ctx)
	if err != nil {
		return "", err
	}
	return s.cfg.LogoutToken(key, c, params[ParamSubject], sessionID, s.clock())
}

// Connected is a client the account has granted: a consent or a live refresh token.
type Connected struct {
	ClientID string
	Name     string
}

// ConnectedClients lists the account's connected applications.
func (s *Service) ConnectedClients(ctx context.Context, accountID int64) ([]Connected, error) {
	var out []Connected
	err := s.store.InTx(ctx, func(tx Tx) error {
		ids, err := tx.ConnectedClients(ctx, accountID, s.clock())
		if err != nil {
			return err
		}
		for _, id := range ids {
			c, err := tx.Client(ctx, id)
			if errors.Is(err, kilt.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, Connected{ClientID: c.ID, Name: c.Name})
		}
		return nil
	})
	return out, err
}

// Disconnect revokes the account's tokens and consent for the client.
func (s *Service) Disconnect(ctx context.Context, accountID int64, clientID string) error {
	return s.store.InTx(ctx, func(tx Tx) error {
		if _, err := tx.RevokeTokens(ctx, TokenFilter{AccountID: accountID, ClientID: clientID}, s.clock()); err != nil {
			return err
		}
		err := tx.DeleteConsent(ctx, accountID, clientID)
		if errors.Is(err, kilt.ErrNotFound) {
			return nil
		}
		return err
	})
}

// Prune deletes what can no longer be used: tokens an hour after they expired and their
// session ended — until the session ends, its end must find every application it had, one
// that took only a 10-minute access token hours ago included, to send it its back-channel
// logout — and authorization requests (with their codes) once every token descending from
// them has expired — until then a replayed code must still find its request to revoke them.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	now := s.clock()
	var n int64
	err := s.store.InTx(ctx, func(tx Tx) (err error) {
		n, err = tx.DeleteExpired(ctx, now.Add(-RefreshTokenLifetime-time.Hour), now.Add(-time.Hour))
		return err
	})
	return n, err
}

// Account returns the account's claims source.
func (s *Service) Account(ctx context.Context, id int64) (*Account, error) {
	var a *Account
	err := s.store.InTx(ctx, func(tx Tx) (err error) { a, err = tx.Account(ctx, id); return err })
	return a, err
}

// String shows a client for the operator.
func (c *Client) String() string {
	kind := "confidential"
	if c.Public {
		kind = "public"
	}
	if c.FirstParty {
		kind += ", first-party"
	}
	return fmt.Sprintf("%s (%s, %s)", c.ID, c.Name, kind)
}
