package main

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStopAndResume crashes the program mid-way and starts it again: it
// finishes the work without losing a delivery.
func TestStopAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "outbox")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	db := filepath.Join(dir, "outbox.db")

	out, err = exec.Command(bin, "-db", db, "-n", "300", "-crash-after", "100").CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "%s", out)
	assert.Equal(t, 3, exit.ExitCode())
	assert.Contains(t, string(out), "crashing on purpose")

	out, err = exec.Command(bin, "-db", db, "-n", "300").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "all 300 deliveries arrived")
}
