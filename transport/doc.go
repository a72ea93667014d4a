// Package transport decides how a webhook delivery travels from Dispatch to
// the receiver: inline (Sync), through an in-process worker pool (Memory), or
// durably through a job queue in a subpackage.
//
// Every transport drives the same Attempter: one signed HTTP attempt, already
// classified as success, retry or permanent failure. Transports differ only in
// when they call it and where they keep the state between attempts. The
// timing between attempts comes from a Clock (WithClock), so tests can drive
// it.
//
//	t := transport.NewMemory(transport.WithWorkers(16), transport.WithOnDone(report))
//	defer t.Close(ctx)
//	results, err := t.Send(ctx, attempter, envelopes)
package transport
