package web_test

import (
	"os"
	"testing"

	"kilt/internal/sqlstore/pgtest"
)

// TestMain starts PostgreSQL for the tests that run on both databases (KILT_TEST_POSTGRES=1).
func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }
