package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "compliance", "screening", "testdata", name))
	require.NoError(t, err)
	return b
}

// ofacServer serves the three files; files maps a path to its body (absent: 404).
func ofacServer(t *testing.T, files map[string][]byte) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// kubeServer is one ConfigMap behind the API paths the sync uses, recording every request.
type kubeServer struct {
	*httptest.Server
	mu       sync.Mutex
	data     map[string][]byte
	version  string
	requests []recorded
	conflict bool // answer the PATCH 409
}

type recorded struct {
	method, path, auth, contentType string
	body                            []byte
}

const cmPath = "/api/v1/namespaces/cantondex/configmaps/screening-lists"

func newKube(t *testing.T, data map[string][]byte) *kubeServer {
	k := &kubeServer{data: data, version: "41"}
	k.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		k.mu.Lock()
		defer k.mu.Unlock()
		k.requests = append(k.requests, recorded{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body})
		if r.URL.Path != cmPath || r.Header.Get("Authorization") != "Bearer sa-token" {
			http.Error(w, `{"message":"forbidden"}`, http.StatusForbidden)
			return
		}
		switch r.Method {
		case http.MethodGet:
		case http.MethodPatch:
			if k.conflict {
				http.Error(w, `{"message":"the object has been modified"}`, http.StatusConflict)
				return
			}
			var p configMap
			if err := json.Unmarshal(body, &p); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			k.data, k.version = p.BinaryData, "42"
		default:
			http.Error(w, "method", http.StatusMethodNotAllowed)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"kind": "ConfigMap", "metadata": map[string]any{"name": "screening-lists", "resourceVersion": k.version}, "binaryData": k.data,
		})
	}))
	t.Cleanup(k.Close)
	return k
}

func (k *kubeServer) methods() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, r := range k.requests {
		out = append(out, r.method)
	}
	return out
}

func newSyncer(ofac *httptest.Server, k *kubeServer, minEntries int) *syncer {
	return &syncer{
		sdnURL: ofac.URL + "/SDN.CSV", altURL: ofac.URL + "/ALT.CSV", addURL: ofac.URL + "/ADD.CSV",
		download: ofac.Client(), kube: kubeAPI{base: k.URL, token: "sa-token", client: k.Client()},
		namespace: "cantondex", configMap: "screening-lists", minEntries: minEntries,
	}
}

