package durable_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCoreImportsNoDriver keeps River and database drivers out of the core
// packages: they belong to adapters such as this one.
func TestCoreImportsNoDriver(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	core := []string{"webhook", "signer", "trigger", "transport"}
	args := []string{"list", "-deps"}
	for _, p := range core {
		args = append(args, "github.com/outhook/outhook/"+p)
	}
	out, err := exec.Command(goBin, args...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	forbidden := []string{"github.com/riverqueue/", "github.com/jackc/", "github.com/lib/pq", "modernc.org/",
		"github.com/mattn/go-sqlite3", "github.com/ncruces/"}
	deps := strings.Fields(string(out))
	require.NotEmpty(t, deps)
	for _, dep := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("a core package depends on %s", dep)
			}
		}
	}
}
