package version

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandle(t *testing.T) {
	var out bytes.Buffer
	require.True(t, Handle(&out, "api-gateway", []string{"--version"}))
	assert.Equal(t, "api-gateway dev (commit unknown, "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+")\n", out.String())

	out.Reset()
	assert.True(t, Handle(&out, "kafka-topics", []string{"-version"}))
	assert.Contains(t, out.String(), "kafka-topics dev")

	out.Reset()
	assert.False(t, Handle(&out, "api-gateway", nil))
	assert.False(t, Handle(&out, "api-gateway", []string{"--verbose"}))
	assert.Empty(t, out.String(), "nothing is printed unless the version is asked for")
}
