package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/webhook"
)

// Store is a webhook.Store in the outhook_webhook table. A record is kept as
// one JSON document beside columns for what queries filter on or write alone
// (tenant, disabled, version, the disabling's reason and time, updated_at)
// and for its secrets (secret, previous_secret and headers, in plaintext or
// encrypted: see WithEncryption), so fields added to webhook.Webhook are
// stored without a migration. The route index (outhook_webhook_route) holds
// each record's tenant, triggers and channels for ListActive. It is safe for
// concurrent use, by many processes on one database too: Create, Update and
// Delete write a record and its routes in one transaction, Update and
// Disable are conditional writes.
type Store struct {
	db   *sql.DB
	rdb  *sql.DB // reads; db unless WithReader
	d    Dialect
	now  func() time.Time
	keys *Keyring // nil: secrets in plaintext
	max  int      // records per tenant; 0: no limit
	// writes counts the writes to records through this Store, each after
	// it ended: a Cache drops what it read before one.
	writes atomic.Uint64
	// reads prepares Get's and ListActive's queries on rdb (SQLite).
	reads *stmtCache
}

var _ webhook.Store = (*Store)(nil)

// New returns a Store on db, with d its dialect. Run Migrate first.
func New(db *sql.DB, d Dialect, opts ...StoreOption) *Store {
	s := &Store{db: db, rdb: db, d: d, now: time.Now}
	for _, o := range opts {
		o.applyStore(s)
	}
	s.reads = newStmtCache(s.rdb, d)
	return s
}

// StoreOption configures a Store (New).
type StoreOption interface{ applyStore(*Store) }

// LogOption configures a Log (NewLog).
type LogOption interface{ applyLog(*Log) }

// ReaderOption is a StoreOption and a LogOption; WithReader returns one.
type ReaderOption struct{ rdb *sql.DB }

func (o ReaderOption) applyStore(s *Store) {
	if o.rdb != nil {
		s.rdb = o.rdb
	}
}

func (o ReaderOption) applyLog(l *Log) {
	if o.rdb != nil {
		l.rdb = o.rdb
	}
}

// WithReader makes a Store or a Log read through rdb, a second pool on the
// same database. SQLite setups with a single-connection writer pool use it
// so that reads neither wait for nor deadlock with an open write
// transaction.
func WithReader(rdb *sql.DB) ReaderOption { return ReaderOption{rdb: rdb} }

type storeOption func(*Store)

func (o storeOption) applyStore(s *Store) { o(s) }

// WithClock makes a Store take the records' timestamps from now (time.Now
// otherwise).
func WithClock(now func() time.Time) StoreOption {
	return storeOption(func(s *Store) {
		if now != nil {
			s.now = now
		}
	})
}

// WithMaxRecordsPerTenant makes Create refuse, with an error matching
// webhook.ErrTenantFull, a record whose tenant has n records already, even
// when processes create records of one tenant at once; n <= 0 sets no limit
// (the default). Such Creates take turns per tenant (PostgreSQL) or wait for
// the database's write lock anyway (SQLite).
func WithMaxRecordsPerTenant(n int) StoreOption {
	return storeOption(func(s *Store) { s.max = max(n, 0) })
}

// record is webhook.Webhook without its methods, so a MarshalJSON added for
// an API (one that hides the secret, say) does not change what is stored.
type record webhook.Webhook

// rowColumns are the columns of outhook_webhook a row is read from.
const rowColumns = `id, tenant, disabled, data, version, updated_at, disabled_reason, disabled_at, key_id, secret, previous_secret, headers`

// row is a record as stored. The secret columns hold plaintext when keyID
// is empty, and what Keyring.seal returns under the key keyID otherwise.
type row struct {
	id, tenant                             string
	disabled                               bool
	data                                   string
	version                                int64
	updatedAt, disabledReason, disabledAt  string
	keyID, secret, previousSecret, headers string
}

func (r *row) scan(sc interface{ Scan(...any) error }) error {
	return sc.Scan(&r.id, &r.tenant, &r.disabled, &r.data, &r.version, &r.updatedAt, &r.disabledReason, &r.disabledAt,
		&r.keyID, &r.secret, &r.previousSecret, &r.headers)
}

