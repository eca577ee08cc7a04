package server

import (
	"context"
	"time"

	"kilt/internal/account"
	"kilt/internal/retention"
)

// erasureRows names the erasure of accounts whose deletion is due in the retention job and
// its metric.
const erasureRows = "account_erasure"

// withErasure adds the erasure of deleted accounts to the retention job (SPEC §9): each
// round, the accounts whose grace period has passed are erased, batch after batch. Its
// class is Void: an account is erased as soon as its deletion is due, on the job's clock.
// Several instances may run it at once (account.Service.EraseDue).
type withErasure struct {
	retention.Store
	accounts *account.Service
}

func (w withErasure) Tables() []retention.Table {
	return append(w.Store.Tables(), retention.Table{Name: erasureRows, Class: retention.Void})
}

func (w withErasure) Prune(ctx context.Context, table string, cutoff time.Time, limit int) (int, error) {
	if table != erasureRows {
		return w.Store.Prune(ctx, table, cutoff, limit)
	}
	return w.accounts.EraseDue(ctx, limit)
}
