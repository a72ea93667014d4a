package outbox_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/internal/pgtest"
	"github.com/outhook/outhook/transport"
	"github.com/outhook/outhook/webhook"
	"github.com/outhook/outhook/webhook/outbox/internal/outboxtest"
	"github.com/outhook/outhook/webhook/outbox/outboxpg"
)

// The crash and two-process tests run internal/crashchild as child
// processes, built without -race so that SQLite runs at speed.
const (
	envChild   = "CHILD_KIND" // "sqlite" or "postgres"
	envDB      = "CHILD_DB"   // SQLite path or PostgreSQL DSN
	envSchema  = "CHILD_SCHEMA"
	envEnqueue = "CHILD_ENQUEUE" // deliveries to enqueue before starting
	envHook    = "CHILD_WEBHOOK"
	envAgent   = "CHILD_AGENT"
)

var deliveryNS = uuid.MustParse("6f0d2a8e-6c1b-4f59-9a53-0b0c7d1e2f30")

// deliveryID is the ID of the i-th delivery of the crash tests, so that the
// parent knows every ID the child enqueues.
func deliveryID(i int) uuid.UUID { return uuid.NewSHA1(deliveryNS, []byte(fmt.Sprint(i))) }

var (
	childOnce sync.Once
	childBin  string
	childErr  error
	childDir  string
)

// childBinary builds internal/crashchild once per test run.
func childBinary(t *testing.T) string {
	childOnce.Do(func() {
		childDir, childErr = os.MkdirTemp("", "outhook-crashchild")
		if childErr != nil {
			return
		}
		childBin = filepath.Join(childDir, "crashchild")
		out, err := exec.Command("go", "build", "-o", childBin, "./internal/crashchild").CombinedOutput()
		if err != nil {
			childErr = fmt.Errorf("build crashchild: %v\n%s", err, out)
		}
	})
	require.NoError(t, childErr)
	return childBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if childDir != "" {
		os.RemoveAll(childDir)
	}
	os.Exit(code)
}

type child struct {
	cmd *exec.Cmd
}

func startChild(t *testing.T, env ...string) *child {
	t.Helper()
	cmd := exec.Command(childBinary(t))
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	require.NoError(t, cmd.Start())
	c := &child{cmd: cmd}
	t.Cleanup(func() { c.kill() })
	return c
}

func (c *child) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Kill() // SIGKILL: no cleanup, no graceful stop
		_ = c.cmd.Wait()
	}
}

func checkAllDelivered(t *testing.T, rc *outboxtest.Receiver, n int) {
	t.Helper()
	seen := rc.Seen()
	missing, dups := 0, 0
	for i := 0; i < n; i++ {
		d, ok := seen[deliveryID(i).String()]
		if !ok {
			missing++
			continue
		}
		if d.Count > 1 {
			dups++
		}
		assert.Equal(t, fmt.Sprintf(`{"n":%d}`, i), d.Body)
	}
	assert.Zero(t, missing, "lost deliveries")
	assert.Len(t, seen, n, "only the enqueued delivery IDs arrive")
	assert.Zero(t, rc.Mismatches(), "a duplicate always carries the same body as the first")
	t.Logf("%d deliveries, %d of them received more than once (same delivery ID)", n, dups)
}

func TestCrashRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test in -short mode")
	}
	const total = 10_000
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			var be *backend
			var env []string
			switch kind {
			case "sqlite":
				path := filepath.Join(t.TempDir(), "crash.db")
				be = openSQLiteAt(t, path)
				env = []string{envChild + "=sqlite", envDB + "=" + path}
			case "postgres":
				schema, dsn := pgtest.NewSchema(t)
				be = openPostgresAt(t, schema, dsn)
				env = []string{envChild + "=postgres", envDB + "=" + dsn, envSchema + "=" + schema}
			}
			rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
			hook := createHook(t, be.store, rc.URL)
			env = append(env, envHook+"="+hook.ID.String())

			begin := time.Now()
			first := startChild(t, append(env, envEnqueue+"=10000", envAgent+"=first")...)
			require.Eventually(t, func() bool { return rc.Distinct() >= total/4 }, 40*time.Second, time.Millisecond)
			first.kill()
			killedAt := rc.Distinct()
			require.Less(t, killedAt, total, "killed mid-delivery")
			startChild(t, append(env, envEnqueue+"=0", envAgent+"=second")...)
			require.Eventually(t, func() bool { return rc.Distinct() == total }, 50*time.Second, 10*time.Millisecond)
			t.Logf("%s: killed after %d deliveries, all %d delivered after restart in %s", kind, killedAt, total, time.Since(begin).Round(time.Millisecond))
			checkAllDelivered(t, rc, total)
		})
	}
}

func TestTwoProcessesNeverSendTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test in -short mode")
	}
	const total = 2000
	schema, dsn := pgtest.NewSchema(t)
	be := openPostgresAt(t, schema, dsn)
	rc := outboxtest.NewReceiver(t, webhook.HeaderDeliveryID)
	rc.Handle = func(w http.ResponseWriter, r *http.Request, _ string, _ int) bool {
		time.Sleep(time.Millisecond) // widen the window in which a second send would overlap
		return true
	}
	hook := createHook(t, be.store, rc.URL)
	env := []string{envChild + "=postgres", envDB + "=" + dsn, envSchema + "=" + schema, envHook + "=" + hook.ID.String()}
	startChild(t, append(env, envEnqueue+"=0", envAgent+"=p1")...)
	startChild(t, append(env, envEnqueue+"=0", envAgent+"=p2")...)
	// Enqueue from a third client while both work.
	ob := be.ob.(*outboxpg.Outbox)
	envs := make([]transport.Envelope, total)
	for i := range envs {
		envs[i] = transport.Envelope{DeliveryID: deliveryID(i), WebhookID: hook.ID, Trigger: pageTrigger,
			Body: []byte(fmt.Sprintf(`{"n":%d}`, i)), CreatedAt: time.Now()}
	}
	_, err := ob.Transport().Send(context.Background(), ob.Dispatcher().Sender(), envs)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return rc.Distinct() == total }, 40*time.Second, 10*time.Millisecond)
	checkAllDelivered(t, rc, total)
	assert.Zero(t, rc.Overlaps(), "a delivery was being sent by two processes at once")
	by := map[string]int{}
	for _, d := range rc.Seen() {
		assert.Equal(t, 1, d.Count, "without a crash each delivery is sent once")
		by[d.Agents[0]]++
	}
	t.Logf("deliveries per process: %v", by)
	assert.Positive(t, by["p1"])
	assert.Positive(t, by["p2"])
}
