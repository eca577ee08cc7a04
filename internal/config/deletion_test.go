package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDeletionGrace: KILT_DELETION_GRACE defaults to 14 days and refuses what is not a
// duration from 1h to a year, with one problem naming it.
func TestDeletionGrace(t *testing.T) {
	c, err := load(t, []string{"--dev"}, nil, Options{Serve: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.DeletionGrace != 14*24*time.Hour {
		t.Errorf("default grace: got %v, want 336h", c.DeletionGrace)
	}
	if c, err := load(t, []string{"--dev"}, map[string]string{"KILT_DELETION_GRACE": "48h"}, Options{Serve: true}); err != nil || c.DeletionGrace != 48*time.Hour {
		t.Errorf("48h: got %v, %v", c, err)
	}
	for _, bad := range []string{"0s", "30m", "14d", "9000h", "-1h", "soon"} {
		_, err := load(t, []string{"--dev"}, map[string]string{"KILT_DELETION_GRACE": bad}, Options{Serve: true})
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 || !strings.Contains(ce.Error(), "KILT_DELETION_GRACE") {
			t.Errorf("%q: got %v, want one problem naming KILT_DELETION_GRACE", bad, err)
		}
	}
}
