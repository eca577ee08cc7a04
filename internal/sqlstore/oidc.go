package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"kilt"
	"kilt/internal/oidc"
	"kilt/internal/outbox"
)

// OIDC implements oidc.Store.
type OIDC struct{ db *DB }

// NewOIDC returns the single sign-on store on db.
func NewOIDC(db *DB) *OIDC { return &OIDC{db: db} }

var _ oidc.Store = (*OIDC)(nil)

// InTx implements oidc.Store.
func (s *OIDC) InTx(ctx context.Context, fn func(oidc.Tx) error) error {
	return s.db.InTx(ctx, func(tx *Tx) error { return fn(oidcTx{tx}) })
}

type oidcTx struct{ tx *Tx }

func joinList(v []string) string { return strings.Join(v, "\n") }

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// rowErr maps a missing row to kilt.ErrNotFound and a duplicate key to oidc.ErrConflict.
func rowErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return kilt.ErrNotFound
	case IsUniqueViolation(err):
		return oidc.ErrConflict
	}
	return err
}

// affected turns "no row changed" into kilt.ErrNotFound.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return kilt.ErrNotFound
	}
	return nil
}

const clientColumns = `id, name, secret_hash, redirect_uris, post_logout_redirect_uris, backchannel_logout_uri, scopes,
	public, first_party, created_at`

func scanClient(row interface{ Scan(...any) error }) (*oidc.Client, error) {
	var c oidc.Client
	var redirects, postLogout, scopes string
	err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &redirects, &postLogout, &c.BackchannelLogoutURI, &scopes,
		&c.Public, &c.FirstParty, TimeCol(&c.CreatedAt))
	if err != nil {
		return nil, rowErr(err)
	}
	c.RedirectURIs, c.PostLogoutRedirectURIs, c.Scopes = splitList(redirects), splitList(postLogout), splitList(scopes)
	return &c, nil
}

func (t oidcTx) InsertClient(ctx context.Context, c *oidc.Client) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO oidc_clients (`+clientColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		c.ID, c.Name, c.SecretHash, joinList(c.RedirectURIs), joinList(c.PostLogoutRedirectURIs), c.BackchannelLogoutURI,
		joinList(c.Scopes), c.Public, c.FirstParty, c.CreatedAt)
	return rowErr(err)
}

func (t oidcTx) Client(ctx context.Context, id string) (*oidc.Client, error) {
	return scanClient(t.tx.QueryRow(ctx, `SELECT `+clientColumns+` FROM oidc_clients WHERE id = $1`, id))
}

func (t oidcTx) Clients(ctx context.Context) ([]oidc.Client, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+clientColumns+` FROM oidc_clients ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []oidc.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}

func (t oidcTx) DeleteClient(ctx context.Context, id string) error {
	return affected(t.tx.Exec(ctx, `DELETE FROM oidc_clients WHERE id = $1`, id))
}

func (t oidcTx) SetClientSecret(ctx context.Context, id string, hash []byte) error {
	return affected(t.tx.Exec(ctx, `UPDATE oidc_clients SET secret_hash = $1 WHERE id = $2`, hash, id))
}

const authRequestColumns = `id, client_id, redirect_uri, scopes, state, nonce, code_challenge, prompt, max_age, login_hint,
	ui_locales, hint_subject, created_at, expires_at, account_id, session_id, auth_time, amr, done`

func (t oidcTx) InsertAuthRequest(ctx context.Context, a *oidc.AuthRequest) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO oidc_auth_requests (id, client_id, redirect_uri, scopes, state, nonce, code_challenge,
		prompt, max_age, login_hint, ui_locales, hint_subject, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		a.ID, a.ClientID, a.RedirectURI, joinList(a.Scopes), a.State, a.Nonce, a.CodeChallenge, joinList(a.Prompt), a.MaxAge,
		a.LoginHint, a.UILocales, a.HintSubject, a.CreatedAt, a.ExpiresAt)
	return rowErr(err)
}

// authRequestScan scans authRequestColumns.
type authRequestScan struct {
	a                    oidc.AuthRequest
	scopes, prompt, amr  string
	accountID, sessionID sql.NullInt64
	authTime             *time.Time
}

