package sqlstore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCheckpointerCopiesTheWAL: what commits reach the database file without a commit ever
// crossing the automatic checkpoint's threshold, which stays only as a backstop.
func TestCheckpointerCopiesTheWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kilt.db")
	db := openTestDB(t, "sqlite:"+path)
	var backstop int
	if err := db.QueryRow(t.Context(), `PRAGMA wal_autocheckpoint`).Scan(&backstop); err != nil || backstop != walBackstopPages {
		t.Fatalf("wal_autocheckpoint = %d, %v; want %d", backstop, err, walBackstopPages)
	}
	createSample(t, db)
	blob := []byte(strings.Repeat("k", 8<<10))
	for i := range 256 { // 2 MiB, far below the backstop's 64 MiB
		if _, err := db.Exec(t.Context(), `INSERT INTO sample (name, data) VALUES ($1, $2)`, time.Duration(i).String(), blob); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() >= 2<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file is %d bytes 15 s after 2 MiB were committed: no checkpoint", fi.Size())
		}
		time.Sleep(10 * time.Millisecond)
	}
	left, err := db.checkpoint(t.Context())
	if err != nil || left != 0 {
		t.Errorf("after the checkpoints, %d frames left, %v; want 0", left, err)
	}
	// Closing stops the checkpointer; the test's cleanup closes once more, which must
	// neither panic nor hang.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
