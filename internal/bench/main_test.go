package main

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/trigger"
	"github.com/outhook/outhook/webhook"
)

// table parses the Markdown table's rows: name → cells.
func table(t *testing.T, out string) map[string][]string {
	t.Helper()
	rows := map[string][]string{}
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| row ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		require.Len(t, cells, 9, line)
		rows[cells[0]] = cells
	}
	return rows
}

// number reads "1,234/s", "56.8 µs/op" or "1.42×".
func number(t *testing.T, cell string) float64 {
	t.Helper()
	s := strings.NewReplacer(",", "", "×", "", " µs/op", "", "/s", "").Replace(cell)
	v, err := strconv.ParseFloat(s, 64)
	require.NoError(t, err, cell)
	return v
}

// TestQuick runs every row on a few deliveries: it checks that the run
// completes and the table is well formed, never how fast anything is.
func TestQuick(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"-quick"}, &out))
	t.Log("\n" + out.String())

	want := []string{"sync/1", "sync/10", "memory/1", "memory/16", "memory/128", "guard/16", "guard/128", "river-sqlite/16"}
	if os.Getenv(postgresEnv) != "" {
		want = append(want, "river-postgres/16", "river-postgres-scale/16")
	} else {
		assert.Contains(t, out.String(), "river-postgres/16: skipped")
		assert.Contains(t, out.String(), "river-postgres-scale/16: skipped")
	}
	rows := table(t, out.String())
	assert.Len(t, rows, len(want))
	for _, name := range want {
		cells, ok := rows[name]
		if !assert.True(t, ok, "row %s missing", name) {
			continue
		}
		for _, cell := range cells[3:6] {
			v := number(t, cell)
			assert.False(t, math.IsInf(v, 0) || math.IsNaN(v), "%s: %s", name, cell)
			assert.Positive(t, v, "%s: %s", name, cell)
		}
	}
	assert.Contains(t, out.String(), "Dispatcher client: tuned")
	for name, cells := range rows {
		// The sync and memory rows have a same-request baseline too.
		if strings.HasPrefix(name, "sync/") || strings.HasPrefix(name, "memory/") {
			for _, cell := range cells[6:8] {
				assert.Positive(t, number(t, cell), "%s: %s", name, cell)
			}
		} else {
			assert.Equal(t, []string{"—", "—"}, cells[6:8], name)
		}
		assert.Regexp(t, `^[+-]\d+ \(\d+ − \d+\)$`, cells[8], name)
	}
}

// TestSameRequest checks that the same-request baseline sends what
// outhook's Sender sends: the same header names, and the same values but
// for the signature and the delivery ID.
func TestSameRequest(t *testing.T) {
	ctx := context.Background()
	got := make(chan http.Header, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	store, err := newStore(ctx, srv.URL, 1)
	require.NoError(t, err)
	reg := trigger.NewRegistry()
	require.NoError(t, trigger.Register[rawMessage](reg, rawTrigger, "raw"))
	d := webhook.NewDispatcher(store, reg, webhook.WithHTTPClient(srv.Client()))
	_, err = d.Dispatch(ctx, rawMessage(body))
	require.NoError(t, err)
	outhook := <-got

	p, err := poster{client: srv.Client(), url: srv.URL}.sameRequest(ctx, store)
	require.NoError(t, err)
	require.NoError(t, p.post(ctx, "3f1c9a52-8d2e-4b7a-9c1d-2e5f6a7b8c9d"))
	same := <-got
	for _, h := range []http.Header{outhook, same} {
		h.Del("Webhook-Signature")
		h.Del(webhook.HeaderDeliveryID)
	}
	assert.Equal(t, outhook, same)
}

func TestOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"-quick", "-client", "guarded", "-only", "memory/16,sync"}, &out))
	rows := table(t, out.String())
	assert.Len(t, rows, 3)
	for _, name := range []string{"sync/1", "sync/10", "memory/16"} {
		assert.Contains(t, rows, name)
	}
	assert.Contains(t, out.String(), "Dispatcher client: guarded")

	err := run(ctx, []string{"-only", "nope"}, &out)
	assert.ErrorContains(t, err, `no row "nope"`)
	err = run(ctx, []string{"-client", "nope"}, &out)
	assert.ErrorContains(t, err, "-client")
}
