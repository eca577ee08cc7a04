package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
)

// resetMix weighs resets against sign-ins under load in one run (SPEC §7: resets per
// second at least a third of the sign-in rate): even clients sign in again and again (the
// login scenario's operation), odd clients recover an account by SMS code end to end and
// set a new password (full-recovery's), all at once. Both rates are measured on the same
// machine at the same time, through the same hashing pool, so the noise of a shared
// machine weighs on both alike and their ratio is what the run reports (Notes).
//
// The pool is what both wait for: with every slot busy, each kind gets slots in proportion
// to its clients and pays for them with its Argon2id computations, so the ratio of the
// rates tells the ratio of the costs (a sign-in costs one computation). An account's
// history grows with each reset: run once to fill the histories (6 resets per account),
// then measure (docs/performance.md, "Password history").
type resetMix struct {
	signIn   login
	recovery fullRecovery
	// done counts the operations of each kind that did their work.
	signIns, resets atomic.Int64
}

func (*resetMix) Name() string { return "reset-mix" }

func (*resetMix) Summary() string {
	return "sign in (even clients) and recover by SMS code with a new password (odd clients) at once: resets per second against sign-ins per second; needs --database"
}

func (*resetMix) Unit() string { return "operations" }

func (*resetMix) Sinks() (mail, sms bool) { return true, true }

func (m *resetMix) Requirements(a sinkAddrs) []requirement {
	return append(m.signIn.Requirements(a), m.recovery.Requirements(a)...)
}

// Prepare prepares both scenarios, each for its half of the clients and of the accounts.
func (m *resetMix) Prepare(ctx context.Context, env *Env) error {
	if env.Clients < 2 {
		return fmt.Errorf("the reset-mix scenario needs at least 2 clients, one of each kind (--concurrency)")
	}
	for _, half := range []struct {
		s       Scenario
		clients int
	}{{&m.signIn, (env.Clients + 1) / 2}, {&m.recovery, env.Clients / 2}} {
		sub := subEnv(env, half.clients)
		if err := half.s.Prepare(ctx, sub); err != nil {
			return err
		}
	}
	return nil
}

// subEnv is env for a scenario that gets clients of its clients and as many of its
// accounts (at least one each).
func subEnv(env *Env, clients int) *Env {
	return &Env{Target: env.Target, HTTP: env.HTTP, Clients: clients, Accounts: max(env.Accounts/2, clients),
		Count: env.Count, Timeout: env.Timeout, Config: env.Config, HasDatabase: env.HasDatabase,
		Mail: env.Mail, SMS: env.SMS, Log: env.Log, ForwardedFor: env.ForwardedFor}
}

// Do signs in for an even client and recovers an account for an odd one; the class says
// which ("sign-in", "reset", or "reset failed at STEP").
func (m *resetMix) Do(ctx context.Context, client int) (Outcome, error) {
	if client%2 == 0 {
		o, err := m.signIn.Do(ctx, client/2)
		o.Class = "sign-in"
		if err == nil && o.Status/100 == 2 {
			m.signIns.Add(1)
		}
		return o, err
	}
	o, err := m.recovery.Do(ctx, client/2)
	if o.Class == "completed" {
		m.resets.Add(1)
	}
	o.Class = strings.TrimSpace("reset " + strings.TrimPrefix(o.Class, "completed"))
	return o, err
}

// Notes: the completed operations of each kind and their ratio, per client of each kind
// (the sign-in clients may be one more).
func (m *resetMix) Notes() []Note {
	signIns, resets := m.signIns.Load(), m.resets.Load()
	clientsIn, clientsReset := m.signIn.env.Clients, m.recovery.env.Clients
	notes := []Note{
		{Name: "sign-ins completed", Value: fmt.Sprintf("%d by %d clients", signIns, clientsIn)},
		{Name: "resets completed", Value: fmt.Sprintf("%d by %d clients", resets, clientsReset)},
	}
	if signIns > 0 && clientsReset > 0 {
		ratio := float64(resets) / float64(clientsReset) / (float64(signIns) / float64(clientsIn))
		notes = append(notes, Note{Name: "resets/s ÷ sign-ins/s, per client", Value: fmt.Sprintf("%.2f (target ≥ 0.33)", ratio)})
	}
	return notes
}
