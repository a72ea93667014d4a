// Package sqlstore keeps outhook's data in a SQL database: webhook records
// (a webhook.Store) and the delivery log of every attempt. It speaks SQLite
// and PostgreSQL through database/sql and imports no driver: open the
// *sql.DB with the driver of your choice (modernc.org/sqlite, pgx's stdlib)
// and name its Dialect.
//
//	db, _ := sql.Open("sqlite", "file:outhook.db?_pragma=busy_timeout(10000)")
//	if err := sqlstore.Migrate(ctx, db, sqlstore.SQLite); err != nil { ... }
//	store := sqlstore.New(db, sqlstore.SQLite)
//	d := webhook.NewDispatcher(store, reg)
//
// # Tenants, routes and pages
//
// Records belong to a tenant (the tenant column) and may restrict
// themselves to channels. Besides the records, Migrate creates a route
// index, outhook_webhook_route: one row per tenant, trigger and channel of
// each record ("" for a record without channels), which Create, Update and
// Delete keep in the transaction that writes the record. ListActive reads
// only the rows of one dispatch's route, so its cost does not grow with the
// records of other tenants or triggers. List pages through one tenant's
// records, or every tenant's, oldest first, with an opaque cursor
// (webhook.ListQuery.After) that seeks in an index on (tenant, created_us,
// id) instead of counting an offset. WithMaxRecordsPerTenant caps each
// tenant's records, also against concurrent Creates.
//
// # Secrets at rest
//
// A record's signing secret, its previous secret and its custom headers
// (which often carry tokens) have columns of their own: secret,
// previous_secret and headers. Without WithEncryption they hold plaintext.
// With it, each value is encrypted with AES-256-GCM under an application key
// kept outside the database, and the key_id column names that key, so keys
// can rotate: give New a Keyring with the new key first and the old ones
// after it, run Store.Reencrypt, then drop the old keys. Rows written before
// encryption was turned on stay readable until Reencrypt encrypts them. The
// rest of a record (name, tenant, URL, triggers, channels, signing
// config...), the route index and the delivery log (Log: response excerpts
// and errors) are not encrypted.
//
// # Caching
//
// A Cache reuses what a Store read (records and the records of a route) for
// up to a TTL without ever serving what a change it can know of made stale:
// writes through its Store apply at once, on SQLite so do everyone's (a
// change count kept by triggers), and on PostgreSQL a listener on
// ChangeChannel drops it per notification. The outbox turns it on for
// SQLite and for outboxpg.New.
//
// The outbox (webhook/outbox) keeps its records here and writes the delivery
// log through a Log; its Migrate calls this package's Migrate. The River
// worker (transport/durable) takes a Log as its attempt recorder.
package sqlstore
