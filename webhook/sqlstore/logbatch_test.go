package sqlstore_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook/sqlstore"
)

// TestRecordAttemptConcurrent logs attempts from many goroutines at once,
// batched and one by one: every RecordAttempt that returned nil left its
// row, with its own values, and each delivery's numbers once each.
func TestRecordAttemptConcurrent(t *testing.T) {
	for _, batch := range []int{sqlstore.DefaultLogBatch, 1} {
		forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
			l := sqlstore.NewLog(db, d, sqlstore.WithLogBatch(batch))
			ctx := context.Background()
			const deliveries, attempts = 40, 5
			hook := uuid.New()
			dels := make([]uuid.UUID, deliveries)
			start := time.UnixMicro(time.Now().UnixMicro()).UTC()
			var wg sync.WaitGroup
			for i := range dels {
				dels[i] = uuid.New()
				wg.Go(func() {
					for n := 1; n <= attempts; n++ { // one delivery's attempts follow each other
						at := transport.Attempt{Number: n, Start: start, StatusCode: 500 + n, Outcome: transport.Retry}
						assert.NoError(t, l.RecordAttempt(ctx, envelope(dels[i], hook), at))
					}
				})
			}
			wg.Wait()
			for _, del := range dels {
				rows, err := l.ByDelivery(ctx, del)
				require.NoError(t, err)
				require.Len(t, rows, attempts, "batch %d", batch)
				for i, r := range rows {
					assert.Equal(t, i+1, r.Attempt, "in the order logged")
					assert.Equal(t, 501+i, r.StatusCode)
					assert.Equal(t, del, r.DeliveryID)
					assert.Equal(t, start, r.Start)
				}
				last, err := l.LastAttempt(ctx, del)
				require.NoError(t, err)
				assert.Equal(t, attempts, last)
			}
		})
	}
}

// TestRowsWaitingForTheWriterShareAWrite: on SQLite's one writer
// connection, the attempts logged while the log waits for it go into the
// write it was waiting to make, instead of one write each after it.
func TestRowsWaitingForTheWriterShareAWrite(t *testing.T) {
	db, d := openDB(t, "sqlite")
	db.SetMaxOpenConns(1)
	l := sqlstore.NewLog(db, d)
	var mu sync.Mutex
	var writes []int
	sqlstore.OnWrite(l, func(rows int) { mu.Lock(); writes = append(writes, rows); mu.Unlock() })
	ctx := context.Background()
	writer, err := db.Conn(ctx) // River holds the writer
	require.NoError(t, err)
	const n = 8
	hook := uuid.New()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			at := transport.Attempt{Number: i + 1, Start: time.Now(), StatusCode: 204, Outcome: transport.Success}
			assert.NoError(t, l.RecordAttempt(ctx, envelope(uuid.New(), hook), at))
		})
	}
	require.Eventually(t, func() bool { return sqlstore.PendingRows(l) == n }, 5*time.Second, time.Millisecond,
		"every attempt waits, none taken out yet")
	require.NoError(t, writer.Close())
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []int{n}, writes, "one statement")
}

// TestWriteBatchErrorIsPerRow: a row the database refuses fails its own
// RecordAttempt only; the batch's other rows are written.
func TestWriteBatchErrorIsPerRow(t *testing.T) {
	forEach(t, func(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
		if d == sqlstore.SQLite {
			t.Skip("SQLite stores any integer: no row to refuse")
		}
		l := sqlstore.NewLog(db, d)
		hook := uuid.New()
		envs := []transport.Envelope{envelope(uuid.New(), hook), envelope(uuid.New(), hook), envelope(uuid.New(), hook)}
		ats := []transport.Attempt{{Number: 1, Start: time.Now()}, {Number: 1 << 40, Start: time.Now()}, {Number: 2, Start: time.Now()}}
		errs := sqlstore.WriteBatch(l, envs, ats)
		assert.NoError(t, errs[0])
		assert.Error(t, errs[1], "attempt 1<<40 is out of an INTEGER column's range")
		assert.NoError(t, errs[2])
		for i, want := range []int{1, 0, 2} {
			n, err := l.LastAttempt(context.Background(), envs[i].DeliveryID)
			require.NoError(t, err)
			assert.Equal(t, want, n)
		}
	})
}
