package images

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct{ op, args string }

func dockerfile(t *testing.T, file string) [][]instruction {
	t.Helper()
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	var stages [][]instruction
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		op, args, _ := strings.Cut(line, " ")
		in := instruction{strings.ToUpper(op), strings.TrimSpace(args)}
		if in.op == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], in)
		}
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if s, ok := strings.CutSuffix(l, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(l)
		flush()
	}
	flush()
	return stages
}

// services/Dockerfile (for developers with Docker; CI uses this package) builds the same
// shape: checked here since no daemon can build it on this machine or in CI.
func TestDockerfileShape(t *testing.T) {
	file := filepath.Join("..", "..", "services", "Dockerfile")
	stages := dockerfile(t, file)
	require.Len(t, stages, 2, "a build stage and the image")
	final := stages[1]
	assert.Equal(t, instruction{"FROM", "scratch"}, final[0], "an empty base")
	ops := map[string][]string{}
	for _, in := range final {
		ops[in.op] = append(ops[in.op], in.args)
	}
	for _, forbidden := range []string{"RUN", "SHELL", "HEALTHCHECK", "CMD"} {
		assert.NotContains(t, ops, forbidden, "the image stage runs nothing and has no shell to run it with")
	}
	assert.Equal(t, []string{"1000:1000"}, ops["USER"])
	assert.Equal(t, []string{Home}, ops["WORKDIR"])
	assert.Equal(t, []string{`["/usr/local/bin/service"]`}, ops["ENTRYPOINT"], "exec form: no shell")
	assert.Equal(t, []string{"--from=build /rootfs/ /"}, ops["COPY"])

	var build strings.Builder
	for _, in := range stages[0] {
		build.WriteString(in.op + " " + in.args + "\n")
	}
	b := build.String()
	// The same build as goBuild and the same accounts as the base layer.
	for _, want := range []string{
		"CGO_ENABLED=0", "GOWORK=off", "GOAMD64=v1", "GOARM64=v8.0", "-trimpath", "-buildvcs=false", "-tags=timetzdata",
		`-ldflags="` + LDFlags("${VERSION}", "${COMMIT}") + `"`,
	} {
		assert.Contains(t, b, want)
	}
	for _, l := range strings.Split(strings.TrimSpace(Passwd+Group), "\n") {
		assert.Contains(t, b, "'"+l+"'", "the Dockerfile writes the base layer's account line %q", l)
	}
	assert.Regexp(t, regexp.MustCompile(`chown 1000:1000 /rootfs`+Home), b)
}