func (r *authRequestScan) dest() []any {
	a := &r.a
	return []any{&a.ID, &a.ClientID, &a.RedirectURI, &r.scopes, &a.State, &a.Nonce, &a.CodeChallenge, &r.prompt, &a.MaxAge,
		&a.LoginHint, &a.UILocales, &a.HintSubject, TimeCol(&a.CreatedAt), TimeCol(&a.ExpiresAt), &r.accountID, &r.sessionID,
		NullTimeCol(&r.authTime), &r.amr, &a.Done}
}

func (r *authRequestScan) request() *oidc.AuthRequest {
	a := r.a
	a.Scopes, a.Prompt, a.AMR = splitList(r.scopes), splitList(r.prompt), splitList(r.amr)
	a.AccountID, a.SessionID = r.accountID.Int64, r.sessionID.Int64
	if r.authTime != nil {
		a.AuthTime = *r.authTime
	}
	return &a
}

func (t oidcTx) AuthRequest(ctx context.Context, id string) (*oidc.AuthRequest, error) {
	var r authRequestScan
	err := t.tx.QueryRow(ctx, `SELECT `+authRequestColumns+` FROM oidc_auth_requests WHERE id = $1`, id).Scan(r.dest()...)
	if err != nil {
		return nil, rowErr(err)
	}
	return r.request(), nil
}

func (t oidcTx) UpdateAuthRequest(ctx context.Context, a *oidc.AuthRequest) error {
	return affected(t.tx.Exec(ctx, `UPDATE oidc_auth_requests SET account_id = $1, session_id = $2, auth_time = $3, amr = $4, done = $5
		WHERE id = $6`, a.AccountID, a.SessionID, a.AuthTime, joinList(a.AMR), a.Done, a.ID))
}

func (t oidcTx) InsertCode(ctx context.Context, c *oidc.Code) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO oidc_codes (hash, auth_request_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		c.Hash, c.AuthRequestID, c.CreatedAt, c.ExpiresAt)
	return rowErr(err)
}

func (t oidcTx) Code(ctx context.Context, hash []byte) (*oidc.Code, error) {
	var c oidc.Code
	err := t.tx.QueryRow(ctx, `SELECT hash, auth_request_id, created_at, expires_at, used_at FROM oidc_codes WHERE hash = $1`,
		hash).Scan(&c.Hash, &c.AuthRequestID, TimeCol(&c.CreatedAt), TimeCol(&c.ExpiresAt), NullTimeCol(&c.UsedAt))
	if err != nil {
		return nil, rowErr(err)
	}
	return &c, nil
}

