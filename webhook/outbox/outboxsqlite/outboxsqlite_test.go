package outboxsqlite_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/netguard"
	"github.com/outhook/outhook/webhook/outbox"
	"github.com/outhook/outhook/webhook/outbox/outboxsqlite"
)

// OrderPaid is the example's message.
type OrderPaid struct {
	ID int `json:"id"`
}

func (o OrderPaid) JSONSerialize() any { return o }

// An embedded outbox on a SQLite file: deliveries are queued, survive a
// crash, and arrive at the receiver.
func ExampleOpen() {
	ctx := context.Background()
	got := make(chan *http.Request, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
	}))
	defer receiver.Close()

	reg := trigger.NewRegistry()
	if err := trigger.Register[OrderPaid](reg, "shop/order-paid", "an order was paid"); err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "outboxsqlite-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	ob, err := outboxsqlite.Open(filepath.Join(dir, "outhook.db"), reg, outbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		// The default client refuses loopback addresses; this receiver is one.
		outbox.WithSenderOptions(webhook.WithGuard(netguard.New(netguard.AllowLoopback()))),
	)
	if err != nil {
		panic(err)
	}
	defer ob.Close(ctx)
	if err := ob.Migrate(ctx); err != nil {
		panic(err)
	}
	err = ob.Store().Create(ctx, &webhook.Webhook{Name: "shop", Triggers: []string{"shop/order-paid"}, URL: receiver.URL})
	if err != nil {
		panic(err)
	}
	if err := ob.Start(ctx); err != nil {
		panic(err)
	}

	ds, err := ob.Dispatch(ctx, OrderPaid{ID: 7})
	if err != nil {
		panic(err)
	}
	fmt.Println(ds[0].Status)
	r := <-got
	fmt.Println(r.Header.Get(webhook.HeaderTrigger), r.Header.Get(webhook.HeaderDeliveryID) == ds[0].ID.String())
	// Output:
	// queued
	// shop/order-paid true
}

// Open puts the database in exactly the file it is given, whatever
// characters its name has.
func TestOpenKeepsThePath(t *testing.T) {
	for _, name := range []string{"plain.db", "with space.db", "a#b.db", "q?x=1.db", "50%41.db"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			ob, err := outboxsqlite.Open(filepath.Join(dir, name), trigger.NewRegistry(), outbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			require.NoError(t, err)
			require.NoError(t, ob.Migrate(context.Background()))
			require.NoError(t, ob.Close(context.Background()))
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			var files []string
			for _, e := range entries {
				files = append(files, e.Name())
			}
			assert.Contains(t, files, name)
			for _, f := range files {
				assert.Contains(t, f, name, "no other file")
			}
		})
	}
}

// Close works on an Outbox that never started, and closes its pools.
func TestCloseWithoutStart(t *testing.T) {
	ob, err := outboxsqlite.Open(filepath.Join(t.TempDir(), "c.db"), trigger.NewRegistry(), outbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	require.NoError(t, ob.Close(context.Background()))
	assert.Error(t, ob.DB().Ping())
	assert.Error(t, ob.Reader().Ping())
}

// The delivery log and the records can be read while the app holds the one
// writer connection in a transaction (as DispatchTx callers do).
func TestReadsDuringAppTransaction(t *testing.T) {
	ctx := context.Background()
	ob, err := outboxsqlite.Open(filepath.Join(t.TempDir(), "r.db"), trigger.NewRegistry(), outbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	defer ob.Close(ctx)
	require.NoError(t, ob.Migrate(ctx))
	tx, err := ob.DB().BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck // the test only holds it

	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = ob.Log().ByDelivery(rctx, uuid.New())
	assert.NoError(t, err, "the log reads through the reader")
	_, err = ob.Log().ByWebhook(rctx, uuid.New(), 10)
	assert.NoError(t, err)
	_, err = ob.Store().List(rctx, webhook.ListQuery{AllTenants: true})
	assert.NoError(t, err, "the store reads through the reader")
}

// ":memory:" and "" open one in-memory database that the writer and the
// reads share: deliveries are enqueued, sent and logged. Each Open gets its
// own database.
func TestOpenInMemory(t *testing.T) {
	for _, path := range []string{":memory:", ""} {
		t.Run(fmt.Sprintf("%q", path), func(t *testing.T) {
			ctx := context.Background()
			got := make(chan string, 1)
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got <- r.Header.Get(webhook.HeaderDeliveryID)
			}))
			defer rc.Close()
			reg := trigger.NewRegistry()
			require.NoError(t, trigger.Register[OrderPaid](reg, "shop/order-paid", ""))
			open := func() *outboxsqlite.Outbox {
				ob, err := outboxsqlite.Open(path, reg, outbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
					outbox.WithSenderOptions(webhook.WithGuard(netguard.New(netguard.AllowLoopback()))))
				require.NoError(t, err)
				t.Cleanup(func() { _ = ob.Close(ctx) })
				require.NoError(t, ob.Migrate(ctx))
				return ob
			}
			ob, other := open(), open()
			require.NoError(t, ob.Store().Create(ctx, &webhook.Webhook{Name: "shop", Triggers: []string{"shop/order-paid"}, URL: rc.URL}))
			require.NoError(t, ob.Start(ctx))
			ds, err := ob.Dispatch(ctx, OrderPaid{ID: 1})
			require.NoError(t, err)
			require.Len(t, ds, 1)
			select {
			case id := <-got:
				assert.Equal(t, ds[0].ID.String(), id)
			case <-time.After(10 * time.Second):
				t.Fatal("the delivery was not sent")
			}
			require.Eventually(t, func() bool {
				log, err := ob.Log().ByDelivery(ctx, ds[0].ID)
				require.NoError(t, err)
				return len(log) == 1
			}, 5*time.Second, 10*time.Millisecond, "the log is read from the same database")

			page, err := other.Store().List(ctx, webhook.ListQuery{AllTenants: true})
			require.NoError(t, err)
			assert.Empty(t, page.Records, "another in-memory Outbox has its own database")

			// DispatchTx cannot work on one connection: it says so at once
			// instead of waiting for itself.
			tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			tx, err := ob.DB().BeginTx(tctx, nil)
			require.NoError(t, err)
			defer tx.Rollback() //nolint:errcheck // test cleanup
			_, err = ob.DispatchTx(tctx, tx, OrderPaid{ID: 2})
			require.ErrorIs(t, err, outboxsqlite.ErrInMemoryTx)
			assert.NoError(t, tctx.Err(), "refused at once")
		})
	}
}

// A path in a directory that does not exist is refused with an error that
// says so.
func TestOpenMissingDirectory(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(path string) error
	}{
		{"Open", func(path string) error { _, err := outboxsqlite.Open(path, trigger.NewRegistry()); return err }},
		{"OpenWriter", func(path string) error { _, err := outboxsqlite.OpenWriter(path); return err }},
		{"OpenReader", func(path string) error { _, err := outboxsqlite.OpenReader(path); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "missing")
			err := tc.open(filepath.Join(dir, "outhook.db"))
			require.ErrorIs(t, err, fs.ErrNotExist)
			assert.Contains(t, err.Error(), "directory "+dir+" does not exist")
		})
	}
}
