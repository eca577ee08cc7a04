// Package oidc is Kilt as an OpenID Connect provider: the rules of its clients, pending
// authorizations, codes, tokens, consents and signing keys. The protocol itself (parsing,
// JWTs, discovery) is a library's, behind an adapter on the HTTP side (internal/oidcop); this
// package decides what is allowed, on one transactional port (Store.InTx). The security
// properties are listed in docs/security.md, section "Single sign-on".
package oidc

import (
	"context"
	"time"

	"kilt"
	"kilt/internal/outbox"
)

// Error codes of the domain (also i18n keys of the error pages).
const (
	CodeUnknownClient      = "oidc_unknown_client"
	CodeRedirectURI        = "oidc_redirect_uri"
	CodeInvalidClient      = "oidc_invalid_client"
	CodeInvalidGrant       = "oidc_invalid_grant"
	CodeInvalidRequest     = "oidc_invalid_request"
	CodeAuthorizationGone  = "oidc_authorization_gone"
	CodeInvalidClientInput = "oidc_invalid_client_input"
)

// Lifetimes.
const (
	// AuthRequestLifetime bounds a pending authorization: the detours (recovery, registration)
	// fit in it, a forgotten tab does not keep it forever.
	AuthRequestLifetime = 30 * time.Minute
	// CodeLifetime is an authorization code's (RFC 6749 recommends at most 10 minutes).
	CodeLifetime = 60 * time.Second
	// AccessTokenLifetime and IDTokenLifetime: short, since an access token is also checked
	// in the database by userinfo and introspection.
	AccessTokenLifetime = 10 * time.Minute
	IDTokenLifetime     = 10 * time.Minute
	// RefreshTokenLifetime is a ceiling: a refresh token also dies with its session.
	RefreshTokenLifetime = 30 * 24 * time.Hour
	// LogoutTokenLifetime bounds a logout token (Back-Channel Logout 1.0): one is signed
	// for each delivery attempt of the outbox, so it need only outlive its delivery (a 10 s
	// request) and the relying party's clock skew — and, signed with a key retired within
	// KeyCacheTTL, it must not outlive that key's publication (KeyGrace).
	LogoutTokenLifetime = 2 * time.Minute
	// KeyGrace is how long a retired signing key stays published in the JWKS: longer than
	// any token it signed lives (ID tokens; logout tokens, shorter), after the KeyCacheTTL
	// in which another process may still sign with it, plus clock skew. Kilt itself checks
	// id_token_hint signatures with the keys retired within a session's lifetime, longer
	// (Service.HintKeys).
	KeyGrace = IDTokenLifetime + AccessTokenLifetime + 5*time.Minute
	// hintSkew is added to the session lifetime to bound the keys id_token_hint may be
	// signed with: KeyCacheTTL after a rotation and clock skew.
	hintSkew = KeyCacheTTL + 5*time.Minute
)

// Scopes Kilt knows.
const (
	ScopeOpenID  = "openid"
	ScopeEmail   = "email"
	ScopePhone   = "phone"
	ScopeOffline = "offline_access"
)

// KnownScopes are the scopes a client may be registered for.
var KnownScopes = []string{ScopeOpenID, ScopeEmail, ScopePhone, ScopeOffline}

// Client is a relying party registered by the operator.
type Client struct {
	ID   string
	Name string
	// SecretHash is the SHA-256 of a confidential client's secret; nil for a public client.
	SecretHash             []byte
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	BackchannelLogoutURI   string
	Scopes                 []string
	Public                 bool
	FirstParty             bool
	CreatedAt              time.Time
}

// AuthRequest is a pending authorization, kept server-side until it is answered with a code
// (or for AuthRequestLifetime).
type AuthRequest struct {
	ID            string
	ClientID      string
	RedirectURI   string
	Scopes        []string
	State         string
	Nonce         string
	CodeChallenge string // S256 only
	Prompt        []string
	MaxAge        int64 // seconds; -1 when not sent
	LoginHint     string
	UILocales     string
	// HintSubject is the sub of the request's id_token_hint ("" without one): the account
	// the application expects (Service.SessionSatisfies).
	HintSubject string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	// Set when a session signed in for it.
	AccountID int64
	SessionID int64
	AuthTime  time.Time
	AMR       []string
	Done      bool
}

