package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"kilt"
)

// Settings are server-wide values kept in the database so that every instance shares them
// and they survive restarts. Values may be secrets: they never appear in errors.

// Setting returns the value stored under key, or an error wrapping kilt.ErrNotFound if there
// is none.
func (db *DB) Setting(ctx context.Context, key string) (string, error) {
	var value string
	err := db.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("sqlstore: setting %q: %w", key, kilt.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("sqlstore: reading setting %q: %w", key, err)
	}
	return value, nil
}

// EnsureSetting stores value under key unless a value is stored there already, and returns
// the stored value. Of several callers, on any number of instances, the first to commit
// wins and all get its value: this is how a secret generated on first start is kept.
func (db *DB) EnsureSetting(ctx context.Context, key, value string) (string, error) {
	var stored string
	err := db.InTx(ctx, func(tx *Tx) error {
		// On PostgreSQL the INSERT waits for a concurrent uncommitted insert of the same key,
		// and the SELECT, with a snapshot of its own under READ COMMITTED, then sees it.
		if _, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
			key, value); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&stored)
	})
	if err != nil {
		return "", fmt.Errorf("sqlstore: storing setting %q: %w", key, err)
	}
	return stored, nil
}