func officialFiles(t *testing.T) map[string][]byte {
	return map[string][]byte{
		"/SDN.CSV": fixture(t, "ofac_sdn.csv"), "/ALT.CSV": fixture(t, "ofac_alt.csv"), "/ADD.CSV": fixture(t, "ofac_add.csv"),
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	raw, err := io.ReadAll(zr)
	require.NoError(t, err)
	return raw
}

func TestSyncWritesTheCompressedListsWithOneMergePatch(t *testing.T) {
	files := officialFiles(t)
	k := newKube(t, nil)
	res, err := newSyncer(ofacServer(t, files), k, 5).run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, result{Entries: 7, Previous: 0, Updated: true}, res)

	require.Len(t, k.requests, 2)
	get, patch := k.requests[0], k.requests[1]
	assert.Equal(t, recorded{method: http.MethodGet, path: cmPath, auth: "Bearer sa-token", body: []byte{}}, get)
	assert.Equal(t, http.MethodPatch, patch.method)
	assert.Equal(t, cmPath, patch.path)
	assert.Equal(t, "Bearer sa-token", patch.auth)
	assert.Equal(t, "application/merge-patch+json", patch.contentType)

	// Exactly: the resourceVersion read (optimistic concurrency) and the three keys, nothing else.
	var body map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(patch.body, &body))
	assert.ElementsMatch(t, []string{"metadata", "binaryData"}, keys(body))
	assert.JSONEq(t, `{"resourceVersion":"41"}`, string(body["metadata"]))
	var data map[string][]byte
	require.NoError(t, json.Unmarshal(body["binaryData"], &data))
	assert.ElementsMatch(t, []string{KeySDN, KeyAlt, KeyAdd}, keys(data))
	assert.Equal(t, files["/SDN.CSV"], gunzip(t, data[KeySDN]))
	assert.Equal(t, files["/ALT.CSV"], gunzip(t, data[KeyAlt]))
	assert.Equal(t, files["/ADD.CSV"], gunzip(t, data[KeyAdd]))

	// A second run finds the same bytes (deterministic gzip) and writes nothing.
	res, err = newSyncer(ofacServer(t, files), k, 5).run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, result{Entries: 7, Previous: 7}, res)
	assert.Equal(t, []string{http.MethodGet, http.MethodPatch, http.MethodGet}, k.methods())
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSyncNeverReplacesAGoodListWithABadOne(t *testing.T) {
	good := officialFiles(t)
	current := map[string][]byte{}
	for path, k := range map[string]string{"/SDN.CSV": KeySDN, "/ALT.CSV": KeyAlt, "/ADD.CSV": KeyAdd} {
		z, err := compress(good[path])
		require.NoError(t, err)
		current[k] = z
	}
	with := func(path string, body []byte) map[string][]byte {
		m := officialFiles(t)
		if body == nil {
			delete(m, path)
		} else {
			m[path] = body
		}
		return m
	}
	for name, tc := range map[string]struct {
		files      map[string][]byte
		minEntries int
		want       string
	}{
		"sdn missing":     {with("/SDN.CSV", nil), 1, "404"},
		"alt missing":     {with("/ALT.CSV", nil), 1, "404"},
		"sdn empty":       {with("/SDN.CSV", []byte("\r\n")), 1, "empty"},
		"sdn not a list":  {with("/SDN.CSV", []byte("<html>maintenance</html>\n")), 1, "refused"},
		"too few entries": {good, 8, "fewer than 8"},
		"alt malformed":   {with("/ALT.CSV", []byte("1,2\n")), 1, "refused"},
		"add empty":       {with("/ADD.CSV", []byte{}), 1, "empty"},
	} {
		t.Run(name, func(t *testing.T) {
			k := newKube(t, current)
			_, err := newSyncer(ofacServer(t, tc.files), k, tc.minEntries).run(context.Background())
			require.ErrorContains(t, err, tc.want)
			assert.NotContains(t, k.methods(), http.MethodPatch, "nothing written")
			assert.Equal(t, current, k.data)
		})
	}
}

func TestSyncRefusesAListLessThanHalfTheCurrent(t *testing.T) {
	// The ConfigMap holds a list of 20 entries; the download has the fixture's 7.
	var sdn bytes.Buffer
	for i := range 20 {
		fmt.Fprintf(&sdn, "%d,\"COMPANY %c%c\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n", 90000+i, 'A'+i, 'A'+i)
	}
	z, err := compress(sdn.Bytes())
	require.NoError(t, err)
	current := map[string][]byte{KeySDN: z}
	k := newKube(t, current)
	_, err = newSyncer(ofacServer(t, officialFiles(t)), k, 1).run(context.Background())
	require.ErrorContains(t, err, "7 entries, less than half the current list's 20")
	assert.Equal(t, []string{http.MethodGet}, k.methods(), "nothing written")
	assert.Equal(t, current, k.data)
}

func TestSyncFailsOnAConcurrentWrite(t *testing.T) {
	k := newKube(t, nil)
	k.conflict = true
	_, err := newSyncer(ofacServer(t, officialFiles(t)), k, 1).run(context.Background())
	require.ErrorContains(t, err, "409")
	assert.ErrorContains(t, err, "the object has been modified")
}

func TestFromEnvRefusesBadSettings(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	_, err := fromEnv(env(map[string]string{"SYNC_SDN_URL": "http://example.test/SDN.CSV"}))
	require.ErrorContains(t, err, "want an https URL")
	_, err = fromEnv(env(map[string]string{"SYNC_MIN_ENTRIES": "0"}))
	require.ErrorContains(t, err, "SYNC_MIN_ENTRIES")
	_, err = fromEnv(env(nil))
	require.ErrorContains(t, err, "KUBERNETES_SERVICE_HOST")
}