// formatTime is how a time column holds t: RFC 3339 in UTC with the
// nanoseconds, or empty for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// encodeRow returns the row of w: the JSON document without the fields kept
// in columns, and the secrets, sealed under kr's current key unless kr is nil.
func encodeRow(w *webhook.Webhook, kr *Keyring) (*row, error) {
	doc := *w
	doc.Tenant = ""
	doc.Secret, doc.PreviousSecret, doc.Headers = "", "", nil
	doc.Disabled, doc.DisabledReason, doc.DisabledAt = false, "", time.Time{}
	doc.UpdatedAt, doc.Version = time.Time{}, 0
	data, err := json.Marshal((*record)(&doc))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: encode record %s: %w", w.ID, err)
	}
	headers := ""
	if len(w.Headers) > 0 {
		b, err := json.Marshal(w.Headers)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: encode record %s: headers: %w", w.ID, err)
		}
		headers = string(b)
	}
	r := &row{id: w.ID.String(), tenant: w.Tenant, disabled: w.Disabled, data: string(data), version: w.Version,
		updatedAt: formatTime(w.UpdatedAt), disabledReason: w.DisabledReason, disabledAt: formatTime(w.DisabledAt),
		secret: w.Secret.Reveal(), previousSecret: w.PreviousSecret.Reveal(), headers: headers}
	if kr != nil {
		r.keyID = kr.current
		r.secret = kr.seal(r.id, colSecret, r.secret)
		r.previousSecret = kr.seal(r.id, colPreviousSecret, r.previousSecret)
		r.headers = kr.seal(r.id, colHeaders, r.headers)
	}
	return r, nil
}

// decodeRow returns the record of r, decrypting its secrets with kr.
func decodeRow(r *row, kr *Keyring) (*webhook.Webhook, error) {
	var doc record
	if err := json.Unmarshal([]byte(r.data), &doc); err != nil {
		return nil, fmt.Errorf("sqlstore: decode record %s: %w", r.id, err)
	}
	w := (*webhook.Webhook)(&doc)
	w.Tenant, w.Disabled, w.DisabledReason, w.Version = r.tenant, r.disabled, r.disabledReason, r.version
	var err error
	if w.UpdatedAt, err = parseTime(r.updatedAt); err != nil {
		return nil, fmt.Errorf("sqlstore: decode record %s: updated_at: %w", r.id, err)
	}
	if w.DisabledAt, err = parseTime(r.disabledAt); err != nil {
		return nil, fmt.Errorf("sqlstore: decode record %s: disabled_at: %w", r.id, err)
	}
	secret, previous, headers := r.secret, r.previousSecret, r.headers
	if r.keyID != "" {
		if secret, err = kr.open(r.id, r.keyID, colSecret, secret); err != nil {
			return nil, err
		}
		if previous, err = kr.open(r.id, r.keyID, colPreviousSecret, previous); err != nil {
			return nil, err
		}
		if headers, err = kr.open(r.id, r.keyID, colHeaders, headers); err != nil {
			return nil, err
		}
	}
	w.Secret, w.PreviousSecret, w.Headers = webhook.Secret(secret), webhook.Secret(previous), nil
	if headers != "" {
		if err := json.Unmarshal([]byte(headers), &w.Headers); err != nil {
			return nil, fmt.Errorf("sqlstore: decode record %s: headers: %w", r.id, err)
		}
	}
	return w, nil
}

// readRow reads the row of id through db, or returns an error matching
// webhook.ErrNotFound.
func (s *Store) readRow(ctx context.Context, db *sql.DB, id string) (*row, error) {
	var r row
	q := s.d.rebind(`SELECT ` + rowColumns + ` FROM outhook_webhook WHERE id = ?`)
	var sc *sql.Row
	if db == s.rdb {
		sc = s.reads.queryRow(ctx, q, id)
	} else {
		sc = db.QueryRowContext(ctx, q, id)
	}
	err := r.scan(sc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", webhook.ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get %s: %w", id, err)
	}
	return &r, nil
}

