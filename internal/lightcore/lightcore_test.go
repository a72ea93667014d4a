package lightcore

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const core = "github.com/outhook/outhook"

// corePackages are what an app on the Sync or Memory transport, or a
// receiver that only verifies, imports.
var corePackages = []string{
	core + "/trigger", core + "/signer", core + "/transport",
	core + "/webhook", core + "/webhook/netguard", core + "/webhook/health",
}

// heavy are the modules that belong in the adapter modules, never in an app
// that uses only the core.
var heavy = []string{
	"github.com/riverqueue/", "github.com/jackc/", "github.com/lib/pq", "modernc.org/",
	"github.com/mattn/go-sqlite3", "github.com/ncruces/", "go.opentelemetry.io/", "github.com/chromedp/",
}

// allowedRequires are the core go.mod's direct requirements: the user's card
// (uuid, backoff, testify), x/time for rate limits, and the official Standard
// Webhooks library for the signer's cross-check tests.
var allowedRequires = map[string]bool{
	"github.com/google/uuid": true, "github.com/cenkalti/backoff/v4": true, "github.com/stretchr/testify": true,
	"golang.org/x/time": true, "github.com/standard-webhooks/standard-webhooks/libraries": true,
}

func goCmd(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go %s in %s:\n%s", strings.Join(args, " "), dir, out)
	return string(out)
}

func repoRoot(t *testing.T) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	return root
}

func isHeavy(mod string) bool {
	for _, h := range heavy {
		if strings.HasPrefix(mod, h) {
			return true
		}
	}
	return false
}

// A scratch program that imports the core packages, built as its own module
// against this checkout, lists no heavy module in `go list -m all`.
func TestCoreModuleGraphIsLight(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a scratch module")
	}
	root := repoRoot(t)
	dir := t.TempDir()
	var imports strings.Builder
	for _, p := range corePackages {
		imports.WriteString("\t_ \"" + p + "\"\n")
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"),
		[]byte("package main\n\nimport (\n"+imports.String()+")\n\nfunc main() {}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module scratch\n\ngo 1.22\n\n"+
		"require "+core+" v0.0.0-00010101000000-000000000000\n\nreplace "+core+" => "+root+"\n"), 0o644))
	env := []string{"GOWORK=off", "GOFLAGS=-mod=mod"}
	goCmd(t, dir, env, "mod", "tidy")
	mods := strings.Fields(goCmd(t, dir, env, "list", "-m", "-f", "{{.Path}}", "all"))
	require.Contains(t, mods, core)
	t.Logf("module graph: %v", mods)
	for _, m := range mods {
		assert.False(t, isHeavy(m), "an app importing only the core gets %s in its module graph", m)
	}
	deps := strings.Fields(goCmd(t, dir, env, "list", "-deps", "."))
	for _, d := range deps {
		assert.False(t, isHeavy(d), "an app importing only the core builds %s", d)
	}
}

// The core go.mod requires only what the core needs.
func TestCoreRequires(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot(t), "go.mod"))
	require.NoError(t, err)
	defer f.Close()
	inBlock := false
	var direct []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "require (":
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inBlock:
			continue
		}
		if line == "" || strings.Contains(line, "// indirect") {
			continue
		}
		direct = append(direct, strings.Fields(line)[0])
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, direct)
	for _, m := range direct {
		assert.True(t, allowedRequires[m], "the core go.mod requires %s", m)
	}
}

// Nothing under transport/ imports package webhook: transports sit below
// the records and the dispatcher. The River transport is a module of its
// own, so it is listed from its own directory.
func TestTransportsDoNotImportWebhook(t *testing.T) {
	root := repoRoot(t)
	for _, dir := range []string{filepath.Join(root, "transport"), filepath.Join(root, "transport", "durable")} {
		out := goCmd(t, dir, nil, "list", "-deps", "-test", "-f", "{{.ImportPath}}", "./...")
		for _, p := range strings.Fields(out) {
			if p == core+"/webhook" || strings.HasPrefix(p, core+"/webhook/") {
				t.Errorf("a package under %s depends on %s", dir, p)
			}
		}
	}
}