const tokenColumns = `id, kind, hash, family, auth_request_id, client_id, account_id, session_id, scopes, auth_time, amr,
	created_at, expires_at, rotated_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (*oidc.Token, error) {
	var tk oidc.Token
	var scopes, amr string
	err := row.Scan(&tk.ID, &tk.Kind, &tk.Hash, &tk.Family, &tk.AuthRequestID, &tk.ClientID, &tk.AccountID, &tk.SessionID,
		&scopes, TimeCol(&tk.AuthTime), &amr, TimeCol(&tk.CreatedAt), TimeCol(&tk.ExpiresAt),
		NullTimeCol(&tk.RotatedAt), NullTimeCol(&tk.RevokedAt))
	if err != nil {
		return nil, rowErr(err)
	}
	tk.Scopes, tk.AMR = splitList(scopes), splitList(amr)
	return &tk, nil
}

// InsertTokens inserts the tokens in one statement (a token response's access and refresh
// tokens: one round trip).
func (t oidcTx) InsertTokens(ctx context.Context, tks ...*oidc.Token) error {
	if len(tks) == 0 {
		return nil
	}
	values, args := tokenValues(tks, nil, nil)
	_, err := t.tx.Exec(ctx, `INSERT INTO oidc_tokens (`+tokenColumns+`) VALUES `+values, args...)
	return rowErr(err)
}

// tokenTypes are the PostgreSQL types of tokenColumns, in order: a row of parameters in a
// VALUES list that does not feed an INSERT directly needs them spelled out.
var tokenTypes = []string{"text", "text", "bytea", "text", "text", "text", "bigint", "bigint", "text", "timestamptz",
	"text", "timestamptz", "timestamptz", "timestamptz", "timestamptz"}

// tokenValues appends to args the values of tks in tokenColumns' order and returns the
// VALUES rows that bind them ("($n, …), (…)", numbered after the args already there), each
// parameter cast to its type when types is given.
func tokenValues(tks []*oidc.Token, args []any, types []string) (string, []any) {
	var q strings.Builder
	for i, tk := range tks {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(")
		for j := range len(tokenTypes) {
			if j > 0 {
				q.WriteString(", ")
			}
			q.WriteString("$" + strconv.Itoa(len(args)+j+1))
			if types != nil {
				q.WriteString("::" + types[j])
			}
		}
		q.WriteString(")")
		var hash any
		if tk.Hash != nil {
			hash = tk.Hash
		}
		args = append(args, tk.ID, tk.Kind, hash, tk.Family, tk.AuthRequestID, tk.ClientID, tk.AccountID, tk.SessionID,
			joinList(tk.Scopes), tk.AuthTime, joinList(tk.AMR), tk.CreatedAt, tk.ExpiresAt, tk.RotatedAt, tk.RevokedAt)
	}
	return q.String(), args
}

// Redeeming a code or a refresh token: the single-use UPDATE (its WHERE decides between two
// redemptions racing, the loser's UPDATE changing no row). $1 is the time, $2 the code's
// hash or the refresh token's id.
const (
	useCode     = `UPDATE oidc_codes SET used_at = $1 WHERE hash = $2 AND used_at IS NULL`
	rotateToken = `UPDATE oidc_tokens SET rotated_at = $1 WHERE id = $2 AND rotated_at IS NULL AND revoked_at IS NULL`
)

// IssueTokens implements oidc.Store. On PostgreSQL it is one statement, atomic by itself
// without a transaction around it: the redeeming UPDATE … RETURNING in a WITH feeds the
// INSERT, which inserts nothing when the UPDATE changed no row (one round trip instead of
// four: BEGIN, UPDATE, INSERT, COMMIT). Of two racing, the second's UPDATE waits for the
// first's row lock, then finds the row used and changes nothing. SQLite has no
// data-modifying WITH: the UPDATE and the INSERT run in one transaction.
func (s *OIDC) IssueTokens(ctx context.Context, r oidc.Redemption, now time.Time, tks ...*oidc.Token) (bool, error) {
	redeem, key := useCode, any(r.CodeHash)
	switch {
	case len(tks) == 0:
		return false, errors.New("sqlstore: IssueTokens without tokens")
	case r.CodeHash != nil && r.RefreshID == "":
	case r.CodeHash == nil && r.RefreshID != "":
		redeem, key = rotateToken, r.RefreshID
	default:
		return false, errors.New("sqlstore: IssueTokens redeems one code or one refresh token")
	}
	if s.db.Dialect() == Postgres {
		values, args := tokenValues(tks, []any{now, key}, tokenTypes)
		n, err := rowsAffected(s.db.Exec(ctx, `WITH redeemed AS (`+redeem+` RETURNING 1)
			INSERT INTO oidc_tokens (`+tokenColumns+`) SELECT v.* FROM redeemed, (VALUES `+values+`) AS v`, args...))
		return n > 0, rowErr(err)
	}
	issued := false
	err := s.db.InTx(ctx, func(tx *Tx) error {
		issued = false
		n, err := rowsAffected(tx.Exec(ctx, redeem, now, key))
		if err != nil || n == 0 {
			return err
		}
		issued = true
		return oidcTx{tx}.InsertTokens(ctx, tks...)
	})
	return issued && err == nil, err
}

// rowsAffected is the number of rows a statement changed.
func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t oidcTx) Token(ctx context.Context, id string) (*oidc.Token, error) {
	return scanToken(t.tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM oidc_tokens WHERE id = $1`, id))
}