// changeCount returns how many changes the triggers of Migrate have counted
// in the record and route tables (SQLite), through the reader.
func (s *Store) changeCount(ctx context.Context) (int64, error) {
	var v int64
	if err := s.reads.queryRow(ctx, `SELECT v FROM outhook_webhook_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlstore: read the change count: %w", err)
	}
	return v, nil
}

// storedVersion returns the version of the row of id, read through the
// writer, and whether there is one.
func (s *Store) storedVersion(ctx context.Context, id uuid.UUID) (int64, bool, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, s.d.rebind(`SELECT version FROM outhook_webhook WHERE id = ?`), id.String()).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("sqlstore: read %s: %w", id, err)
	}
	return v, true, nil
}

// insertColumns are the columns Create writes, in the order of row.values.
const insertColumns = `id, tenant, disabled, created_us, data, version, updated_at, disabled_reason, disabled_at, key_id, secret, previous_secret, headers`

// values returns what Create writes to insertColumns for r, created at
// createdUS.
func (r *row) values(createdUS int64) []any {
	return []any{r.id, r.tenant, r.disabled, createdUS, r.data, r.version, r.updatedAt, r.disabledReason, r.disabledAt,
		r.keyID, r.secret, r.previousSecret, r.headers}
}

// Create implements webhook.Store: the record and its routes in one
// transaction. With WithMaxRecordsPerTenant it counts the tenant's records
// in that transaction, after its INSERT, and rolls back when they are too
// many.
func (s *Store) Create(ctx context.Context, w *webhook.Webhook) error {
	if err := webhook.PrepareCreate(w, s.now()); err != nil {
		return err
	}
	r, err := encodeRow(w, s.keys)
	if err != nil {
		return err
	}
	if _, found, err := s.storedVersion(ctx, w.ID); err != nil {
		return err
	} else if found {
		return fmt.Errorf("%w: %s", webhook.ErrExists, w.ID)
	}
	defer s.writes.Add(1) // a new record changes what ListActive returns
	err = s.inTx(ctx, func(tx *sql.Tx) error { return s.insert(ctx, tx, w, r) })
	switch {
	case err == nil:
		return nil
	case errors.Is(err, webhook.ErrTenantFull):
		return err
	}
	// A concurrent Create of the same ID loses on the primary key.
	if _, found, _ := s.storedVersion(ctx, w.ID); found {
		return fmt.Errorf("%w: %s", webhook.ErrExists, w.ID)
	}
	return fmt.Errorf("sqlstore: create %s: %w", w.ID, err)
}

// insert writes r, the row of w, and its routes in tx, and refuses a tenant
// over the store's limit.
func (s *Store) insert(ctx context.Context, tx *sql.Tx, w *webhook.Webhook, r *row) error {
	if s.max > 0 {
		if err := lockTenant(ctx, tx, s.d, w.Tenant); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO outhook_webhook (`+insertColumns+`)
	VALUES (`+placeholders(13)+`)`), r.values(w.CreatedAt.UnixMicro())...)
	if err != nil {
		return err
	}
	if err := insertRoutes(ctx, tx, s.d, routesOf(w)); err != nil {
		return err
	}
	if s.max == 0 {
		return nil
	}
	var n int
	err = tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM outhook_webhook WHERE tenant = ?`), w.Tenant).Scan(&n)
	if err != nil {
		return fmt.Errorf("count the records of tenant %q: %w", w.Tenant, err)
	}
	if n > s.max {
		return webhook.TenantFull(w, s.max)
	}
	return nil
}

// Get implements webhook.Store. A record whose secrets cannot be decrypted
// gives a *DecryptError.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (*webhook.Webhook, error) {
	r, err := s.readRow(ctx, s.rdb, id.String())
	if err != nil {
		return nil, err
	}
	return decodeRow(r, s.keys)
}

// conflict is the error of an Update at version have of a record stored at want.
func conflict(id uuid.UUID, have, want int64) error {
	return fmt.Errorf("%w: %s at version %d, stored version %d", webhook.ErrConflict, id, have, want)
}

// Update implements webhook.Store: one write, conditional on w.Version being
// the stored version, with the record's routes rewritten in its transaction.
// CreatedAt is kept from the stored record, and so is the secret when
// w.Secret is empty.
func (s *Store) Update(ctx context.Context, w *webhook.Webhook) error {
	if err := w.Validate(); err != nil {
		return err
	}
	old, err := s.readRow(ctx, s.rdb, w.ID.String())
	if err != nil {
		return err
	}
	if old.tenant != w.Tenant {
		return webhook.TenantChanged(w, old.tenant)
	}
	if old.version != w.Version {
		return conflict(w.ID, w.Version, old.version)
	}
	var stored record
	if err := json.Unmarshal([]byte(old.data), &stored); err != nil {
		return fmt.Errorf("sqlstore: decode record %s: %w", w.ID, err)
	}
	c := w.Clone()
	if c.Secret == "" {
		// Only this case needs the stored secrets decrypted: a record with
		// a new secret replaces a row whose key is lost.
		o, err := decodeRow(old, s.keys)
		if err != nil {
			return err
		}
		c.Secret = o.Secret
	}
	c.CreatedAt = stored.CreatedAt
	c.UpdatedAt = s.now().UTC()
	c.Version = w.Version + 1
	written, err := s.replace(ctx, c, w.Version)
	if err != nil {
		return fmt.Errorf("sqlstore: update %s: %w", w.ID, err)
	}
	if !written {
		v, found, err := s.storedVersion(ctx, w.ID)
		switch {
		case err != nil:
			return err
		case !found:
			return fmt.Errorf("%w: %s", webhook.ErrNotFound, w.ID)
		default:
			return conflict(w.ID, w.Version, v)
		}
	}
	w.Secret, w.CreatedAt, w.UpdatedAt, w.Version = c.Secret, c.CreatedAt, c.UpdatedAt, c.Version
	return nil
}

// replace writes c over the stored row of its ID if that row is at version,
// and c's routes over the row's, in one transaction. It reports whether it
// wrote.
func (s *Store) replace(ctx context.Context, c *webhook.Webhook, version int64) (bool, error) {
	r, err := encodeRow(c, s.keys)
	if err != nil {
		return false, err
	}
	defer s.writes.Add(1)
	written := false
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE outhook_webhook
	SET disabled = ?, data = ?, version = ?, updated_at = ?, disabled_reason = ?, disabled_at = ?,
		key_id = ?, secret = ?, previous_secret = ?, headers = ?
	WHERE id = ? AND version = ?`),
			r.disabled, r.data, r.version, r.updatedAt, r.disabledReason, r.disabledAt,
			r.keyID, r.secret, r.previousSecret, r.headers, r.id, version)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		written = true
		if err := deleteRoutes(ctx, tx, s.d, r.id); err != nil {
			return err
		}
		return insertRoutes(ctx, tx, s.d, routesOf(c))
	})
	return written && err == nil, err
}

