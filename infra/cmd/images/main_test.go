package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	stamp := []string{"--commit", "abc", "--version", "v0"}
	epoch := env(map[string]string{"SOURCE_DATE_EPOCH": "1764590400"})
	for _, c := range []struct {
		args []string
		env  func(string) string
		want string
	}{
		{append([]string{"--services", "api-gateway,billing"}, stamp...), epoch, `unknown service "billing": the catalog has api-gateway, matching-engine`},
		{append([]string{"--services", "kafka-topics"}, stamp...), env(map[string]string{"SOURCE_DATE_EPOCH": "last tuesday"}), `SOURCE_DATE_EPOCH "last tuesday": want whole seconds`},
		{append([]string{"--platforms", "linux/s390x"}, stamp...), epoch, "platform linux/s390x: want linux/amd64 or linux/arm64"},
		{[]string{"extra"}, epoch, `unexpected arguments ["extra"]`},
		{append([]string{"--push", "127.0.0.1:1"}, stamp...), epoch, `--repository-prefix "": with --push, name the repositories' namespace`},
		{[]string{"--root", t.TempDir()}, epoch, "no services/go.mod there"},
	} {
		var out, errOut bytes.Buffer
		err := run(ctx, c.args, c.env, &out, &errOut)
		require.Error(t, err, "%v", c.args)
		assert.ErrorContains(t, err, c.want)
		assert.Empty(t, out.String(), "no digest printed on an error")
	}
}

func TestRunWritesLayoutAndDigests(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "digests.json")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{
		"--services", "kafka-topics", "--platforms", "linux/amd64",
		"--commit", "0123456789abcdef0123456789abcdef01234567", "--version", "v9.9.9",
		"--layout", filepath.Join(dir, "layout"), "--digests-out", file,
	}, env(map[string]string{"SOURCE_DATE_EPOCH": "1764590400"}), &out, &errOut)
	require.NoError(t, err, errOut.String())

	line := strings.TrimSpace(out.String())
	require.Regexp(t, regexp.MustCompile(`^kafka-topics=sha256:[0-9a-f]{64}$`), line)
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	var digests map[string]string
	require.NoError(t, json.Unmarshal(raw, &digests))
	assert.Equal(t, map[string]string{"kafka-topics": strings.TrimPrefix(line, "kafka-topics=")}, digests)

	p, err := layout.FromPath(filepath.Join(dir, "layout"))
	require.NoError(t, err)
	idx, err := p.ImageIndex()
	require.NoError(t, err)
	m, err := idx.IndexManifest()
	require.NoError(t, err)
	require.NotEmpty(t, m.Manifests)
	assert.Equal(t, digests["kafka-topics"], m.Manifests[0].Digest.String(), "the layout holds the printed index")
	assert.Contains(t, errOut.String(), "built kafka-topics linux/amd64: go build ")
}
