package durable

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// PruneArgs are the arguments of the periodic job that deletes old delivery
// log rows.
type PruneArgs struct{}

// Kind implements river.JobArgs.
func (PruneArgs) Kind() string { return "outhook.prune_attempts" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (PruneArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: Queue, MaxAttempts: 3} }

// Pruner deletes delivery log rows older than a time; sqlstore.Log is one.
type Pruner interface {
	DeleteBefore(ctx context.Context, t time.Time) (int64, error)
}

// PruneWorker works PruneArgs: it deletes the attempts older than MaxAge.
type PruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	Log    Pruner
	MaxAge time.Duration
}

// Work implements river.Worker.
func (w *PruneWorker) Work(ctx context.Context, _ *river.Job[PruneArgs]) error {
	_, err := w.Log.DeleteBefore(ctx, time.Now().Add(-w.MaxAge))
	return err
}

// PrunePeriodicJob returns the periodic job that inserts a PruneArgs every
// interval (and once at start); River's leader inserts it, so one process
// prunes. Add it to river.Config.PeriodicJobs beside a PruneWorker.
func PrunePeriodicJob(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return PruneArgs{}, nil },
		&river.PeriodicJobOpts{ID: "outhook.prune_attempts", RunOnStart: true})
}