func (t oidcTx) TokenByHash(ctx context.Context, hash []byte) (*oidc.Token, error) {
	return scanToken(t.tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM oidc_tokens WHERE hash = $1`, hash))
}

// RevokeTokens implements oidc.Tx: the codes not yet redeemed of the requests f selects
// first, then the tokens.
func (t oidcTx) RevokeTokens(ctx context.Context, f oidc.TokenFilter, now time.Time) (int64, error) {
	var where, requests string
	args := []any{now}
	switch {
	case f.AuthRequestID != "":
		where, requests = "auth_request_id = $2", "$2"
		args = append(args, f.AuthRequestID)
	case f.ID != "":
		where = "id = $2"
		args = append(args, f.ID)
	case f.SessionID != 0:
		where, requests = "session_id = $2", "SELECT id FROM oidc_auth_requests WHERE session_id = $2"
		args = append(args, f.SessionID)
	case f.AccountID != 0 && f.ClientID != "":
		where = "account_id = $2 AND client_id = $3"
		requests = "SELECT id FROM oidc_auth_requests WHERE account_id = $2 AND client_id = $3"
		args = append(args, f.AccountID, f.ClientID)
	case f.AccountID != 0:
		where, requests = "account_id = $2", "SELECT id FROM oidc_auth_requests WHERE account_id = $2"
		args = append(args, f.AccountID)
	default:
		return 0, errors.New("sqlstore: RevokeTokens without a filter")
	}
	if requests != "" {
		// A code not yet redeemed would issue tokens after their revocation.
		if _, err := t.tx.Exec(ctx, `UPDATE oidc_codes SET used_at = $1 WHERE used_at IS NULL AND expires_at > $1
			AND auth_request_id IN (`+requests+`)`, args...); err != nil {
			return 0, err
		}
	}
	res, err := t.tx.Exec(ctx, `UPDATE oidc_tokens SET revoked_at = $1 WHERE `+where+` AND revoked_at IS NULL`, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (t oidcTx) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := t.tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (t oidcTx) ConnectedClients(ctx context.Context, accountID int64, now time.Time) ([]string, error) {
	return t.strings(ctx, `SELECT client_id FROM oidc_consents WHERE account_id = $1
		UNION SELECT client_id FROM oidc_tokens WHERE account_id = $1 AND kind = 'refresh' AND revoked_at IS NULL
		AND rotated_at IS NULL AND expires_at > $2 ORDER BY 1`, accountID, now)
}

func (t oidcTx) SessionClients(ctx context.Context, sessionID int64) ([]string, error) {
	return t.strings(ctx, `SELECT DISTINCT client_id FROM oidc_tokens WHERE session_id = $1 ORDER BY 1`, sessionID)
}

func (t oidcTx) Consent(ctx context.Context, accountID int64, clientID string) (*oidc.Consent, error) {
	var c oidc.Consent
	var scopes string
	err := t.tx.QueryRow(ctx, `SELECT account_id, client_id, scopes, granted_at FROM oidc_consents
		WHERE account_id = $1 AND client_id = $2`, accountID, clientID).Scan(&c.AccountID, &c.ClientID, &scopes, TimeCol(&c.GrantedAt))
	if err != nil {
		return nil, rowErr(err)
	}
	c.Scopes = splitList(scopes)
	return &c, nil
}

func (t oidcTx) PutConsent(ctx context.Context, c *oidc.Consent) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO oidc_consents (account_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (account_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.AccountID, c.ClientID, joinList(c.Scopes), c.GrantedAt)
	return rowErr(err)
}

func (t oidcTx) DeleteConsent(ctx context.Context, accountID int64, clientID string) error {
	return affected(t.tx.Exec(ctx, `DELETE FROM oidc_consents WHERE account_id = $1 AND client_id = $2`, accountID, clientID))
}

const keyColumns = `id, alg, sealed, created_at, retired_at`

func scanKey(row interface{ Scan(...any) error }) (*oidc.Key, error) {
	var k oidc.Key
	if err := row.Scan(&k.ID, &k.Alg, &k.Sealed, TimeCol(&k.CreatedAt), NullTimeCol(&k.RetiredAt)); err != nil {
		return nil, rowErr(err)
	}
	return &k, nil
}

func (t oidcTx) ActiveKey(ctx context.Context) (*oidc.Key, error) {
	return scanKey(t.tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM oidc_keys WHERE active`))
}

func (t oidcTx) Keys(ctx context.Context, since time.Time) ([]oidc.Key, error) {
	rows, err := t.tx.Query(ctx, `SELECT `+keyColumns+` FROM oidc_keys WHERE active OR retired_at > $1 ORDER BY created_at DESC`, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []oidc.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *k)
	}
	return out, rows.Err()
}

