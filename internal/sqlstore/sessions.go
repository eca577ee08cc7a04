package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/audit"
	"kilt/internal/oidc"
	"kilt/internal/outbox"
	"kilt/internal/password"
	"kilt/internal/ratelimit"
	"kilt/internal/session"
)

// Sessions implements session.Store.
type Sessions struct{ db *DB }

// NewSessions returns the session store on db.
func NewSessions(db *DB) *Sessions { return &Sessions{db: db} }

var _ session.Store = (*Sessions)(nil)

// InTx implements session.Store.
func (s *Sessions) InTx(ctx context.Context, fn func(session.Tx) error) error {
	return s.db.InTx(ctx, func(tx *Tx) error { return fn(sessionTx{tx}) })
}

// sessionTx is session.Tx on one transaction.
type sessionTx struct{ tx *Tx }

// UseAllTokens and EndAccountFlows are the account port's row operations on the same rows.
func (t sessionTx) UseAllTokens(ctx context.Context, accountID int64, now time.Time) error {
	return accountTx(t).UseAllTokens(ctx, accountID, now)
}

func (t sessionTx) EndAccountFlows(ctx context.Context, accountID int64, now time.Time) error {
	return accountTx(t).EndAccountFlows(ctx, accountID, now)
}

func (t sessionTx) AccountByID(ctx context.Context, id int64) (*account.Account, error) {
	return scanAccount(t.tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
}

func (t sessionTx) AccountByEmailKey(ctx context.Context, key string) (*account.Account, error) {
	return scanAccount(t.tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE email_key = $1`, key))
}

func (t sessionTx) AccountByPhone(ctx context.Context, e164 string) (*account.Account, error) {
	return scanAccount(t.tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE phone = $1`, e164))
}

func (t sessionTx) UpdatePasswordHash(ctx context.Context, accountID int64, oldHash, newHash string, now time.Time) (bool, error) {
	res, err := t.tx.Exec(ctx, `UPDATE accounts SET password_hash = $1, updated_at = $2
		WHERE id = $3 AND password_hash = $4`, newHash, now, accountID, oldHash)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t sessionTx) ReplaceHistoryEntry(ctx context.Context, accountID int64, oldHash string, e password.HistoryEntry) error {
	_, err := t.tx.Exec(ctx, `UPDATE password_history SET password_hash = $1, skeleton_hash = $2, history_key = $3
		WHERE account_id = $4 AND password_hash = $5`, e.PasswordHash, e.SkeletonHash, e.Key, accountID, oldHash)
	return err
}

func (t sessionTx) SetLocked(ctx context.Context, accountID int64, locked bool, now time.Time) error {
	res, err := t.tx.Exec(ctx, `UPDATE accounts SET locked = $1, updated_at = $2 WHERE id = $3`, locked, now, accountID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return kilt.ErrNotFound
	}
	return nil
}

// ThrottlesForUpdate implements session.Tx. On PostgreSQL one upsert makes the keys' missing
// rows, locks them all and returns them: a separate insert and SELECT … FOR UPDATE left a
// window in which a concurrent successful sign-in could delete a row between the two, and
// the SELECT found nothing. The rows are locked in the order of VALUES, the keys' byte order,
// which DeleteThrottles follows too: two transactions on the same keys wait for each other,
// never deadlock. On SQLite a plain read: the IMMEDIATE transaction already holds the
// database's write lock, and a missing row reads as zero.
func (t sessionTx) ThrottlesForUpdate(ctx context.Context, keys []string) ([]session.Throttle, error) {
	q, args, err := t.throttleRead(keys)
	if err != nil {
		return nil, err
	}
	rows, err := t.tx.Query(ctx, q.read, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]session.Throttle, len(keys))
	for rows.Next() {
		var key string
		var th session.Throttle
		if err := rows.Scan(&key, &th.Failures, TimeCol(&th.LastFailedAt)); err != nil {
			return nil, err
		}
		if i := slices.Index(keys, key); i >= 0 {
			out[i] = th
		}
	}
	return out, rows.Err()
}

// throttleRead returns the statements for keys and the arguments of their read.
func (t sessionTx) throttleRead(keys []string) (throttleStatements, []any, error) {
	sorted, err := sortedThrottleKeys(keys)
	if err != nil {
		return throttleStatements{}, nil, err
	}
	args := make([]any, 0, len(keys)+2)
	if t.tx.Dialect() == Postgres {
		args = append(args, time.Unix(0, 0))
	}
	for _, k := range sorted {
		args = append(args, k)
	}
	return throttleQueries(t.tx.Dialect(), len(keys)), args, nil
}

