package sqlstore

import (
	"strconv"
	"strings"
)

// Dialect is the SQL flavour of a database. Use SQLite or Postgres.
type Dialect struct {
	name     string
	dollar   bool   // $1 placeholders instead of ?
	serial   string // auto-increment primary key column
	boolType string
	// clustered ends a CREATE TABLE whose rows are kept in primary key
	// order, so that an index lookup reads the rows themselves.
	clustered string
}

// Dialects outhook supports.
var (
	// SQLite is SQLite 3.35 or later (modernc.org/sqlite, mattn/go-sqlite3, libSQL).
	SQLite = Dialect{name: "sqlite", serial: "INTEGER PRIMARY KEY AUTOINCREMENT", boolType: "INTEGER", clustered: " WITHOUT ROWID"}
	// Postgres is PostgreSQL 12 or later, through any database/sql driver
	// (pgx's stdlib, lib/pq).
	Postgres = Dialect{name: "postgres", dollar: true, serial: "BIGSERIAL PRIMARY KEY", boolType: "BOOLEAN"}
)

// String returns the dialect's name.
func (d Dialect) String() string { return d.name }

// rebind turns the ? placeholders of q into $1, $2... for PostgreSQL.
func (d Dialect) rebind(q string) string {
	if !d.dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// placeholders returns n comma-separated ? placeholders.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}
