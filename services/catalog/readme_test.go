package catalog

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the environment tables in services/README.md")

const (
	beginMark = "<!-- catalog:env:begin (go test ./services/catalog -run README -update) -->\n"
	endMark   = "<!-- catalog:env:end -->\n"
)

// envSection is the README section the catalog renders: each production binary's environment
// against the managed services, the Jobs' included.
func envSection() string {
	var b strings.Builder
	for _, s := range All() {
		kind := ""
		if s.Kind == Job {
			kind = " (Job)"
		}
		b.WriteString("\n#### `" + s.Binary + "`" + kind + "\n\n")
		b.WriteString(s.EnvTable())
	}
	b.WriteString("\n")
	return b.String()
}

// services/README.md shows exactly the environment the catalog gives each production binary.
func TestREADMEEnvironmentTables(t *testing.T) {
	const path = "../README.md"
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	doc := string(raw)
	i, j := strings.Index(doc, beginMark), strings.Index(doc, endMark)
	require.True(t, i >= 0 && j > i, "services/README.md lacks the catalog:env markers")
	got := doc[i+len(beginMark) : j]
	want := envSection()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(doc[:i+len(beginMark)]+want+doc[j:]), 0o644))
		return
	}
	assert.Equal(t, want, got, "services/README.md is stale: go test ./services/catalog -run README -update")
}
