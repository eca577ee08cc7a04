package sqlstore

import (
	"database/sql"
	"fmt"
	"time"
)

// Times: SQLite stores them as INTEGER Unix microseconds, PostgreSQL as TIMESTAMPTZ.

// TimeCol returns a scan destination for a time column of either dialect: it accepts an
// int64 of Unix microseconds (SQLite) or a time.Time (PostgreSQL), stores the time in UTC in
// *t, and stores the zero time for NULL.
func TimeCol(t *time.Time) sql.Scanner { return timeScanner{t} }

// NullTimeCol is TimeCol for a nullable column: it stores nil in *t for NULL, and otherwise
// a new time in UTC.
func NullTimeCol(t **time.Time) sql.Scanner { return nullTimeScanner{t} }

type timeScanner struct{ t *time.Time }

func (s timeScanner) Scan(src any) error {
	if src == nil {
		*s.t = time.Time{}
		return nil
	}
	t, err := scanTime(src)
	if err != nil {
		return err
	}
	*s.t = t
	return nil
}

type nullTimeScanner struct{ t **time.Time }

func (s nullTimeScanner) Scan(src any) error {
	if src == nil {
		*s.t = nil
		return nil
	}
	t, err := scanTime(src)
	if err != nil {
		return err
	}
	*s.t = &t
	return nil
}

func scanTime(src any) (time.Time, error) {
	switch v := src.(type) {
	case int64:
		return time.UnixMicro(v).UTC(), nil
	case time.Time:
		return v.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("sqlstore: cannot scan a %T into a time", src)
}
