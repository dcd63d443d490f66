package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fixture(name string) string {
	return filepath.Join("..", "..", "compliance", "screening", "testdata", name)
}

func ofacArgs() []string {
	return []string{"--list", fixture("ofac_sdn.csv"), "--alt", fixture("ofac_alt.csv"), "--add", fixture("ofac_add.csv")}
}

func lines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var res []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		res = append(res, m)
	}
	return res
}

func TestScreenNamesAndJSON(t *testing.T) {
	in := strings.Join([]string{
		"Xiaobing Yan",
		"",
		`{"name":"Ali Khorashadizade","dob":"1979-09-21","country":"IR"}`,
		`{"name":"Ali Khorashadizadeh","dob":"1950"}`,
		"Jane Austen",
		`{"address":"1Kuf2Rd8mDyAViwBozGTNYnvWL8uYFrkVo"}`,
	}, "\n")
	var out bytes.Buffer
	require.NoError(t, run(ofacArgs(), strings.NewReader(in), &out))
	got := lines(t, out.String())
	require.Len(t, got, 5, "one line per non-blank input line")

	assert.Equal(t, "Xiaobing Yan", got[0]["query"])
	assert.Equal(t, []any{map[string]any{"id": "ofac:25308", "list": "ofac-sdn", "name": "YAN, Xiaobing", "matched": "YAN, Xiaobing", "score": 1.0}}, got[0]["matches"])

	m := got[1]["matches"].([]any)
	require.NotEmpty(t, m)
	first := m[0].(map[string]any)
	assert.Equal(t, "ofac:26137", first["id"])
	assert.Less(t, first["score"].(float64), 1.0)
	assert.GreaterOrEqual(t, first["score"].(float64), 0.85)

	assert.Equal(t, []any{}, got[2]["matches"], "a clear DOB mismatch drops the exact name below 0.85")
	assert.Equal(t, []any{}, got[3]["matches"], "no match is an empty array, not null")
	assert.Equal(t, "ofac:25308", got[4]["matches"].([]any)[0].(map[string]any)["id"], "address by exact match")
}

func TestScreenMinScore(t *testing.T) {
	var strict, loose bytes.Buffer
	require.NoError(t, run(append(ofacArgs(), "--min-score", "0.99"), strings.NewReader("Khorashadizade Ali\n"), &strict))
	require.NoError(t, run(append(ofacArgs(), "--min-score", "0.5"), strings.NewReader("Khorashadizade Ali\n"), &loose))
	assert.Empty(t, lines(t, strict.String())[0]["matches"])
	ms := lines(t, loose.String())[0]["matches"].([]any)
	require.NotEmpty(t, ms)
	prev := 2.0
	for _, m := range ms {
		s := m.(map[string]any)["score"].(float64)
		assert.LessOrEqual(t, s, prev, "best first")
		prev = s
	}
}

func TestScreenBadLines(t *testing.T) {
	in := "Xiaobing Yan\n{\"nam\":\"x\"}\n{not json\n{\"name\":\"\"}\n{\"name\":\"A\",\"address\":\"B\"}\nAbu Abbas\n"
	var out bytes.Buffer
	err := run(ofacArgs(), strings.NewReader(in), &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "4 of the input lines")
	got := lines(t, out.String())
	require.Len(t, got, 6, "bad lines answered in place, the rest still screened")
	assert.Equal(t, "Xiaobing Yan", got[0]["query"])
	for i, want := range []string{`unknown field "nam"`, "bad JSON", `no "name"`, "not both"} {
		assert.Equal(t, float64(i+2), got[i+1]["line"])
		assert.Contains(t, got[i+1]["error"], want)
	}
	assert.Equal(t, "Abu Abbas", got[5]["query"])
}

func TestScreenOtherFormats(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run([]string{"--list", fixture("un_consolidated.xml")}, strings.NewReader("Abdelrahman Yasin Al Qudsi\n"), &out))
	assert.Equal(t, "un:QDi.901", lines(t, out.String())[0]["matches"].([]any)[0].(map[string]any)["id"], "un-xml by the extension")

	out.Reset()
	require.NoError(t, run([]string{"--list", fixture("pep.csv"), "--format", "simple-csv"}, strings.NewReader(`{"name":"Maria Fernanda Quiroga de Leon","country":"Argentina"}`+"\n"), &out))
	assert.Equal(t, "pep:2", lines(t, out.String())[0]["matches"].([]any)[0].(map[string]any)["id"])
}

func TestScreenBadArguments(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("id,list,name\n1,pep,A\n1,pep,B\n"), 0o600))
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"no list":      {nil, "--list is required"},
		"min score":    {append(ofacArgs(), "--min-score", "1.5"), "--min-score 1.5"},
		"alt with un":  {[]string{"--list", fixture("un_consolidated.xml"), "--alt", fixture("ofac_alt.csv")}, "--alt and --add go with --format ofac-csv"},
		"format":       {[]string{"--list", fixture("pep.csv"), "--format", "xls"}, `--format "xls"`},
		"missing file": {[]string{"--list", "nope.csv"}, "nope.csv"},
		"bad list":     {[]string{"--list", bad, "--format", "simple-csv"}, "line 3: duplicate id pep:1"},
		"extra arg":    {append(ofacArgs(), "names.txt"), `unexpected argument "names.txt"`},
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(tc.args, strings.NewReader("Xiaobing Yan\n"), &out)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, out.String(), "nothing screened")
		})
	}
}

func TestScreenBench(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(append(ofacArgs(), "--bench", "40", "--pad-to", "30"), strings.NewReader(""), &out))
	var r benchReport
	require.NoError(t, json.Unmarshal(out.Bytes(), &r))
	assert.Equal(t, 30, r.Entries, "padded")
	assert.Equal(t, 40, r.Queries)
	assert.Positive(t, r.Hits)
	assert.LessOrEqual(t, r.BestOf3.P50us, r.BestOf3.P99us)
	assert.LessOrEqual(t, r.BestOf3.P99us, r.BestOf3.MaxUs)
	if runtime.GOOS == "linux" {
		require.NotNil(t, r.CPU, "thread CPU time on Linux")
		assert.Positive(t, r.CPU.MaxUs)
	}
}
