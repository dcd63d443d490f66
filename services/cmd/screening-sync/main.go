// Command screening-sync keeps the cluster's sanctions lists current: it downloads OFAC's SDN
// list as published in CSV (sdn.csv, with the alt.csv aliases and add.csv addresses) over
// HTTPS, checks that it parses as a list (services/compliance/screening) of at least
// SYNC_MIN_ENTRIES entries and no less than half the entries of the list it replaces, and
// writes the three files gzip-compressed into the binaryData of one ConfigMap (sdn.csv.gz,
// alt.csv.gz, add.csv.gz) through the Kubernetes API with the pod's ServiceAccount token. The
// api-gateway and the compliance service mount that ConfigMap and re-read it every
// SCREENING_RELOAD_INTERVAL (kubelet swaps the files atomically), re-screening every account
// against the entries that changed. A download or a list that fails a check changes nothing:
// a good list is never replaced by a bad one. Unchanged files write nothing.
//
// The program runs it daily as a CronJob, and once on each release before the services start
// (they need a list to screen against).
//
//	SYNC_SDN_URL, SYNC_ALT_URL, SYNC_ADD_URL  the files (default: OFAC's Sanctions List Service)
//	SYNC_CONFIGMAP                            the ConfigMap (default screening-lists)
//	SYNC_NAMESPACE                            its namespace (default: the pod's)
//	SYNC_MIN_ENTRIES                          the fewest entries a list may have (default 1000)
//
// The Kubernetes API is KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT, verified with the
// ServiceAccount's CA; the token's role may get and patch that one ConfigMap and nothing else.
// It prints one line and exits 1 on an error.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cantondex/platform/services/compliance/screening"
	"github.com/cantondex/platform/services/platform/version"
)

// OFAC's published files (the Sanctions List Service's exports).
const (
	DefaultSDNURL = "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/SDN.CSV"
	DefaultAltURL = "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/ALT.CSV"
	DefaultAddURL = "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/ADD.CSV"
)

// The ConfigMap's keys: the file names the services' SCREENING_LIST, SCREENING_ALT and
// SCREENING_ADD point to in its mount.
const (
	KeySDN = "sdn.csv.gz"
	KeyAlt = "alt.csv.gz"
	KeyAdd = "add.csv.gz"
)

// DefaultConfigMap is the ConfigMap the lists are written to.
const DefaultConfigMap = "screening-lists"

// DefaultMinEntries: OFAC's SDN list has had well over 10,000 entries for years; a list of a
// few hundred is a broken download, not a policy change.
const DefaultMinEntries = 1000

// maxDownload bounds one file (sdn.csv is about 2 MB); maxConfigMap is what the ConfigMap's
// data may hold, under the API server's 1 MiB limit with room for the object's metadata.
const (
	maxDownload  = 64 << 20
	maxConfigMap = 1000 << 10
)

const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func main() {
	if version.Handle(os.Stdout, "screening-sync", os.Args[1:]) {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	s, err := fromEnv(os.Getenv)
	if err == nil {
		var res result
		res, err = s.run(ctx)
		if err == nil {
			fmt.Println("screening-sync:", res)
			return
		}
	}
	fmt.Fprintln(os.Stderr, "screening-sync:", err)
	os.Exit(1)
}

// syncer is one run's settings.
type syncer struct {
	sdnURL, altURL, addURL string
	download               *http.Client
	kube                   kubeAPI
	namespace, configMap   string
	minEntries             int
}

// kubeAPI is the Kubernetes API as the pod's ServiceAccount.
type kubeAPI struct {
	base   string // https://host:port
	token  string
	client *http.Client
}

func fromEnv(getenv func(string) string) (*syncer, error) {
	s := &syncer{
		sdnURL: or(getenv("SYNC_SDN_URL"), DefaultSDNURL), altURL: or(getenv("SYNC_ALT_URL"), DefaultAltURL),
		addURL: or(getenv("SYNC_ADD_URL"), DefaultAddURL), configMap: or(getenv("SYNC_CONFIGMAP"), DefaultConfigMap),
		namespace: getenv("SYNC_NAMESPACE"), minEntries: DefaultMinEntries,
		download: &http.Client{Timeout: 2 * time.Minute},
	}
	for _, u := range []string{s.sdnURL, s.altURL, s.addURL} {
		if p, err := url.Parse(u); err != nil || p.Scheme != "https" || p.Host == "" {
			return nil, fmt.Errorf("list URL %q: want an https URL", u)
		}
	}
	if v := getenv("SYNC_MIN_ENTRIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("SYNC_MIN_ENTRIES %q: want a positive count", v)
		}
		s.minEntries = n
	}
	host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, errors.New("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are required (run in a pod)")
	}
	token, err := os.ReadFile(serviceAccountDir + "/token")
	if err != nil {
		return nil, fmt.Errorf("service account token: %w", err)
	}
	ca, err := os.ReadFile(serviceAccountDir + "/ca.crt")
	if err != nil {
		return nil, fmt.Errorf("service account CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("service account CA: no certificate")
	}
	if s.namespace == "" {
		ns, err := os.ReadFile(serviceAccountDir + "/namespace")
		if err != nil {
			return nil, fmt.Errorf("SYNC_NAMESPACE unset and the pod's namespace unreadable: %w", err)
		}
		s.namespace = strings.TrimSpace(string(ns))
	}
	s.kube = kubeAPI{
		base:  "https://" + net.JoinHostPort(host, port),
		token: strings.TrimSpace(string(token)),
		client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		}},
	}
	return s, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// result is what a run did.
