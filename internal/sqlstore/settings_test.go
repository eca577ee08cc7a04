package sqlstore

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"kilt"
)

func TestSetting(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		_, err := db.Setting(ctx, "absent")
		if !errors.Is(err, kilt.ErrNotFound) || kilt.ErrorKind(err) != kilt.KindNotFound {
			t.Errorf("Setting(absent) error = %v, want kilt.ErrNotFound", err)
		}

		got, err := db.EnsureSetting(ctx, "secret", "first")
		if err != nil || got != "first" {
			t.Errorf("first EnsureSetting = %q, %v, want %q, nil", got, err, "first")
		}
		got, err = db.EnsureSetting(ctx, "secret", "second")
		if err != nil || got != "first" {
			t.Errorf("second EnsureSetting = %q, %v, want the first value %q", got, err, "first")
		}
		got, err = db.Setting(ctx, "secret")
		if err != nil || got != "first" {
			t.Errorf("Setting = %q, %v, want %q, nil", got, err, "first")
		}
		got, err = db.EnsureSetting(ctx, "other", "")
		if err != nil || got != "" {
			t.Errorf("EnsureSetting(other, empty) = %q, %v, want an empty value, nil", got, err)
		}
	})
}

// TestEnsureSettingConcurrently has several instances generate a secret at once: all must end
// up with the same one.
func TestEnsureSettingConcurrently(t *testing.T) {
	for _, d := range testDialects {
		t.Run(d.String(), func(t *testing.T) {
			url := testURL(t, d)
			dbs := []*DB{openTestDB(t, url), openTestDB(t, url), openTestDB(t, url)}
			if _, err := dbs[0].Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			const callers = 9
			got := make([]string, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() {
					v, err := dbs[i%len(dbs)].EnsureSetting(t.Context(), "secret", fmt.Sprintf("value-%d", i))
					if err != nil {
						t.Errorf("caller %d: EnsureSetting: %v", i, err)
					}
					got[i] = v
				})
			}
			wg.Wait()
			if !strings.HasPrefix(got[0], "value-") {
				t.Fatalf("caller 0 got %q, want one of the values offered", got[0])
			}
			for i, v := range got {
				if v != got[0] {
					t.Errorf("caller %d got %q, caller 0 got %q: want the same value", i, v, got[0])
				}
			}
		})
	}
}

func TestEnsureSettingErrorHidesValue(t *testing.T) {
	forEachEmptyDialect(t, func(t *testing.T, db *DB) {
		// Not migrated: there is no settings table.
		_, err := db.EnsureSetting(t.Context(), "secret", "s3cret-value")
		if err == nil {
			t.Fatal("EnsureSetting without a settings table succeeded, want an error")
		}
		if strings.Contains(err.Error(), "s3cret-value") {
			t.Errorf("EnsureSetting error %q reveals the value", err)
		}
	})
}