func (t oidcTx) InsertKey(ctx context.Context, k *oidc.Key) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO oidc_keys (id, alg, sealed, created_at, active) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, k.Alg, k.Sealed, k.CreatedAt, true)
	return rowErr(err)
}

func (t oidcTx) RetireActiveKey(ctx context.Context, now time.Time) error {
	return affected(t.tx.Exec(ctx, `UPDATE oidc_keys SET active = NULL, retired_at = $1 WHERE active`, now))
}

// ownerColumns are the account's and the session's columns of a row that names both
// (LEFT JOINed as a and s).
const ownerColumns = `a.id, a.email, a.email_verified, a.phone, a.phone_verified, a.locked, a.password_changed_at,
	s.id, s.account_id, s.created_at, s.last_seen_at, s.expires_at`

// ownersScan scans ownerColumns; a missing account or session is nil.
type ownersScan struct {
	aID, sID, sAccount                   sql.NullInt64
	email, phone                         sql.NullString
	emailVerified, phoneVerified, locked sql.NullBool
	changed, sCreated, sSeen, sExpires   *time.Time
}

func (o *ownersScan) dest() []any {
	return []any{&o.aID, &o.email, &o.emailVerified, &o.phone, &o.phoneVerified, &o.locked, NullTimeCol(&o.changed),
		&o.sID, &o.sAccount, NullTimeCol(&o.sCreated), NullTimeCol(&o.sSeen), NullTimeCol(&o.sExpires)}
}

func (o *ownersScan) owners() (*oidc.Account, *oidc.Session) {
	var a *oidc.Account
	if o.aID.Valid {
		a = &oidc.Account{ID: o.aID.Int64, Email: o.email.String, EmailVerified: o.emailVerified.Bool, Phone: o.phone.String,
			PhoneVerified: o.phoneVerified.Bool, Locked: o.locked.Bool}
		if o.changed != nil {
			a.PasswordChangedAt = *o.changed
		}
	}
	var se *oidc.Session
	if o.sID.Valid && o.sCreated != nil && o.sSeen != nil && o.sExpires != nil {
		se = &oidc.Session{ID: o.sID.Int64, AccountID: o.sAccount.Int64, CreatedAt: *o.sCreated, LastSeenAt: *o.sSeen,
			ExpiresAt: *o.sExpires}
	}
	return a, se
}

// tokenWithOwners reads a token with its account and its session in one statement.
const tokenWithOwners = `SELECT t.id, t.kind, t.hash, t.family, t.auth_request_id, t.client_id, t.account_id, t.session_id,
	t.scopes, t.auth_time, t.amr, t.created_at, t.expires_at, t.rotated_at, t.revoked_at, ` + ownerColumns + `
	FROM oidc_tokens t LEFT JOIN accounts a ON a.id = t.account_id LEFT JOIN sessions s ON s.id = t.session_id
	WHERE t.hash = $1`

// ReadToken implements oidc.Store: one read outside any transaction.
func (s *OIDC) ReadToken(ctx context.Context, hash []byte) (*oidc.Token, *oidc.Account, *oidc.Session, error) {
	var tk oidc.Token
	var scopes, amr string
	var o ownersScan
	dest := append([]any{&tk.ID, &tk.Kind, &tk.Hash, &tk.Family, &tk.AuthRequestID, &tk.ClientID, &tk.AccountID,
		&tk.SessionID, &scopes, TimeCol(&tk.AuthTime), &amr, TimeCol(&tk.CreatedAt), TimeCol(&tk.ExpiresAt),
		NullTimeCol(&tk.RotatedAt), NullTimeCol(&tk.RevokedAt)}, o.dest()...)
	if err := s.db.QueryRow(s.db.pointRead(ctx), tokenWithOwners, hash).Scan(dest...); err != nil {
		return nil, nil, nil, unavailable(rowErr(err))
	}
	tk.Scopes, tk.AMR = splitList(scopes), splitList(amr)
	a, se := o.owners()
	return &tk, a, se, nil
}