type result struct {
	Entries, Previous int
	Updated           bool
}

func (r result) String() string {
	if !r.Updated {
		return fmt.Sprintf("list unchanged (%d entries)", r.Entries)
	}
	return fmt.Sprintf("list updated: %d entries (previously %d)", r.Entries, r.Previous)
}

// run downloads and checks the lists, and writes them when they differ from the ConfigMap's.
func (s *syncer) run(ctx context.Context) (result, error) {
	var raw [3][]byte
	for i, u := range []string{s.sdnURL, s.altURL, s.addURL} {
		b, err := s.fetch(ctx, u)
		if err != nil {
			return result{}, err
		}
		raw[i] = b
	}
	entries, err := screening.LoadOFAC(bytes.NewReader(raw[0]), bytes.NewReader(raw[1]), bytes.NewReader(raw[2]))
	if err != nil {
		return result{}, fmt.Errorf("downloaded list refused: %w", err)
	}
	if len(entries) < s.minEntries {
		return result{}, fmt.Errorf("downloaded list refused: %d entries, fewer than %d", len(entries), s.minEntries)
	}
	next := map[string][]byte{}
	size := 0
	for i, k := range []string{KeySDN, KeyAlt, KeyAdd} {
		z, err := compress(raw[i])
		if err != nil {
			return result{}, err
		}
		next[k] = z
		size += len(z)
	}
	if size > maxConfigMap {
		return result{}, fmt.Errorf("compressed lists are %d bytes, more than a ConfigMap holds (%d)", size, maxConfigMap)
	}

	cm, err := s.kube.getConfigMap(ctx, s.namespace, s.configMap)
	if err != nil {
		return result{}, err
	}
	res := result{Entries: len(entries), Previous: currentEntries(cm.BinaryData)}
	if bytes.Equal(cm.BinaryData[KeySDN], next[KeySDN]) && bytes.Equal(cm.BinaryData[KeyAlt], next[KeyAlt]) &&
		bytes.Equal(cm.BinaryData[KeyAdd], next[KeyAdd]) {
		return res, nil
	}
	if len(entries) < res.Previous/2 {
		return result{}, fmt.Errorf("downloaded list refused: %d entries, less than half the current list's %d", len(entries), res.Previous)
	}
	if err := s.kube.patchConfigMap(ctx, s.namespace, s.configMap, cm.Metadata.ResourceVersion, next); err != nil {
		return result{}, err
	}
	res.Updated = true
	return res, nil
}

// fetch downloads one file: 200 and a non-empty body, or an error.
func (s *syncer) fetch(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.download.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download %s: %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", u, err)
	}
	if len(b) > maxDownload {
		return nil, fmt.Errorf("download %s: more than %d bytes", u, maxDownload)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("download %s: empty", u)
	}
	return b, nil
}

// compress gzips b deterministically (no name, no time): the same file gives the same bytes,
// so an unchanged list writes nothing and the services' digest sees no update.
func compress(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// currentEntries is the size of the list the ConfigMap holds (0: none, or unreadable).
func currentEntries(data map[string][]byte) int {
	open := func(k string) io.Reader {
		if len(data[k]) == 0 {
			return nil
		}
		zr, err := gzip.NewReader(bytes.NewReader(data[k]))
		if err != nil {
			return nil
		}
		return zr
	}
	sdn := open(KeySDN)
	if sdn == nil {
		return 0
	}
	entries, err := screening.LoadOFAC(sdn, nil, nil)
	if err != nil {
		return 0
	}
	return len(entries)
}

// configMap is the part of a ConfigMap the sync reads.
type configMap struct {
	Metadata struct {
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
	BinaryData map[string][]byte `json:"binaryData"`
}

func (k kubeAPI) path(namespace, name string) string {
	return k.base + "/api/v1/namespaces/" + url.PathEscape(namespace) + "/configmaps/" + url.PathEscape(name)
}

func (k kubeAPI) do(req *http.Request, want int) ([]byte, error) {
	req.Header.Set("Authorization", "Bearer "+k.token)
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kubernetes API %s: %w", req.Method, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDownload))
	if err != nil {
		return nil, fmt.Errorf("kubernetes API %s: %w", req.Method, err)
	}
	if resp.StatusCode != want {
		var st struct{ Message string }
		_ = json.Unmarshal(body, &st)
		return nil, fmt.Errorf("kubernetes API %s %s: %s %s", req.Method, req.URL.Path, resp.Status, st.Message)
	}
	return body, nil
}

func (k kubeAPI) getConfigMap(ctx context.Context, namespace, name string) (configMap, error) {
	var cm configMap
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.path(namespace, name), nil)
	if err != nil {
		return cm, err
	}
	body, err := k.do(req, http.StatusOK)
	if err != nil {
		return cm, err
	}
	if err := json.Unmarshal(body, &cm); err != nil {
		return cm, fmt.Errorf("kubernetes API: ConfigMap %s: %w", name, err)
	}
	return cm, nil
}

// patchConfigMap replaces the ConfigMap's binaryData keys with a JSON merge patch carrying the
// resourceVersion read: a concurrent writer makes it fail (409) instead of being overwritten.
func (k kubeAPI) patchConfigMap(ctx context.Context, namespace, name, resourceVersion string, data map[string][]byte) error {
	patch := map[string]any{"metadata": map[string]string{"resourceVersion": resourceVersion}, "binaryData": data}
	b, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, k.path(namespace, name), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/merge-patch+json")
	_, err = k.do(req, http.StatusOK)
	return err
}
