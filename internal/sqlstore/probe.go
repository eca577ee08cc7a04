package sqlstore

import (
	"context"
	"fmt"
	"strings"
)

// What the load tool (cmd/kilt-load) asks of a database beside Kilt's own work: the floor it
// compares a scenario with — a table of its own, written a given number of times per request
// and nothing else — and the size of the database and its tables, before and after a soak.

// floorTable is the load tool's table. Kilt never reads or writes it.
const floorTable = "kilt_load_floor"

// floorReadTable is the read floor's table: floorReadRows rows by primary key, for a
// scenario whose requests only read (kilt-load's userinfo and introspection). Kilt never
// reads or writes it.
const (
	floorReadTable = "kilt_load_floor_read"
	floorReadRows  = 1024
)

// CreateFloor makes the floor's tables if they are missing, the read floor's with its rows.
func (db *DB) CreateFloor(ctx context.Context) error {
	if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+floorTable+` (k TEXT NOT NULL, n BIGINT NOT NULL)`); err != nil {
		return err
	}
	if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+floorReadTable+` (k BIGINT PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		return err
	}
	_, err := db.Exec(ctx, `WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < $1)
		INSERT INTO `+floorReadTable+` (k, v) SELECT i, 'a value of the read floor' FROM s WHERE true ON CONFLICT DO NOTHING`,
		floorReadRows-1)
	return err
}

// DropFloor drops the floor's tables.
func (db *DB) DropFloor(ctx context.Context) error {
	_, err := db.Exec(ctx, `DROP TABLE IF EXISTS `+floorTable)
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, `DROP TABLE IF EXISTS `+floorReadTable)
	return err
}

// FloorWrite is one request of the floor: one transaction of n inserts of key into the
// floor's table.
func (db *DB) FloorWrite(ctx context.Context, key string, n int) error {
	return db.InTx(ctx, func(tx *Tx) error {
		for i := range n {
			if _, err := tx.Exec(ctx, `INSERT INTO `+floorTable+` (k, n) VALUES ($1, $2)`, key, i); err != nil {
				return err
			}
		}
		return nil
	})
}

// FloorRead is one request of the read floor: one row read by its primary key (request n
// reads row n modulo floorReadRows) outside any transaction, as Kilt reads a token.
func (db *DB) FloorRead(ctx context.Context, n int64) error {
	var v string
	err := db.QueryRow(db.pointRead(ctx), `SELECT v FROM `+floorReadTable+` WHERE k = $1`, n%floorReadRows).Scan(&v)
	return unavailable(err)
}

// Size returns the bytes the database takes: on SQLite its pages in use (free pages, the
// write-ahead log and the shared-memory file not counted), on PostgreSQL
// pg_database_size, which counts the space of dead rows until a vacuum reuses it.
func (db *DB) Size(ctx context.Context) (int64, error) {
	q := map[Dialect]string{
		SQLite:   `SELECT (c.page_count - f.freelist_count) * s.page_size FROM pragma_page_count() c, pragma_freelist_count() f, pragma_page_size() s`,
		Postgres: `SELECT pg_database_size(current_database())`,
	}[db.dialect]
	var n int64
	err := db.QueryRow(ctx, q).Scan(&n)
	return n, unavailable(err)
}

// TableRows returns the number of rows of every table of the database (the migrations' own
// and the floor's included).
func (db *DB) TableRows(ctx context.Context) (map[string]int64, error) {
	q := map[Dialect]string{
		SQLite:   `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`,
		Postgres: `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`,
	}[db.dialect]
	rows, err := db.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	counts := make(map[string]int64, len(names))
	for _, name := range names {
		if strings.ContainsAny(name, `"`) {
			return nil, fmt.Errorf("sqlstore: table name %q", name)
		}
		var n int64
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM "`+name+`"`).Scan(&n); err != nil {
			return nil, unavailable(err)
		}
		counts[name] = n
	}
	return counts, nil
}