// Code is an authorization code as stored: its hash and the request it answers.
type Code struct {
	Hash          []byte
	AuthRequestID string
	// CreatedAt is when the code was issued: what its liveness is judged by (a password
	// changed since refuses it), never its request's AuthTime, the session's sign-in.
	CreatedAt time.Time
	ExpiresAt time.Time
	// UsedAt is set when the code is redeemed, or killed unused with the tokens of its
	// grant, session or account (RevokeTokens).
	UsedAt *time.Time
}

// Token kinds.
const (
	KindAccess  = "access"
	KindRefresh = "refresh"
)

// Token is an access token or a refresh token. Both are opaque (32 random bytes): only
// their SHA-256 (Hash) is kept. ID is the row's own id (introspection's jti), never the token.
type Token struct {
	ID            string
	Kind          string
	Hash          []byte
	Family        string // refresh tokens: the first refresh token's id, kept by its rotations
	AuthRequestID string // the code's request it descends from
	ClientID      string
	AccountID     int64
	SessionID     int64
	Scopes        []string
	AuthTime      time.Time
	AMR           []string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	RotatedAt     *time.Time
	RevokedAt     *time.Time
}

// Consent is an account's grant of scopes to a third-party client.
type Consent struct {
	AccountID int64
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
}

// Key is a signing key: Private is the PKCS #8 DER sealed under the key derived from the
// server secret.
type Key struct {
	ID        string
	Alg       string // RS256 or ES256
	Sealed    []byte
	CreatedAt time.Time
	RetiredAt *time.Time
}

// Account is what the provider reads of an account.
type Account struct {
	ID                int64
	Email             string
	EmailVerified     bool
	Phone             string
	PhoneVerified     bool
	Locked            bool
	PasswordChangedAt time.Time
}

