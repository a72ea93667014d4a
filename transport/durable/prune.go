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

// PruneWorker works PruneArgs: it deletes the attempts older than a maximum
// age. Create it with NewPruneWorker.
type PruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	log    Pruner
	maxAge time.Duration
	now    func() time.Time
}

// NewPruneWorker returns a PruneWorker that deletes from log the attempts
// older than maxAge, as measured by now (nil means time.Now).
func NewPruneWorker(log Pruner, maxAge time.Duration, now func() time.Time) *PruneWorker {
	if now == nil {
		now = time.Now
	}
	return &PruneWorker{log: log, maxAge: maxAge, now: now}
}

// Work implements river.Worker.
func (w *PruneWorker) Work(ctx context.Context, _ *river.Job[PruneArgs]) error {
	_, err := w.log.DeleteBefore(ctx, w.now().Add(-w.maxAge))
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