// codeWithOwners reads a code with its authorization request and the request's account and
// session in one statement.
var codeWithOwners = `SELECT c.hash, c.auth_request_id, c.created_at, c.expires_at, c.used_at, ` +
	prefixed("r.", authRequestColumns) + `, ` + ownerColumns + `
	FROM oidc_codes c JOIN oidc_auth_requests r ON r.id = c.auth_request_id
	LEFT JOIN accounts a ON a.id = r.account_id LEFT JOIN sessions s ON s.id = r.session_id
	WHERE c.hash = $1`

// prefixed is the column list cols with each column prefixed by p.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// ReadCode implements oidc.Store: one read outside any transaction.
func (s *OIDC) ReadCode(ctx context.Context, hash []byte) (*oidc.Code, *oidc.AuthRequest, *oidc.Account, *oidc.Session, error) {
	var c oidc.Code
	var r authRequestScan
	var o ownersScan
	dest := append([]any{&c.Hash, &c.AuthRequestID, TimeCol(&c.CreatedAt), TimeCol(&c.ExpiresAt), NullTimeCol(&c.UsedAt)},
		r.dest()...)
	if err := s.db.QueryRow(s.db.pointRead(ctx), codeWithOwners, hash).Scan(append(dest, o.dest()...)...); err != nil {
		return nil, nil, nil, nil, unavailable(rowErr(err))
	}
	a, se := o.owners()
	return &c, r.request(), a, se, nil
}

// ReadClient implements oidc.Store.
func (s *OIDC) ReadClient(ctx context.Context, id string) (*oidc.Client, error) {
	c, err := scanClient(s.db.QueryRow(ctx, `SELECT `+clientColumns+` FROM oidc_clients WHERE id = $1`, id))
	return c, unavailable(err)
}

// ReadActiveKey implements oidc.Store.
func (s *OIDC) ReadActiveKey(ctx context.Context) (*oidc.Key, error) {
	k, err := scanKey(s.db.QueryRow(ctx, `SELECT `+keyColumns+` FROM oidc_keys WHERE active`))
	return k, unavailable(err)
}

func (t oidcTx) Account(ctx context.Context, id int64) (*oidc.Account, error) {
	return oidcAccount(ctx, t.tx, id)
}

func oidcAccount(ctx context.Context, q Querier, id int64) (*oidc.Account, error) {
	var a oidc.Account
	var email, phone sql.NullString
	err := q.QueryRow(ctx, `SELECT id, email, email_verified, phone, phone_verified, locked, password_changed_at
		FROM accounts WHERE id = $1`, id).Scan(&a.ID, &email, &a.EmailVerified, &phone, &a.PhoneVerified, &a.Locked,
		TimeCol(&a.PasswordChangedAt))
	if err != nil {
		return nil, rowErr(err)
	}
	a.Email, a.Phone = email.String, phone.String
	return &a, nil
}

func (t oidcTx) Session(ctx context.Context, id int64) (*oidc.Session, error) {
	return oidcSession(ctx, t.tx, id)
}

func oidcSession(ctx context.Context, q Querier, id int64) (*oidc.Session, error) {
	var s oidc.Session
	err := q.QueryRow(ctx, `SELECT id, account_id, created_at, last_seen_at, expires_at FROM sessions WHERE id = $1`, id).Scan(
		&s.ID, &s.AccountID, TimeCol(&s.CreatedAt), TimeCol(&s.LastSeenAt), TimeCol(&s.ExpiresAt))
	if err != nil {
		return nil, rowErr(err)
	}
	return &s, nil
}

func (t oidcTx) Enqueue(ctx context.Context, m *outbox.Message) error { return enqueue(ctx, t.tx, m) }

func (t oidcTx) DeleteExpired(ctx context.Context, requestsBefore, tokensBefore time.Time) (int64, error) {
	a, err := t.tx.Exec(ctx, `DELETE FROM oidc_tokens WHERE expires_at < $1
		AND NOT EXISTS (SELECT 1 FROM sessions WHERE sessions.id = oidc_tokens.session_id)`, tokensBefore)
	if err != nil {
		return 0, err
	}
	b, err := t.tx.Exec(ctx, `DELETE FROM oidc_auth_requests WHERE expires_at < $1`, requestsBefore)
	if err != nil {
		return 0, err
	}
	na, _ := a.RowsAffected()
	nb, _ := b.RowsAffected()
	return na + nb, nil
}
