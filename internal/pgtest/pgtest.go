// Package pgtest holds the PostgreSQL helpers of outhook's tests: the test
// database from OUTHOOK_TEST_POSTGRES, a fresh schema per test and a pool.
// It is a module of its own so that the core module does not require pgx.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresEnv names the environment variable with the test database's DSN.
const PostgresEnv = "OUTHOOK_TEST_POSTGRES"

// skipMessage is why PostgreSQL tests are skipped.
const skipMessage = PostgresEnv + " is not set: skipping the PostgreSQL test (set it to a postgres:// DSN of a scratch database)"

// PostgresDSN returns the test database DSN, or skips t when it is unset.
// The first skip of a `go test` run also says so on the terminal (see
// announceSkip), since go test shows a passing package's output only with -v.
func PostgresDSN(t testing.TB) string {
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		announceSkip()
		t.Skip(skipMessage)
	}
	return dsn
}

var announceOnce sync.Once

// announceSkip prints one line, once per `go test` invocation, that
// PostgreSQL tests are being skipped. go test buffers the output of a
// passing package and prints it only with -v, so the line goes to the
// controlling terminal; every test binary of one invocation shares its parent
// (the go command), and a marker file named after that parent lets only the
// first binary print. Without a terminal (CI, where the variable is set
// anyway) it is a no-op beyond t.Skip's own message.
func announceSkip() {
	announceOnce.Do(func() {
		marker := filepath.Join(os.TempDir(), fmt.Sprintf("outhook-pgskip-%d", os.Getppid()))
		f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return // another package of this run printed it already
		}
		_ = f.Close()
		tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer tty.Close()
		_, _ = fmt.Fprintf(tty, "outhook: PostgreSQL tests are skipped: %s is not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)\n", PostgresEnv)
	})
}

// NewSchema creates a fresh schema in the test database and drops it when t
// ends. It returns the schema name and a DSN whose search_path is it.
func NewSchema(t testing.TB) (schema, dsn string) {
	base := PostgresDSN(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema = "outhook_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, base)
	if err != nil {
		t.Fatalf("connect %s: %v", PostgresEnv, err)
	}
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		pool.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		defer pool.Close()
		if _, err := pool.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema, WithSearchPath(base, schema)
}

// WithSearchPath adds search_path=schema to a postgres:// DSN.
func WithSearchPath(dsn, schema string) string {
	sep := "?"
	for i := 0; i < len(dsn); i++ {
		if dsn[i] == '?' {
			sep = "&"
		}
	}
	return dsn + sep + "search_path=" + schema
}

// NewPool opens a pool on dsn, closed when t ends.
func NewPool(t testing.TB, dsn string) *pgxpool.Pool {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("parse dsn: %v", err)
	}
	cfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}
