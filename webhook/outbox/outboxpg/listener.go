package outboxpg

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outhook/outhook/webhook/sqlstore"
)

// Timings of the cache's listener: it checks its connection when no
// notification came for listenPing, and waits listenRetry between tries to
// listen again.
const (
	listenPing  = 500 * time.Millisecond
	listenRetry = time.Second
)

// listener keeps an Outbox's sqlstore.Cache honest across processes: it
// listens on sqlstore.ChangeChannel on a connection of its own, drops the
// cache for every notification, and pauses it (every lookup then reads the
// database) whenever it is not listening.
type listener struct {
	pool  *pgxpool.Pool
	cache *sqlstore.Cache
	log   *slog.Logger
}

// run listens until ctx ends, connecting again after a failure; the cache
// is paused when it returns.
func (l *listener) run(ctx context.Context) {
	defer l.cache.Pause()
	for {
		err := l.listen(ctx)
		l.cache.Pause()
		if ctx.Err() != nil {
			return
		}
		l.log.WarnContext(ctx, "outboxpg: record cache listener stopped; the cache is bypassed until it listens again",
			slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(listenRetry):
		}
	}
}

// listen takes a connection out of the pool, listens on it and resumes the
// cache, then drops the cache at every notification until the connection
// fails or ctx ends.
func (l *listener) listen(ctx context.Context) error {
	pc, err := l.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pc.Hijack() // its own: LISTEN holds for the session
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+sqlstore.ChangeChannel); err != nil {
		return err
	}
	// Changes committed from now on are notified; those before, possibly
	// missed, are dropped with the cache.
	l.cache.Resume()
	for {
		notified, err := wait(ctx, conn)
		if err != nil {
			return err
		}
		if notified {
			l.cache.Invalidate()
		}
	}
}

// wait waits for a notification on conn and reports whether one came; if
// none came for listenPing, it checks the connection instead.
func wait(ctx context.Context, conn *pgx.Conn) (bool, error) {
	wctx, cancel := context.WithTimeout(ctx, listenPing)
	defer cancel()
	_, err := conn.WaitForNotification(wctx)
	switch {
	case err == nil:
		return true, nil
	case ctx.Err() != nil:
		return false, ctx.Err()
	case !errors.Is(wctx.Err(), context.DeadlineExceeded):
		return false, err
	}
	pctx, cancel := context.WithTimeout(ctx, listenPing)
	defer cancel()
	return false, conn.Ping(pctx)
}
