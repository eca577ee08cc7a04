package server

import (
	"context"
	"time"

	"kilt/internal/retention"
)

// The retention job's tables whose rows a domain prunes by its own rule rather than by an
// age in sqlstore's list, each also its metric's label:
const (
	// ssoRows: the single sign-on provider's expired rows. They go in one call, whatever the
	// batch: the provider keeps an authorization request until every token descending from
	// it has expired, which no age of a table's own can say (oidc.Service.Prune).
	ssoRows = "oidc"
	// erasureRows: the accounts whose deletion is due (SPEC §9), erased batch after batch,
	// as soon as due on the job's clock; several instances may run it at once
	// (account.Service.EraseDue).
	erasureRows = "account_erasure"
	// sessionRows: sqlstore's own delete of old sessions, which tells no one, is replaced by
	// the sweep of sessions that timed out (idle, or past their absolute lifetime) and were
	// never used again: each ends through the session domain's one end path — deleted, its
	// tokens revoked, a back-channel logout queued for each application that had it — at the
	// first round after its end (session.Service.EndTimedOut). Every row the old delete would
	// take has timed out, so the sweep takes it first.
	sessionRows = "sessions"
)

// domainPruning runs a domain's pruning for one table name of the retention job: a name the
// store already lists has its pruning replaced (add false); a new name is added, of class
// Void, so it runs every round. run gets the job's batch size.
type domainPruning struct {
	retention.Store
	name string
	add  bool
	run  func(ctx context.Context, limit int) (int, error)
}

func (d domainPruning) Tables() []retention.Table {
	if !d.add {
		return d.Store.Tables()
	}
	return append(d.Store.Tables(), retention.Table{Name: d.name, Class: retention.Void})
}

func (d domainPruning) Prune(ctx context.Context, table string, cutoff time.Time, limit int) (int, error) {
	if table != d.name {
		return d.Store.Prune(ctx, table, cutoff, limit)
	}
	return d.run(ctx, limit)
}
