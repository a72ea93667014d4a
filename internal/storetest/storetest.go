// Package storetest checks the concurrency contract every webhook.Store
// keeps: versioned updates that refuse stale writes with ErrConflict, an
// atomic Disable, and an administrator's edit racing the health monitor's
// auto-disable with both changes surviving. MemoryStore's tests and the SQL
// store's run it.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/webhook"
)

// Run runs the contract's tests on stores made by newStore, one per test.
// trials is how many times the race between a secret rotation and an
// auto-disable is run.
func Run(t *testing.T, newStore func(t *testing.T) webhook.Store, trials int) {
	t.Run("StaleUpdateConflicts", func(t *testing.T) { staleUpdateConflicts(t, newStore(t)) })
	t.Run("DisableIsAtomic", func(t *testing.T) { disableIsAtomic(t, newStore(t)) })
	t.Run("RotateRacesDisable", func(t *testing.T) { rotateRacesDisable(t, newStore(t), trials) })
}

func create(t *testing.T, s webhook.Store, name string) *webhook.Webhook {
	t.Helper()
	w := &webhook.Webhook{Name: name, Triggers: []string{"myapp/page-updated"}, URL: "https://example.com/hook"}
	require.NoError(t, s.Create(context.Background(), w))
	require.EqualValues(t, 1, w.Version, "Create sets Version 1")
	return w
}

func staleUpdateConflicts(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	w := create(t, s, "stale")
	a, err := s.Get(ctx, w.ID)
	require.NoError(t, err)
	b, err := s.Get(ctx, w.ID)
	require.NoError(t, err)

	a.Description = "first"
	require.NoError(t, s.Update(ctx, a))
	assert.EqualValues(t, 2, a.Version, "Update sets the new version on the record")

	b.Description = "second, from a stale read"
	err = s.Update(ctx, b)
	require.ErrorIs(t, err, webhook.ErrConflict)
	got, err := s.Get(ctx, w.ID)
	require.NoError(t, err)
	assert.Equal(t, "first", got.Description, "a refused Update changes nothing")
	assert.EqualValues(t, 2, got.Version)

	a.Description = "third"
	require.NoError(t, s.Update(ctx, a), "the record Update returned can be updated again")
	assert.EqualValues(t, 3, a.Version)
}

func disableIsAtomic(t *testing.T, s webhook.Store) {
	ctx := context.Background()
	w := create(t, s, "disable")
	stale, err := s.Get(ctx, w.ID)
	require.NoError(t, err)

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ok, err := s.Disable(ctx, w.ID, "failing", at)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = s.Disable(ctx, w.ID, "again", at.Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, ok, "a disabled record is not disabled twice")

	got, err := s.Get(ctx, w.ID)
	require.NoError(t, err)
	assert.True(t, got.Disabled)
	assert.Equal(t, "failing", got.DisabledReason)
	assert.True(t, got.DisabledAt.Equal(at), "DisabledAt %v", got.DisabledAt)
	assert.Equal(t, w.Secret.Reveal(), got.Secret.Reveal(), "Disable changes nothing else")
	assert.EqualValues(t, 2, got.Version)

	// An edit read before the disable cannot re-enable the record.
	stale.Description = "edited"
	require.ErrorIs(t, s.Update(ctx, stale), webhook.ErrConflict)

	_, err = s.Disable(ctx, [16]byte{1}, "gone", at)
	assert.ErrorIs(t, err, webhook.ErrNotFound)
}

// rotateRacesDisable runs an administrator's secret rotation (webhook.Modify)
// against the health monitor's auto-disable, trials times: the record must
// end up both disabled and with the new secret.
func rotateRacesDisable(t *testing.T, s webhook.Store, trials int) {
	ctx := context.Background()
	for i := range trials {
		w := create(t, s, fmt.Sprintf("race %d", i))
		var (
			wg      sync.WaitGroup
			rotated *webhook.Webhook
			rotErr  error
			disErr  error
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			rotated, rotErr = webhook.RotateSecret(ctx, s, w.ID, 0)
		}()
		go func() {
			defer wg.Done()
			_, disErr = s.Disable(ctx, w.ID, "failing", time.Now())
		}()
		wg.Wait()
		require.NoError(t, rotErr)
		require.NoError(t, disErr)
		got, err := s.Get(ctx, w.ID)
		require.NoError(t, err)
		if !assert.True(t, got.Disabled, "trial %d: the disable survives the rotation", i) ||
			!assert.Equal(t, rotated.Secret.Reveal(), got.Secret.Reveal(), "trial %d: the new secret survives the disable", i) ||
			!assert.NotEqual(t, w.Secret.Reveal(), got.Secret.Reveal(), "trial %d: the old secret does not come back", i) {
			return
		}
		if errors.Is(rotErr, webhook.ErrConflict) {
			t.Fatalf("Modify must retry conflicts")
		}
	}
}
