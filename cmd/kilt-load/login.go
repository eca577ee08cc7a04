package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"kilt/internal/config"
)

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

// Requirements: every client comes from 127.0.0.1, so the per-IP sign-in limit must be off.
func (*login) Requirements(sinkAddrs) []requirement {
	return []requirement{limitOff("KILT_LIMIT_LOGIN_IP",
		"every client comes from 127.0.0.1: past the limit every sign-in is answered 429",
		time.Minute, func(c *config.Config) config.Rate { return c.LimitLoginIP })}
}

func (*login) Summary() string {
	return "sign in (POST /api/v1/sessions) in a loop, one account per client; needs --database"
}

// Prepare makes sure accounts load-0 … load-(N−1)@load.kilt.test exist with loadPassword,
// creating the missing ones directly through the account service (the run then measures
// sign-in alone).
func (l *login) Prepare(ctx context.Context, env *Env) error {
	if !env.HasDatabase {
		return errors.New("the login scenario creates its accounts first: give --database (the server's KILT_DATABASE_URL)")
	}
	if env.Accounts < env.Clients {
		fmt.Fprintf(env.Log, "warning: %d accounts for %d clients: clients sharing an account sign in concurrently, "+
			"which counts as failed attempts until each succeeds, and may be slowed down (429)\n", env.Accounts, env.Clients)
	}
	l.env = env
	l.url = env.endpoint("/api/v1/sessions")
	l.bodies = make([][]byte, env.Accounts)
	for i := range l.bodies {
		b, err := json.Marshal(map[string]string{"identifier": loadAccounts.email(i), "password": loadPassword})
		if err != nil {
			return err
		}
		l.bodies[i] = b
	}
	return prepareAccounts(ctx, env, loadAccounts, env.Accounts, false)
}

// Do signs client's account in once.
func (l *login) Do(ctx context.Context, client int) (Outcome, error) {
	status, _, err := l.env.post(ctx, l.url, l.bodies[client%len(l.bodies)])
	return Outcome{Status: status}, err
}
