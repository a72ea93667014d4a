package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, filepath.Join(t.TempDir(), "outhook.db"), &out), out.String())
	assert.Contains(t, out.String(), "ok: the receiver verified the signature")
	assert.Contains(t, out.String(), `"page_id":42`)
	assert.Contains(t, out.String(), ": queued")
	assert.Contains(t, out.String(), "attempt 1: success, HTTP 204")
}
