package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"kilt"
	"kilt/internal/account"
	"kilt/internal/server"
)

// loadPassword is the password every load account is created with. It passes the policy
// (four character classes, not common, contains neither a load-N local part nor six digits
// of a phone number), so a fresh database takes it.
const loadPassword = "Saryarka-Kokpar-Zhel-39!"

// A family is a numbered set of load accounts, created directly in the database: account i
// has the verified e-mail address Email(i) and the verified mobile number Phone(i).
//
// The numbers are Kazakh mobile numbers (libphonenumber takes +7 700… and +7 701… as KZ
// mobiles, so the server's SMS guard lets codes go to them), each family in a block of
// its own, with the account's number in the last seven digits; unknown numbers are drawn
// from a block no family uses (+7 707…).
type family struct {
	name  string
	email func(i int) string
	phone func(i int) string
}

// loadAccounts are the accounts of login, recovery-email and recovery-phone: their
// password never changes. fullRecovery resets passwords, so it has a family of its own, or
// a login run after it would find every password changed.
var (
	loadAccounts = family{name: "load",
		email: func(i int) string { return fmt.Sprintf("load-%d@load.kilt.test", i) },
		phone: func(i int) string { return fmt.Sprintf("+7700%07d", i) }}
	resetAccounts = family{name: "reset",
		email: func(i int) string { return fmt.Sprintf("load-reset-%d@load.kilt.test", i) },
		phone: func(i int) string { return fmt.Sprintf("+7701%07d", i) }}
)

// unknownPhoneBlock is the prefix of the numbers no load account has.
const unknownPhoneBlock = "+7707"

// prepareAccounts opens the server's database and makes sure the first n accounts of f
// exist, reporting on env.Log. phones says whether the run sends to the accounts' numbers.
func prepareAccounts(ctx context.Context, env *Env, f family, n int, phones bool) error {
	start := time.Now()
	app, err := env.OpenApp(ctx)
	if err != nil {
		return fmt.Errorf("opening the database: %w", err)
	}
	defer app.Close()
	created, err := ensureAccounts(ctx, app, f, n, phones)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Log, "accounts: %d ready (%d created, %d reused) in %v; Argon2id %s\n",
		n, created, int64(n)-created, time.Since(start).Round(time.Millisecond), app.Hasher.Params())
	return nil
}

// ensureAccounts creates the missing ones of the first n accounts of f and returns how many
// it created; phones is ensureAccount's. It runs as many creations at once as the hashing pool has workers, so none
// waits for a slot long enough to be turned away.
func ensureAccounts(ctx context.Context, app *server.App, f family, n int, phones bool) (created int64, err error) {
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
				made, err := ensureAccount(ctx, app, f, i, phones)
				if err != nil {
					once.Do(func() { first = fmt.Errorf("account %s: %w", f.email(i), err); cancel() })
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

// errOldAccount says an account of a family exists without its phone number.
var errOldAccount = errors.New("exists without its verified phone number (made by an older kilt-load?): " +
	"use a fresh database")

// ensureAccount creates account i of f unless it exists, and reports whether it created it.
// Looking it up first spares the two hashes Add computes before it finds the address taken;
// Add's conflict still covers a creation by someone else in between. An account that exists
// is reused as it is (if it has another password or is locked, the run's answers say so),
// but when phones is set one without the family's phone number is an error: the phone
// scenarios would send their known requests to a number nobody has and measure the unknown
// path twice.
func ensureAccount(ctx context.Context, app *server.App, f family, i int, phones bool) (bool, error) {
	email, phone := f.email(i), f.phone(i)
	id, err := app.Accounts.ParseIdentifier(email)
	if err != nil {
		return false, err
	}
	if a, err := app.Accounts.Lookup(ctx, id); err == nil {
		if phones && (a.Phone != phone || !a.PhoneVerified) {
			return false, errOldAccount
		}
		return false, nil
	} else if !errors.Is(err, kilt.ErrNotFound) {
		return false, err
	}
	for attempt := 0; ; attempt++ {
		_, err := app.Accounts.Add(ctx, account.NewAccount{
			Email: email, EmailVerified: true, Phone: phone, PhoneVerified: true,
			Password: loadPassword, Confirm: loadPassword,
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
