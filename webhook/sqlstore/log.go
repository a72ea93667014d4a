package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
)

// AttemptRecord is one row of the delivery log: one HTTP attempt. It is
// webhook.AttemptRecord, the record of every DeliveryLog.
type AttemptRecord = webhook.AttemptRecord

// Log is the delivery log in the outhook_attempt table: every attempt of
// every delivery, queryable per delivery and per webhook record. It is a
// webhook.DeliveryLog, safe for concurrent use.
type Log struct {
	db      *sql.DB
	rdb     *sql.DB // reads; db unless WithReader
	d       Dialect
	batch   int    // most rows a write holds (WithLogBatch)
	insert1 string // the INSERT of one row
	batcher batcher
	wrote   func(rows int) // tests: called for each statement written
}

var _ webhook.DeliveryLog = (*Log)(nil)

// NewLog returns a Log on db, with d its dialect. Run Migrate first.
func NewLog(db *sql.DB, d Dialect, opts ...LogOption) *Log {
	l := &Log{db: db, rdb: db, d: d, batch: DefaultLogBatch}
	for _, o := range opts {
		o.applyLog(l)
	}
	l.insert1 = l.insertStatement(1)
	return l
}

// RecordAttempt appends at, an attempt of env, to the log, and returns once
// it is committed. Concurrent calls share writes (see WithLogBatch). If ctx
// ends first, RecordAttempt returns its error, and the row may still be
// written.
func (l *Log) RecordAttempt(ctx context.Context, env transport.Envelope, at transport.Attempt) error {
	p := &pendingAttempt{done: make(chan struct{}), args: attemptArgs(env, at)}
	var err error
	if l.batch <= 1 {
		_, err = l.db.ExecContext(ctx, l.insert1, p.args...)
	} else {
		l.enqueue(p)
		select {
		case <-p.done:
			err = p.err
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		return fmt.Errorf("sqlstore: log attempt %d of delivery %s: %w", at.Number, env.DeliveryID, err)
	}
	return nil
}

// attemptArgs are the values of at, an attempt of env, in the order of
// insertStatement's columns.
func attemptArgs(env transport.Envelope, at transport.Attempt) []any {
	errText := ""
	if at.Err != nil {
		errText = at.Err.Error()
	}
	return []any{env.DeliveryID.String(), env.WebhookID.String(), env.Trigger, at.Number,
		at.Start.UnixMicro(), at.Duration.Microseconds(), at.StatusCode, at.Outcome.String(),
		clean(errText), clean(at.Excerpt), clean(env.Tenant)}
}

// clean makes s storable as PostgreSQL text: valid UTF-8 without NUL bytes.
func clean(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

const attemptColumns = `id, delivery_id, webhook_id, trigger_id, attempt, start_us, duration_us, status_code, outcome, error, excerpt, tenant`

// Attempts implements webhook.DeliveryLog: a page of the attempts q
// selects, newest first (by ID), after q.Before. Each selection reads an
// index in that order: by delivery, by record, by tenant, or every
// attempt; the outcome filters what it reads.
func (l *Log) Attempts(ctx context.Context, q webhook.AttemptQuery) (webhook.AttemptPage, error) {
	var before int64
	if q.Before != "" {
		var err error
		if before, err = webhook.ParseAttemptCursor(q.Before); err != nil {
			return webhook.AttemptPage{}, err
		}
	}
	size := q.PageSize()
	query, args := attemptsQuery(l.d, q, before, size+1)
	rows, err := l.query(ctx, query, args...)
	if err != nil {
		return webhook.AttemptPage{}, err
	}
	page := webhook.AttemptPage{Attempts: rows}
	if len(rows) > size {
		page.Attempts = rows[:size]
		page.Next = webhook.AttemptCursor(rows[size-1].ID)
	}
	return page, nil
}

// attemptsQuery is the query of Attempts: at most limit rows of q before
// the ID before (when > 0).
func attemptsQuery(d Dialect, q webhook.AttemptQuery, before int64, limit int) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if !q.AllTenants {
		tenant := `tenant = ?`
		if !d.dollar && (q.DeliveryID != uuid.Nil || q.WebhookID != uuid.Nil) {
			// A delivery's or a record's attempts are a few of its
			// tenant's: SQLite without statistics would read the tenant's
			// index all the same, unless the unary + keeps it off it.
			tenant = `+tenant = ?`
		}
		add(tenant, q.Tenant)
	}
	if q.DeliveryID != uuid.Nil {
		add(`delivery_id = ?`, q.DeliveryID.String())
	}
	if q.WebhookID != uuid.Nil {
		add(`webhook_id = ?`, q.WebhookID.String())
	}
	if q.Outcome != "" {
		add(`outcome = ?`, q.Outcome)
	}
	if before > 0 {
		add(`id < ?`, before)
	}
	query := `SELECT ` + attemptColumns + ` FROM outhook_attempt`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	args = append(args, limit)
	return query + ` ORDER BY id DESC LIMIT ?`, args
}

// ByDelivery returns the attempts of one delivery, first first.
func (l *Log) ByDelivery(ctx context.Context, deliveryID uuid.UUID) ([]AttemptRecord, error) {
	return l.query(ctx, `SELECT `+attemptColumns+` FROM outhook_attempt WHERE delivery_id = ? ORDER BY id`, deliveryID.String())
}

// ByWebhook returns the latest attempts sent to one record, newest first, at
// most limit of them (all when limit <= 0).
func (l *Log) ByWebhook(ctx context.Context, webhookID uuid.UUID, limit int) ([]AttemptRecord, error) {
	q := `SELECT ` + attemptColumns + ` FROM outhook_attempt WHERE webhook_id = ? ORDER BY start_us DESC, id DESC`
	args := []any{webhookID.String()}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	return l.query(ctx, q, args...)
}

// DeleteBefore deletes the attempts that started before t and reports how
// many it deleted. It is the retention of the delivery log.
func (l *Log) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := l.db.ExecContext(ctx, l.d.rebind(`DELETE FROM outhook_attempt WHERE start_us < ?`), t.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("sqlstore: delete attempts before %s: %w", t.Format(time.RFC3339), err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// LastAttempt returns the highest attempt number logged for a delivery, or 0.
func (l *Log) LastAttempt(ctx context.Context, deliveryID uuid.UUID) (int, error) {
	var n sql.NullInt64
	err := l.rdb.QueryRowContext(ctx, l.d.rebind(`SELECT MAX(attempt) FROM outhook_attempt WHERE delivery_id = ?`),
		deliveryID.String()).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sqlstore: last attempt of %s: %w", deliveryID, err)
	}
	return int(n.Int64), nil
}

func (l *Log) query(ctx context.Context, q string, args ...any) ([]AttemptRecord, error) {
	rows, err := l.rdb.QueryContext(ctx, l.d.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: query attempts: %w", err)
	}
	defer rows.Close()
	out := []AttemptRecord{}
	for rows.Next() {
		var (
			r              AttemptRecord
			did, wid       string
			startUS, durUS int64
		)
		if err := rows.Scan(&r.ID, &did, &wid, &r.Trigger, &r.Attempt, &startUS, &durUS,
			&r.StatusCode, &r.Outcome, &r.Error, &r.Excerpt, &r.Tenant); err != nil {
			return nil, fmt.Errorf("sqlstore: scan attempt: %w", err)
		}
		r.DeliveryID, _ = uuid.Parse(did)
		r.WebhookID, _ = uuid.Parse(wid)
		r.Start = time.UnixMicro(startUS).UTC()
		r.Duration = time.Duration(durUS) * time.Microsecond
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: query attempts: %w", err)
	}
	return out, nil
}
