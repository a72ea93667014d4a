package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river/riverdriver"

	"github.com/outhook/outhook/transport/durable"
)

// QueueLag returns how long the oldest delivery that is due has waited for a
// worker: the age of the oldest job of durable.Queue in River's available
// state whose scheduled time has passed, or 0 when none is waiting. A lag
// that keeps growing means deliveries come in faster than the workers send
// them. It reads River's job table through the reader pool when there is
// one; on PostgreSQL and SQLite it is one index look-up per River priority.
// Telemetry takes it as a gauge (see the webhook/telemetry module).
func (o *Outbox[TTx]) QueueLag(ctx context.Context) (time.Duration, error) {
	if o.closed.Load() {
		return 0, ErrClosed
	}
	db := o.db
	if o.reader != nil {
		db = o.reader
	}
	now := time.Now().UTC()
	var secs sql.NullFloat64
	var err error
	if o.driver.DatabaseName() == riverdriver.DatabaseNamePostgres {
		q := "SELECT EXTRACT(EPOCH FROM (CAST($2 AS timestamptz) - min(s)))::float8 FROM (" +
			oldestAvailable(o.jobTable(), "$1", "$2") + ") AS oldest"
		err = db.QueryRowContext(ctx, q, durable.Queue, now).Scan(&secs)
	} else {
		// River keeps SQLite times as text in this format, and compares
		// them as text.
		at := now.Round(time.Millisecond).Format("2006-01-02 15:04:05.000")
		q := "SELECT (julianday(?2) - julianday(min(s))) * 86400.0 FROM (" +
			oldestAvailable(o.jobTable(), "?1", "?2") + ")"
		err = db.QueryRowContext(ctx, q, durable.Queue, at).Scan(&secs)
	}
	if err != nil {
		return 0, fmt.Errorf("outbox: queue lag: %w", err)
	}
	if !secs.Valid || secs.Float64 <= 0 {
		return 0, nil
	}
	return time.Duration(secs.Float64 * float64(time.Second)), nil
}

// oldestAvailable is a query for the oldest due scheduled_at of each River
// priority in table, queue and now being the placeholders of the queue's
// name and the current time. One look-up per priority lets the database use
// River's fetch index (state, queue, priority, scheduled_at) for each,
// rather than read every waiting job.
func oldestAvailable(table, queue, now string) string {
	parts := make([]string, 0, riverPriorities)
	for p := 1; p <= riverPriorities; p++ {
		parts = append(parts, fmt.Sprintf("SELECT min(scheduled_at) AS s FROM %s WHERE state = 'available' AND queue = %s AND priority = %d AND scheduled_at <= %s",
			table, queue, p, now))
	}
	return strings.Join(parts, " UNION ALL ")
}

// riverPriorities is how many priorities River has: its jobs have 1 to 4.
const riverPriorities = 4

// jobTable is River's job table, in the Outbox's schema when it has one.
func (o *Outbox[TTx]) jobTable() string {
	if o.schema == "" {
		return "river_job"
	}
	return `"` + strings.ReplaceAll(o.schema, `"`, `""`) + `".river_job`
}
