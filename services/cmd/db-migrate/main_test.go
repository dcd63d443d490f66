package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/postgres/pgtest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// The Job migrates an empty database fully, and running it again changes nothing.
func TestMigratesAnEmptyDatabaseOnce(t *testing.T) {
	url := pgtest.NewURL(t, "migrate")
	var files int
	require.NoError(t, fs.WalkDir(os.DirFS(filepath.Join("..", "..", "postgres", "migrations")), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".sql") {
			files++
		}
		return err
	}))
	require.Positive(t, files)
	for range 2 {
		var out bytes.Buffer
		require.NoError(t, run(context.Background(), env(map[string]string{"DATABASE_URL": url}), &out))
		assert.Equal(t, strconv.Itoa(files)+" migrations applied\n", out.String())
	}
}

func TestRequiresTheDatabase(t *testing.T) {
	err := run(context.Background(), env(nil), &bytes.Buffer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "DATABASE_URL must be set")
}