// Session is what the provider reads of a Kilt session.
type Session struct {
	ID         int64
	AccountID  int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// TokenFilter selects tokens to revoke; exactly one field is set.
type TokenFilter struct {
	// AuthRequestID: one grant, every token descending from its code (the access tokens and
	// each rotation of the refresh token).
	AuthRequestID string
	AccountID     int64
	SessionID     int64
	ID            string
	// ClientID with AccountID: one connected application of an account.
	ClientID string
}

// Store is the provider's one port.
type Store interface {
	InTx(ctx context.Context, fn func(Tx) error) error
	// ReadToken reads the token whose hash is given, with its account and its session, in
	// one statement outside any transaction (on SQLite without waiting for the writers):
	// userinfo and introspection only read, and a refresh reads before the transaction that
	// rotates (whose UPDATE … WHERE rotated_at IS NULL AND revoked_at IS NULL decides).
	// kilt.ErrNotFound when there is no such token; a nil account or session when it is gone.
	ReadToken(ctx context.Context, hash []byte) (*Token, *Account, *Session, error)
	// ReadCode reads the code whose hash is given with its authorization request and the
	// request's account and session, in one statement outside any transaction (the
	// redemption's UPDATE … WHERE used_at IS NULL decides a race): kilt.ErrNotFound when
	// there is no such code; a nil account or session when it is gone or not set.
	ReadCode(ctx context.Context, hash []byte) (*Code, *AuthRequest, *Account, *Session, error)
	// ReadClient reads a client outside any transaction (kilt.ErrNotFound when none).
	ReadClient(ctx context.Context, id string) (*Client, error)
	// ReadActiveKey reads the active signing key outside any transaction.
	ReadActiveKey(ctx context.Context) (*Key, error)
	// IssueTokens redeems r — marks the code used, or rotates the refresh token — and
	// inserts ts, atomically and in as few round trips as the database allows (PostgreSQL:
	// one statement, no transaction around it). It reports false, having changed nothing,
	// when the code was used already or the refresh token rotated or revoked: of two
	// redemptions racing, exactly one issues.
	IssueTokens(ctx context.Context, r Redemption, now time.Time, ts ...*Token) (bool, error)
}

// Redemption is what a token response consumes: a code (CodeHash) or a refresh token
// (RefreshID); exactly one is set.
type Redemption struct {
	CodeHash  []byte
	RefreshID string
}

// Tx is the row operations of one transaction. Not-found is kilt.ErrNotFound; a duplicate
// key is ErrConflict.
type Tx interface {
	InsertClient(ctx context.Context, c *Client) error
	Client(ctx context.Context, id string) (*Client, error)
	Clients(ctx context.Context) ([]Client, error)
	DeleteClient(ctx context.Context, id string) error
	SetClientSecret(ctx context.Context, id string, hash []byte) error

	InsertAuthRequest(ctx context.Context, a *AuthRequest) error
	AuthRequest(ctx context.Context, id string) (*AuthRequest, error)
	// UpdateAuthRequest writes the sign-in fields (account, session, auth time, AMR, done).
	UpdateAuthRequest(ctx context.Context, a *AuthRequest) error

	InsertCode(ctx context.Context, c *Code) error
	Code(ctx context.Context, hash []byte) (*Code, error)

	// InsertTokens inserts tokens (in one statement).
	InsertTokens(ctx context.Context, ts ...*Token) error
	Token(ctx context.Context, id string) (*Token, error)
	TokenByHash(ctx context.Context, hash []byte) (*Token, error)
	// RevokeTokens marks the live tokens f selects revoked and reports how many. Every
	// filter but ID first marks used the unexpired codes not yet redeemed of the requests it
	// selects: a code is tokens not issued yet, which must not be issued after the end that
	// revoked the others (a lock undone within the code's 60 seconds, say). Codes first, so
	// that a redemption racing with the revocation either finds its code used or has
	// inserted its tokens before they are revoked.
	RevokeTokens(ctx context.Context, f TokenFilter, now time.Time) (int64, error)
	// Grants lists the clients with a live refresh token or a consent of the account.
	ConnectedClients(ctx context.Context, accountID int64, now time.Time) ([]string, error)
	// SessionClients lists the clients that had tokens from the session.
	SessionClients(ctx context.Context, sessionID int64) ([]string, error)

	Consent(ctx context.Context, accountID int64, clientID string) (*Consent, error)
	PutConsent(ctx context.Context, c *Consent) error
	DeleteConsent(ctx context.Context, accountID int64, clientID string) error

	// ActiveKey is the key that signs now.
	ActiveKey(ctx context.Context) (*Key, error)
	// Keys lists the active key and those retired after since.
	Keys(ctx context.Context, since time.Time) ([]Key, error)
	// InsertKey adds the active key; a conflict when there is one already.
	InsertKey(ctx context.Context, k *Key) error
	RetireActiveKey(ctx context.Context, now time.Time) error

	Account(ctx context.Context, id int64) (*Account, error)
	Session(ctx context.Context, id int64) (*Session, error)

	// DeleteExpired deletes the authorization requests (with their codes) that expired
	// before requestsBefore and the tokens that expired before tokensBefore whose session has
	// ended (is gone), and reports how many rows it deleted. A live session's tokens stay,
	// expired or not, so that its end finds every client it had (SessionClients).
	DeleteExpired(ctx context.Context, requestsBefore, tokensBefore time.Time) (int64, error)

	// Enqueue adds a message to the outbox in this transaction (back-channel logout).
	Enqueue(ctx context.Context, m *outbox.Message) error
}

// ErrConflict is what a store returns for a duplicate key.
var ErrConflict = kilt.E(kilt.KindConflict, "conflict")

// Errors of the domain.
var (
	errUnknownClient = kilt.E(kilt.KindNotFound, CodeUnknownClient)
	errInvalidGrant  = kilt.E(kilt.KindInvalid, CodeInvalidGrant)
	errGone          = kilt.E(kilt.KindGone, CodeAuthorizationGone)
)