// Disable implements webhook.Store with one conditional write.
func (s *Store) Disable(ctx context.Context, id uuid.UUID, reason string, at time.Time) (bool, error) {
	defer s.writes.Add(1)
	res, err := s.db.ExecContext(ctx, s.d.rebind(`UPDATE outhook_webhook
	SET disabled = ?, disabled_reason = ?, disabled_at = ?, updated_at = ?, version = version + 1
	WHERE id = ? AND disabled = ?`),
		true, reason, formatTime(at), formatTime(s.now()), id.String(), false)
	if err != nil {
		return false, fmt.Errorf("sqlstore: disable %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlstore: disable %s: %w", id, err)
	}
	if n > 0 {
		return true, nil
	}
	if _, found, err := s.storedVersion(ctx, id); err != nil {
		return false, err
	} else if !found {
		return false, fmt.Errorf("%w: %s", webhook.ErrNotFound, id)
	}
	return false, nil
}

// Delete implements webhook.Store: the record and its routes in one
// transaction.
func (s *Store) Delete(ctx context.Context, id uuid.UUID) error {
	defer s.writes.Add(1)
	errNotFound := fmt.Errorf("%w: %s", webhook.ErrNotFound, id)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM outhook_webhook WHERE id = ?`), id.String())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return errNotFound
		}
		return deleteRoutes(ctx, tx, s.d, id.String())
	})
	if errors.Is(err, errNotFound) {
		return err
	}
	if err != nil {
		return fmt.Errorf("sqlstore: delete %s: %w", id, err)
	}
	return nil
}

// List implements webhook.Store: a page of one tenant's records, or of
// every tenant's, read through an index in the order of webhook.Cursor.
func (s *Store) List(ctx context.Context, q webhook.ListQuery) (webhook.Page, error) {
	var after *webhook.Cursor
	if q.After != "" {
		c, err := webhook.ParseCursor(q.After)
		if err != nil {
			return webhook.Page{}, err
		}
		after = &c
	}
	query, args := listQuery(s.d, q, after)
	recs, err := s.list(ctx, query, args)
	if err != nil {
		return webhook.Page{}, err
	}
	p := webhook.Page{Records: recs}
	if n := q.PageSize(); len(recs) > n {
		p.Records = recs[:n]
		p.Next = webhook.CursorAfter(recs[n-1]).String()
	}
	return p, nil
}

// ListActive implements webhook.Store with one query through the route
// index (see listActiveQuery): its cost grows with the records the route
// reaches, not with the records stored.
func (s *Store) ListActive(ctx context.Context, r webhook.Route) ([]*webhook.Webhook, error) {
	query, args := listActiveQuery(s.d, r)
	return s.list(ctx, query, args)
}

// list runs q, a query for rowColumns already rebound for the dialect, on
// the reader and decodes the records.
func (s *Store) list(ctx context.Context, q string, args []any) ([]*webhook.Webhook, error) {
	rows, err := s.reads.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list: %w", err)
	}
	defer rows.Close()
	out := []*webhook.Webhook{}
	for rows.Next() {
		var r row
		if err := r.scan(rows); err != nil {
			return nil, fmt.Errorf("sqlstore: list: %w", err)
		}
		w, err := decodeRow(&r, s.keys)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list: %w", err)
	}
	return out, nil
}