// AttemptState implements session.Tx. On PostgreSQL it is ThrottlesForUpdate's upsert with
// the account joined to each of its rows (throttleStatements.attemptByEmail, …ByPhone); on
// SQLite, where a statement costs no round trip, the two reads.
func (t sessionTx) AttemptState(ctx context.Context, id account.Identifier, keys []string) (*account.Account, []session.Throttle, error) {
	if t.tx.Dialect() != Postgres {
		var a *account.Account
		var err error
		if id.Kind == account.Email {
			a, err = t.AccountByEmailKey(ctx, id.Key())
		} else {
			a, err = t.AccountByPhone(ctx, id.Value)
		}
		if errors.Is(err, kilt.ErrNotFound) {
			a, err = nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		th, err := t.ThrottlesForUpdate(ctx, keys)
		return a, th, err
	}
	q, args, err := t.throttleRead(keys)
	if err != nil {
		return nil, nil, err
	}
	stmt := q.attemptByEmail
	if id.Kind == account.Email {
		args = append(args, id.Key())
	} else {
		stmt = q.attemptByPhone
		args = append(args, id.Value)
	}
	rows, err := t.tx.Query(ctx, stmt, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var a *account.Account
	out := make([]session.Throttle, len(keys))
	for rows.Next() {
		var key string
		var th session.Throttle
		row, err := scanAccount(prefixedRow{rows, []any{&key, &th.Failures, TimeCol(&th.LastFailedAt)}})
		if err != nil {
			return nil, nil, err
		}
		if row.ID != 0 { // 0: no account (the LEFT JOIN's NULLs, coalesced)
			a = row
		}
		if i := slices.Index(keys, key); i >= 0 {
			out[i] = th
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return a, out, nil
}

// prefixedRow scans its head columns into head, the rest into what Scan is given: the
// account's scan (scanAccount) after columns of another table in the same row.
type prefixedRow struct {
	row  interface{ Scan(...any) error }
	head []any
}

func (p prefixedRow) Scan(dest ...any) error {
	return p.row.Scan(append(slices.Clip(p.head), dest...)...)
}

// PutThrottles implements session.Tx: one upsert of all the keys, in their byte order.
func (t sessionTx) PutThrottles(ctx context.Context, keys []string, ts []session.Throttle) error {
	if len(ts) != len(keys) {
		return fmt.Errorf("sqlstore: %d throttle states for %d keys", len(ts), len(keys))
	}
	sorted, err := sortedThrottleKeys(keys)
	if err != nil {
		return err
	}
	args := make([]any, 0, 3*len(keys))
	for _, k := range sorted {
		th := ts[slices.Index(keys, k)]
		args = append(args, k, th.Failures, th.LastFailedAt)
	}
	_, err = t.tx.Exec(ctx, throttleQueries(t.tx.Dialect(), len(keys)).put, args...)
	return err
}

// DeleteThrottles implements session.Tx. On PostgreSQL the rows are locked first in the keys'
// byte order, as ThrottlesForUpdate locks them, so a delete and a count of the same keys
// cannot deadlock.
func (t sessionTx) DeleteThrottles(ctx context.Context, keys []string) error {
	sorted, err := sortedThrottleKeys(keys)
	if err != nil {
		return err
	}
	args := make([]any, len(sorted))
	for i, k := range sorted {
		args[i] = k
	}
	_, err = t.tx.Exec(ctx, throttleQueries(t.tx.Dialect(), len(keys)).delete, args...)
	return err
}

// sortedThrottleKeys returns keys in byte order; a key named twice is an error (on
// PostgreSQL one upsert cannot touch a row twice).
func sortedThrottleKeys(keys []string) ([]string, error) {
	if len(keys) == 0 {
		return nil, errors.New("sqlstore: no throttle keys")
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return nil, errors.New("sqlstore: a throttle key named twice")
		}
	}
	return sorted, nil
}

// throttleStatements are the statements on login_throttle for a number of keys.
type throttleStatements struct {
	read   string // key, failures, last_failed_at of the keys; on PostgreSQL made and locked
	put    string // the keys' new states
	delete string // the keys forgotten
	// attemptByEmail and attemptByPhone, on PostgreSQL only, are AttemptState's: read's
	// upsert, each of its rows joined to the account whose email_key (or phone) is $n+2, the
	// account's columns coalesced (accountColumnsOrZero) so that no account reads as id 0.
	attemptByEmail, attemptByPhone string
	// start, on PostgreSQL only, is StartSession's statement: the keys forgotten as delete
	// does, then the audit row ($n+8…$n+13) and the session ($n+1…$n+7) inserted, the
	// session's id returned. Data-modifying WITHs run once and to completion whether or not
	// the statement reads them, all in the statement's transaction.
	start string
}

// throttleStatementsCache holds throttleQueries's answers by dialect and number of keys.
var throttleStatementsCache sync.Map // [2]int{dialect, n} → throttleStatements

// throttleQueries returns the statements on login_throttle for n keys on dialect d; the
// keys are the arguments in byte order (after the zero time on PostgreSQL's read).
func throttleQueries(d Dialect, n int) throttleStatements {
	k := [2]int{int(d), n}
	if v, ok := throttleStatementsCache.Load(k); ok {
		return v.(throttleStatements)
	}
	var list, zero, values strings.Builder
	for i := range n {
		if i > 0 {
			list.WriteString(", ")
			zero.WriteString(", ")
			values.WriteString(", ")
		}
		fmt.Fprintf(&list, "$%d", i+1)
		fmt.Fprintf(&zero, "($%d, 0, $1)", i+2)
		fmt.Fprintf(&values, "($%d, $%d, $%d)", 3*i+1, 3*i+2, 3*i+3)
	}
	q := throttleStatements{
		read: `SELECT key, failures, last_failed_at FROM login_throttle WHERE key IN (` + list.String() + `)`,
		put: `INSERT INTO login_throttle (key, failures, last_failed_at) VALUES ` + values.String() +
			` ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_failed_at = excluded.last_failed_at`,
		delete: `DELETE FROM login_throttle WHERE key IN (` + list.String() + `)`,
	}
	if d == Postgres {
		q.read = `INSERT INTO login_throttle (key, failures, last_failed_at) VALUES ` + zero.String() +
			` ON CONFLICT (key) DO UPDATE SET key = excluded.key RETURNING key, failures, last_failed_at`
		locked := `locked AS MATERIALIZED (SELECT key FROM login_throttle WHERE key IN (` + list.String() +
			`) ORDER BY key COLLATE "C" FOR UPDATE)`
		forget := `DELETE FROM login_throttle WHERE key IN (SELECT key FROM locked)`
		q.delete = `WITH ` + locked + ` ` + forget
		p := func(from, count int) string {
			ps := make([]string, count)
			for i := range ps {
				ps[i] = "$" + strconv.Itoa(n+from+i)
			}
			return strings.Join(ps, ", ")
		}
		attempt := `WITH t AS (` + q.read + `) SELECT t.key, t.failures, t.last_failed_at, ` + accountColumnsOrZero +
			` FROM t LEFT JOIN accounts a ON a.`
		q.attemptByEmail = attempt + `email_key = $` + strconv.Itoa(n+2)
		q.attemptByPhone = attempt + `phone = $` + strconv.Itoa(n+2)
		q.start = `WITH ` + locked + `, forgot AS (` + forget + `),
			audited AS (INSERT INTO audit_events (at, type, account_id, ip, user_agent, detail) VALUES (` + p(8, 6) + `))
			` + insertSession + ` VALUES (` + p(1, 7) + `) RETURNING id`
	}
	throttleStatementsCache.Store(k, q)
	return q
}

func (t sessionTx) TakeLimits(ctx context.Context, checks []ratelimit.Check, now time.Time) (ratelimit.Result, error) {
	return takeLimits(ctx, t.tx, checks, now)
}

// insertSession is the head of a session's INSERT; its seven values are sessionArgs.
const insertSession = `INSERT INTO sessions (token_hash, account_id, created_at, last_seen_at, expires_at, ip, user_agent)`

// sessionArgs are the values of insertSession.
func sessionArgs(sess *session.Session, tokenHash []byte) []any {
	return []any{tokenHash, sess.AccountID, sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt, sess.IP, sess.UserAgent}
}

func (t sessionTx) InsertSession(ctx context.Context, sess *session.Session, tokenHash []byte) error {
	return t.tx.QueryRow(ctx, insertSession+` VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		sessionArgs(sess, tokenHash)...).Scan(&sess.ID)
}

func (t sessionTx) SessionByTokenHash(ctx context.Context, tokenHash []byte) (*session.Session, error) {
	return sessionByTokenHash(ctx, t.tx, tokenHash)
}

// StartSession implements session.Store. On PostgreSQL it is one statement, atomic by itself
// (throttleStatements.start): one round trip instead of five (BEGIN, three statements, COMMIT). On
// SQLite, whose writes go through one writer anyway, the three statements in one
// transaction.
func (s *Sessions) StartSession(ctx context.Context, keys []string, sess *session.Session, tokenHash []byte, e audit.Event) error {
	if s.db.Dialect() != Postgres {
		return s.InTx(ctx, func(tx session.Tx) error {
			if err := tx.DeleteThrottles(ctx, keys); err != nil {
				return err
			}
			if err := tx.InsertSession(ctx, sess, tokenHash); err != nil {
				return err
			}
			return tx.RecordAudit(ctx, e)
		})
	}
	sorted, err := sortedThrottleKeys(keys)
	if err != nil {
		return err
	}
	if s.db.nested() {
		return ErrNestedTx
	}
	args := make([]any, 0, len(sorted)+13)
	for _, k := range sorted {
		args = append(args, k)
	}
	args = appendAuditArgs(append(args, sessionArgs(sess, tokenHash)...), e)
	var id int64
	if err := s.db.QueryRow(ctx, throttleQueries(Postgres, len(sorted)).start, args...).Scan(&id); err != nil {
		return unavailable(rowErr(err))
	}
	sess.ID = id
	return nil
}

// ReadSession implements session.Store: two reads outside any transaction, so on SQLite
// without the write gate.
func (s *Sessions) ReadSession(ctx context.Context, tokenHash []byte) (*session.Session, *account.Account, error) {
	sess, err := sessionByTokenHash(ctx, s.db, tokenHash)
	if err != nil {
		return nil, nil, err
	}
	acct, err := scanAccount(s.db.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, sess.AccountID))
	if errors.Is(err, kilt.ErrNotFound) {
		return sess, nil, nil
	}
	if err != nil {
		return nil, nil, unavailable(err)
	}
	return sess, acct, nil
}

// sessionColumns are the columns scanSession reads.
const sessionColumns = `id, account_id, created_at, last_seen_at, expires_at, ip, user_agent, reauth_at`

// scanSession reads one row of sessionColumns.
func scanSession(row interface{ Scan(...any) error }) (*session.Session, error) {
	var sess session.Session
	var reauth *time.Time
	err := row.Scan(&sess.ID, &sess.AccountID, TimeCol(&sess.CreatedAt),
		TimeCol(&sess.LastSeenAt), TimeCol(&sess.ExpiresAt), &sess.IP, &sess.UserAgent, NullTimeCol(&reauth))
	if err != nil {
		return nil, err
	}
	if reauth != nil {
		sess.ReauthAt = *reauth
	}
	return &sess, nil
}

func sessionByTokenHash(ctx context.Context, q Querier, tokenHash []byte) (*session.Session, error) {
	sess, err := scanSession(q.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE token_hash = $1`, tokenHash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kilt.ErrNotFound
	}
	if err != nil {
		return nil, unavailable(err)
	}
	return sess, nil
}

func (t sessionTx) TouchSession(ctx context.Context, id int64, seen time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id = $2`, seen, id)
	return err
}

func (t sessionTx) DeleteSession(ctx context.Context, id int64) (bool, error) {
	res, err := t.tx.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (t sessionTx) DeleteSessions(ctx context.Context, accountID, except int64) ([]int64, error) {
	return deleteSessions(ctx, t.tx, accountID, except)
}

func (t sessionTx) DeleteOperatorSessions(ctx context.Context, accountID int64) error {
	return deleteOperatorSessions(ctx, t.tx, accountID)
}

func (t sessionTx) KillSlips(ctx context.Context, accountID int64, now time.Time) error {
	return killSlips(ctx, t.tx, accountID, now)
}

func (t sessionTx) EndChannelChanges(ctx context.Context, accountID int64, now time.Time) error {
	return endChannelChanges(ctx, t.tx, accountID, now)
}

func (t sessionTx) SessionIDs(ctx context.Context, accountID int64) ([]int64, error) {
	return int64s(t.tx.Query(ctx, `SELECT id FROM sessions WHERE account_id = $1 ORDER BY id`, accountID))
}

// DeleteEndedSessions implements session.Tx. The DELETE is the claim: its subquery picks a
// batch and, on PostgreSQL, locks it skipping the rows another transaction holds (another
// instance's sweep, or a request ending the same session), so concurrent sweeps take
// disjoint batches without waiting; a row deleted meanwhile is not returned, so each ended
// session is returned to one transaction only. Without an index on last_seen_at (every
// touch of a session would have to update it), a batch reads the live sessions once: one
// short scan a round, as the retention job runs a batch or two an interval.
func (t sessionTx) DeleteEndedSessions(ctx context.Context, expiredBy, seenBy time.Time, limit int) ([]session.Session, error) {
	rows, err := t.tx.Query(ctx, `DELETE FROM sessions WHERE id IN (SELECT id FROM sessions
		WHERE expires_at <= $1 OR last_seen_at <= $2 ORDER BY id LIMIT $3`+skipLocked[t.tx.Dialect()]+`)
		RETURNING `+sessionColumns, expiredBy, seenBy, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []session.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *sess)
	}
	return out, rows.Err()
}

// deleteSessions is session.EndTx's DeleteSessions, for every port that embeds it.
func deleteSessions(ctx context.Context, tx *Tx, accountID, except int64) ([]int64, error) {
	return int64s(tx.Query(ctx, `DELETE FROM sessions WHERE account_id = $1 AND id <> $2 RETURNING id`, accountID, except))
}

// int64s reads a column of integers.
func int64s(rows *sql.Rows, err error) ([]int64, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// The provider's rows that ending a session touches (oidc.LogoutTx, in session.EndTx).

func (t sessionTx) SessionClients(ctx context.Context, sessionID int64) ([]string, error) {
	return oidcTx(t).SessionClients(ctx, sessionID)
}

func (t sessionTx) Client(ctx context.Context, id string) (*oidc.Client, error) {
	return oidcTx(t).Client(ctx, id)
}

func (t sessionTx) RevokeTokens(ctx context.Context, f oidc.TokenFilter, now time.Time) (int64, error) {
	return oidcTx(t).RevokeTokens(ctx, f, now)
}

func (t sessionTx) Enqueue(ctx context.Context, m *outbox.Message) error {
	return enqueue(ctx, t.tx, m)
}

func (t sessionTx) RecordAudit(ctx context.Context, e audit.Event) error {
	return recordAudit(ctx, t.tx, e)
}

// HashHeads calls fn with the head (algorithm and cost) of every kind of password hash the
// accounts hold other than current, the head of the hashes made now: the bcrypt costs, and
// each Argon2 cost other than the current one. The hasher pads every check to the costliest
// of them (password.Hasher.Observe).
//
// It reads the password_heads table, one short read whatever the number of accounts, kept
// on write: every hash Kilt makes is at the head that was current when its process started,
// which HashHeads records, and ImportAccounts records the heads it imports. The first call
// after migration 0051 fills the table from the accounts, once (the settings row
// password_heads says it was done; an operator who deletes that row has the next start
// fill it again, dropping heads that no account holds any more).
func (s *Sessions) HashHeads(ctx context.Context, current string, fn func(head string)) error {
	err := s.db.InTx(ctx, func(tx *Tx) error {
		if err := fillHeads(ctx, tx, current); err != nil {
			return err
		}
		return recordHeads(ctx, tx, map[string]bool{current: true})
	})
	if err != nil {
		return err
	}
	rows, err := s.db.Query(ctx, `SELECT head FROM password_heads WHERE head <> $1 ORDER BY head`, current)
	if err != nil {
		return err
	}
	return eachString(rows, fn)
}

// headsFilled is the settings row that says password_heads was filled from the accounts.
const headsFilled = "password_heads"

// fillHeads fills password_heads from the accounts unless that was done: the bcrypt heads,
// and those of the Argon2 hashes not made at current (the current head is recorded anyway).
func fillHeads(ctx context.Context, tx *Tx, current string) error {
	var done string
	err := tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, headsFilled).Scan(&done)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	heads := map[string]bool{}
	add := func(h string) {
		if head := password.HashHead(h); head != "" {
			heads[head] = true
		}
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT substr(password_hash, 1, 7) FROM accounts WHERE password_hash LIKE '$2%'`)
	if err != nil {
		return err
	}
	if err := eachString(rows, func(h string) { heads[h] = true }); err != nil {
		return err
	}
	rows, err = tx.Query(ctx, `SELECT password_hash FROM accounts WHERE password_hash LIKE '$argon2%' AND password_hash NOT LIKE $1`,
		current+"%")
	if err != nil {
		return err
	}
	if err := eachString(rows, add); err != nil {
		return err
	}
	if err := recordHeads(ctx, tx, heads); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
		headsFilled, "filled from the accounts; kept on write since")
	return err
}

// recordHeads adds heads to password_heads. Of several writers, on any number of instances,
// each head is kept once.
func recordHeads(ctx context.Context, q Querier, heads map[string]bool) error {
	for h := range heads {
		if _, err := q.Exec(ctx, `INSERT INTO password_heads (head) VALUES ($1) ON CONFLICT (head) DO NOTHING`, h); err != nil {
			return err
		}
	}
	return nil
}

// eachString calls fn with the one string column of every row and closes rows.
func eachString(rows *sql.Rows, fn func(string)) error {
	defer rows.Close()
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return err
		}
		fn(v)
	}
	return rows.Err()
}
