package screening

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gzipFixture writes testdata/name gzip-compressed into dir as name.gz.
func gzipFixture(t *testing.T, dir, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err = zw.Write(raw)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	p := filepath.Join(dir, name+".gz")
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o600))
	return p
}

func TestLoadFilesReadsGzipTransparently(t *testing.T) {
	plain, err := LoadFiles(FormatOFAC, filepath.Join("testdata", "ofac_sdn.csv"),
		filepath.Join("testdata", "ofac_alt.csv"), filepath.Join("testdata", "ofac_add.csv"))
	require.NoError(t, err)
	require.NotEmpty(t, plain)

	dir := t.TempDir()
	sdn, alt := gzipFixture(t, dir, "ofac_sdn.csv"), gzipFixture(t, dir, "ofac_alt.csv")
	// A compressed sdn.csv with a plain add.csv: each file is judged by its own name.
	gz, err := LoadFiles(FormatOFAC, sdn, alt, filepath.Join("testdata", "ofac_add.csv"))
	require.NoError(t, err)
	assert.Equal(t, plain, gz)

	un, err := LoadFiles(FormatUN, gzipFixture(t, dir, "un_consolidated.xml"), "", "")
	require.NoError(t, err)
	assert.NotEmpty(t, un)
}

func TestLoadFilesRefusesBrokenGzip(t *testing.T) {
	dir := t.TempDir()
	sdn := gzipFixture(t, dir, "ofac_sdn.csv")
	b, err := os.ReadFile(sdn)
	require.NoError(t, err)

	truncated := filepath.Join(dir, "truncated.csv.gz")
	require.NoError(t, os.WriteFile(truncated, b[:len(b)/2], 0o600))
	_, err = LoadFiles(FormatOFAC, truncated, "", "")
	require.Error(t, err, "a truncated stream is no shorter list")

	notGzip := filepath.Join(dir, "plain.csv.gz")
	require.NoError(t, os.WriteFile(notGzip, []byte("36,\"AEROCARIBBEAN AIRLINES\",-0-,\"CUBA\"\n"), 0o600))
	_, err = LoadFiles(FormatOFAC, notGzip, "", "")
	require.ErrorContains(t, err, "plain.csv.gz")

	// The watcher keeps its list when the compressed file breaks.
	w, err := NewWatcher(Source{Format: FormatOFAC, Path: sdn}, DefaultMinScore)
	require.NoError(t, err)
	n := w.Len()
	require.NotZero(t, n)
	require.NoError(t, os.WriteFile(sdn, b[:len(b)/2], 0o600))
	_, changed, err := w.Reload()
	require.Error(t, err)
	assert.False(t, changed)
	assert.Equal(t, n, w.Len())
}
