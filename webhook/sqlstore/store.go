package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/webhook"
)

// Store is a webhook.Store in the outhook_webhook table. A record is kept as
// one JSON document beside the columns that queries filter on, so fields
// added to webhook.Webhook are stored without a migration. It is safe for
// concurrent use, by many processes on one database too.
type Store struct {
	db  *sql.DB
	rdb *sql.DB // reads; db unless WithReader
	d   Dialect
	now func() time.Time
}

var _ webhook.Store = (*Store)(nil)

// New returns a Store on db, with d its dialect. Run Migrate first.
func New(db *sql.DB, d Dialect, opts ...StoreOption) *Store {
	s := &Store{db: db, rdb: db, d: d, now: time.Now}
	for _, o := range opts {
		o.applyStore(s)
	}
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

// record is webhook.Webhook without its methods, so a MarshalJSON added for
// an API (one that hides the secret, say) does not change what is stored.
type record webhook.Webhook

func encodeRecord(w *webhook.Webhook) (string, error) {
	b, err := json.Marshal((*record)(w))
	if err != nil {
		return "", fmt.Errorf("sqlstore: encode record %s: %w", w.ID, err)
	}
	return string(b), nil
}

func decodeRecord(data string) (*webhook.Webhook, error) {
	var r record
	if err := json.Unmarshal([]byte(data), &r); err != nil {
		return nil, fmt.Errorf("sqlstore: decode record: %w", err)
	}
	return (*webhook.Webhook)(&r), nil
}

// Create implements webhook.Store.
func (s *Store) Create(ctx context.Context, w *webhook.Webhook) error {
	if err := webhook.PrepareCreate(w, s.now()); err != nil {
		return err
	}
	data, err := encodeRecord(w)
	if err != nil {
		return err
	}
	if _, err := s.Get(ctx, w.ID); err == nil {
		return fmt.Errorf("%w: %s", webhook.ErrExists, w.ID)
	}
	_, err = s.db.ExecContext(ctx, s.d.rebind(
		`INSERT INTO outhook_webhook (id, disabled, created_us, data) VALUES (?, ?, ?, ?)`),
		w.ID.String(), w.Disabled, w.CreatedAt.UnixMicro(), data)
	if err != nil {
		// A concurrent Create of the same ID loses on the primary key.
		if _, gerr := s.Get(ctx, w.ID); gerr == nil {
			return fmt.Errorf("%w: %s", webhook.ErrExists, w.ID)
		}
		return fmt.Errorf("sqlstore: create %s: %w", w.ID, err)
	}
	return nil
}

// Get implements webhook.Store.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (*webhook.Webhook, error) {
	var data string
	err := s.rdb.QueryRowContext(ctx, s.d.rebind(`SELECT data FROM outhook_webhook WHERE id = ?`), id.String()).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", webhook.ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get %s: %w", id, err)
	}
	return decodeRecord(data)
}

// Update implements webhook.Store. CreatedAt is kept from the stored record,
// and so is the secret when w.Secret is empty.
func (s *Store) Update(ctx context.Context, w *webhook.Webhook) error {
	if err := w.Validate(); err != nil {
		return err
	}
	old, err := s.Get(ctx, w.ID)
	if err != nil {
		return err
	}
	if w.Secret == "" {
		w.Secret = old.Secret
	}
	w.CreatedAt = old.CreatedAt
	w.UpdatedAt = s.now().UTC()
	data, err := encodeRecord(w)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.d.rebind(`UPDATE outhook_webhook SET disabled = ?, data = ? WHERE id = ?`),
		w.Disabled, data, w.ID.String())
	if err != nil {
		return fmt.Errorf("sqlstore: update %s: %w", w.ID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("%w: %s", webhook.ErrNotFound, w.ID)
	}
	return nil
}

// Delete implements webhook.Store.
func (s *Store) Delete(ctx context.Context, id uuid.UUID) error {
	res, err := s.db.ExecContext(ctx, s.d.rebind(`DELETE FROM outhook_webhook WHERE id = ?`), id.String())
	if err != nil {
		return fmt.Errorf("sqlstore: delete %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("%w: %s", webhook.ErrNotFound, id)
	}
	return nil
}

// List implements webhook.Store.
func (s *Store) List(ctx context.Context) ([]*webhook.Webhook, error) {
	return s.list(ctx, `SELECT data FROM outhook_webhook ORDER BY created_us, id`, nil)
}

// ListActive implements webhook.Store. Subscriptions are matched in Go on the
// enabled records, which is fast for the hundreds of records an app has.
func (s *Store) ListActive(ctx context.Context, trigger string) ([]*webhook.Webhook, error) {
	recs, err := s.list(ctx, `SELECT data FROM outhook_webhook WHERE disabled = ? ORDER BY created_us, id`, []any{false})
	if err != nil {
		return nil, err
	}
	out := recs[:0]
	for _, w := range recs {
		if !w.Disabled && w.Subscribes(trigger) {
			out = append(out, w)
		}
	}
	return out, nil
}

func (s *Store) list(ctx context.Context, q string, args []any) ([]*webhook.Webhook, error) {
	rows, err := s.rdb.QueryContext(ctx, s.d.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list: %w", err)
	}
	defer rows.Close()
	out := []*webhook.Webhook{}
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("sqlstore: list: %w", err)
		}
		w, err := decodeRecord(data)
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
