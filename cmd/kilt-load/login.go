package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/server"
)

// loadPassword is the one password of every load account. It passes the policy (four
// character classes, not common, contains no load-N local part), so a fresh database takes it.
const loadPassword = "Saryarka-Kokpar-Zhel-39!"

// loadEmail is the address of load account i.
func loadEmail(i int) string { return fmt.Sprintf("load-%d@load.kilt.test", i) }

// login is the sign-in scenario: every client signs in again and again with its own
// account (client i uses account i mod N), through POST /api/v1/sessions.
//
// Only right passwords are sent, so the sign-in slow-down never applies — as long as no two
// clients share an account: an attempt is counted before its password is checked and the
// count cleared after, so concurrent attempts on one account add up as failures and, past
// the free ones, are answered 429. Hence accounts ≥ clients.
type login struct {
	url    string
	bodies [][]byte // request body per account
	env    *Env
}

func (*login) Name() string { return "login" }

func (*login) Summary() string {
	return "sign in (POST /api/v1/sessions) in a loop, one account per client; needs --database"
}

// Prepare makes sure accounts load-0 … load-(N−1)@load.kilt.test exist with loadPassword,
// creating the missing ones directly through the account service (the run then measures
// sign-in alone). An account that exists is reused as it is; if it has another password or
// is locked, the run's 401s or 403s say so.
func (l *login) Prepare(ctx context.Context, env *Env) error {
	if !env.HasDatabase {
		return errors.New("the login scenario creates its accounts first: give --database (the server's KILT_DATABASE_URL)")
	}
	l.env = env
	l.url = env.endpoint("/api/v1/sessions")
	l.bodies = make([][]byte, env.Accounts)
	for i := range l.bodies {
		b, err := json.Marshal(map[string]string{"identifier": loadEmail(i), "password": loadPassword})
		if err != nil {
			return err
		}
		l.bodies[i] = b
	}

	start := time.Now()
	app, err := env.OpenApp(ctx)
	if err != nil {
		return fmt.Errorf("opening the database: %w", err)
	}
	defer app.Close()
	created, err := ensureAccounts(ctx, app, env.Accounts)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Log, "accounts: %d ready (%d created, %d reused) in %v; Argon2id %s\n",
		env.Accounts, created, int64(env.Accounts)-created, time.Since(start).Round(time.Millisecond), app.Hasher.Params())
	return nil
}

// ensureAccounts creates the missing ones of the first n load accounts and returns how many
// it created. It runs as many creations at once as the hashing pool has workers, so none
// waits for a slot long enough to be turned away.
func ensureAccounts(ctx context.Context, app *server.App, n int) (created int64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next  atomic.Int64
		count atomic.Int64
		once  sync.Once
		first error
		wg    sync.WaitGroup
	)
	for range max(app.Config.HashWorkers, 1) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				made, err := ensureAccount(ctx, app, loadEmail(i))
				if err != nil {
					once.Do(func() { first = fmt.Errorf("account %s: %w", loadEmail(i), err); cancel() })
					return
				}
				if made {
					count.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return count.Load(), first
	}
	return count.Load(), ctx.Err()
}

// ensureAccount creates the account of email unless it exists, and reports whether it
// created it. Looking it up first spares the two hashes Add computes before it finds the
// address taken; Add's conflict still covers a creation by someone else in between.
func ensureAccount(ctx context.Context, app *server.App, email string) (bool, error) {
	id, err := app.Accounts.ParseIdentifier(email)
	if err != nil {
		return false, err
	}
	if _, err := app.Accounts.Lookup(ctx, id); err == nil {
		return false, nil
	} else if !errors.Is(err, kilt.ErrNotFound) {
		return false, err
	}
	for attempt := 0; ; attempt++ {
		_, err := app.Accounts.Add(ctx, account.NewAccount{
			Email: email, EmailVerified: true, Password: loadPassword, Confirm: loadPassword,
		})
		switch {
		case err == nil:
			return true, nil
		case kilt.ErrorKind(err) == kilt.KindConflict:
			return false, nil
		case kilt.ErrorKind(err) == kilt.KindUnavailable && attempt < 3 && ctx.Err() == nil:
			continue // the hashing pool was busy: try again
		}
		return false, err
	}
}

// Do signs client's account in once and returns the status. The body is read to the end so
// the connection goes back to the pool for the next request.
func (l *login) Do(ctx context.Context, client int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(l.bodies[client%len(l.bodies)]))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := l.env.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}
