package images

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/catalog"
)

// The default test builds one small service for linux/amd64 twice; -images.all builds every
// platform of it (the arm64 cross-build costs a cold compile of its dependencies).
var allPlatforms = flag.Bool("images.all", false, "build both platforms in the image tests")

// testService is the smallest binary of the catalog (the topics Job).
const testService = catalog.KafkaTopics

func testOptions(t *testing.T) Options {
	t.Helper()
	ps := []v1.Platform{{OS: "linux", Architecture: "amd64"}}
	if *allPlatforms {
		ps = DefaultPlatforms()
	}
	return Options{
		ServicesDir: filepath.Join("..", "..", "services"),
		Services:    []catalog.Service{catalog.MustLookup(testService)},
		Platforms:   ps,
		Version:     "v1.2.3-test",
		Commit:      "0123456789abcdef0123456789abcdef01234567",
		Created:     time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
	}
}

var (
	first     []Image
	firstErr  error
	firstOnce sync.Once
)

// build is the package's first build, shared by the tests that read an image.
func build(t *testing.T) []Image {
	t.Helper()
	firstOnce.Do(func() {
		o := testOptions(t)
		o.Log = os.Stderr
		first, firstErr = Build(context.Background(), o)
	})
	require.NoError(t, firstErr)
	return first
}

func TestTwoBuildsGiveEqualDigests(t *testing.T) {
	a := build(t)
	b, err := Build(context.Background(), testOptions(t))
	require.NoError(t, err)

	da, err := DigestsOf(a)
	require.NoError(t, err)
	db, err := DigestsOf(b)
	require.NoError(t, err)
	require.Equal(t, da, db, "the same tree built twice gives the same index digests")
	t.Logf("index digests: %v", da)

	// Through the layouts too: the same index.json and the same SBOM digests.
	la, lb := t.TempDir(), t.TempDir()
	require.NoError(t, WriteLayout(la, a))
	require.NoError(t, WriteLayout(lb, b))
	ia, err := os.ReadFile(filepath.Join(la, "index.json"))
	require.NoError(t, err)
	ib, err := os.ReadFile(filepath.Join(lb, "index.json"))
	require.NoError(t, err)
	assert.Equal(t, string(ia), string(ib))
	pa, err := layout.FromPath(la)
	require.NoError(t, err)
	pb, err := layout.FromPath(lb)
	require.NoError(t, err)
	xa, err := pa.ImageIndex()
	require.NoError(t, err)
	xb, err := pb.ImageIndex()
	require.NoError(t, err)
	ha, _ := xa.Digest()
	hb, _ := xb.Digest()
	assert.Equal(t, ha, hb, "layout index digests")
}

func TestImageShape(t *testing.T) {
	o := testOptions(t)
	ims := build(t)
	dir := t.TempDir()
	require.NoError(t, WriteLayout(dir, ims))

	// Read everything back from the layout, not from memory.
	p, err := layout.FromPath(dir)
	require.NoError(t, err)
	top, err := p.ImageIndex()
	require.NoError(t, err)
	tm, err := top.IndexManifest()
	require.NoError(t, err)
	refs := map[string]v1.Descriptor{}
	for _, d := range tm.Manifests {
		refs[d.Annotations[RefName]] = d
	}
	desc, ok := refs[testService]
	require.True(t, ok, "the layout names the service's index: %v", refs)
	require.Equal(t, types.OCIImageIndex, desc.MediaType)
	idx, err := top.ImageIndex(desc.Digest)
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	assert.Equal(t, o.Commit, im.Annotations[LabelRevision])
	require.Len(t, im.Manifests, len(o.Platforms))

	entry := catalog.MustLookup(testService)
	for i, md := range im.Manifests {
		require.NotNil(t, md.Platform)
		assert.Equal(t, o.Platforms[i].Architecture, md.Platform.Architecture)
		img, err := idx.Image(md.Digest)
		require.NoError(t, err)
		cf, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, "linux", cf.OS)
		assert.Equal(t, md.Platform.Architecture, cf.Architecture)
		assert.Equal(t, "1000:1000", cf.Config.User)
		assert.Equal(t, []string{"/usr/local/bin/" + entry.Binary}, cf.Config.Entrypoint)
		assert.Empty(t, cf.Config.Cmd)
		assert.Equal(t, Home, cf.Config.WorkingDir)
		assert.Equal(t, o.Created, cf.Created.UTC())
		assert.Equal(t, map[string]string{
			LabelSource:   DefaultRepo,
			LabelRevision: o.Commit,
			LabelCreated:  "2026-11-30T12:00:00Z",
			LabelVersion:  o.Version,
			LabelTitle:    testService,
		}, cf.Config.Labels)

		files := layerFiles(t, img, o.Created)
		for name := range files {
			base := path.Base(name)
			assert.NotContains(t, []string{"sh", "bash", "ash", "dash", "zsh", "ksh", "busybox", "su", "sudo", "login"}, base, "no shell or login tool: %s", name)
			assert.False(t, strings.HasPrefix(name, "bin/") || strings.HasPrefix(name, "usr/bin/") || strings.HasPrefix(name, "sbin/"), "nothing in a shell's directories: %s", name)
		}
		assert.Contains(t, string(files["etc/passwd"].data), "cantondex:x:1000:1000:cantondex:/home/cantondex:/sbin/nologin\n")
		assert.NotContains(t, files, "sbin/nologin", "the passwd entry's shell does not exist")
		assert.Contains(t, string(files["etc/group"].data), "cantondex:x:1000:\n")
		assert.Equal(t, 1000, files["home/cantondex/"].uid, "the home directory belongs to the user")
		certs := files[strings.TrimPrefix(CertFile, "/")]
		assert.Greater(t, bytes.Count(certs.data, []byte("BEGIN CERTIFICATE")), 100, "a full CA bundle")
		bin := files["usr/local/bin/"+entry.Binary]
		require.NotEmpty(t, bin.data)
		assert.Equal(t, 0, bin.uid, "the binary belongs to root: the process cannot change it")
		assert.Equal(t, int64(0o755), bin.mode)

		if md.Platform.Architecture == "amd64" { // this machine's: run the binary from the layer
			exe := filepath.Join(t.TempDir(), entry.Binary)
			require.NoError(t, os.WriteFile(exe, bin.data, 0o755))
			out, err := exec.Command(exe, "--version").CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Contains(t, string(out), testService+" "+o.Version+" (commit "+o.Commit+",")
			assert.Contains(t, string(out), "linux/amd64")
		}

		// The SBOM: an artifact whose subject is this image, a valid SPDX document of its binary.
		sd, ok := refs[SBOMRef(testService, md.Platform.Architecture)]
		require.True(t, ok, "the layout names the SBOM of %s", md.Platform.Architecture)
		assert.Equal(t, SBOMType, sd.ArtifactType)
		sbom, err := top.Image(sd.Digest)
		require.NoError(t, err)
		sm, err := sbom.Manifest()
		require.NoError(t, err)
		require.NotNil(t, sm.Subject)
		assert.Equal(t, md.Digest, sm.Subject.Digest, "the SBOM refers to this platform's image")
		assert.Equal(t, SBOMType, sm.ArtifactType)
		assert.Equal(t, types.OCIEmptyJSON, sm.Config.MediaType)
		ls, err := sbom.Layers()
		require.NoError(t, err)
		require.Len(t, ls, 1)
		rc, err := ls[0].Compressed()
		require.NoError(t, err)
		raw, err := io.ReadAll(rc)
		require.NoError(t, err)
		doc, err := spdxjson.Read(bytes.NewReader(raw))
		require.NoError(t, err)
		require.NoError(t, spdxlib.ValidateDocument(doc))
		assert.Equal(t, "SPDX-2.3", doc.SPDXVersion)
		described, err := spdxlib.GetDescribedPackageIDs(doc)
		require.NoError(t, err)
		require.Len(t, described, 1)
		byName := map[string]string{}
		for _, pkg := range doc.Packages {
			byName[pkg.PackageName] = pkg.PackageVersion
			if pkg.PackageName != "stdlib" && pkg.PackageName != "github.com/cantondex/platform/services/cmd/"+entry.Binary {
				require.Len(t, pkg.PackageChecksums, 1, "%s has its go.sum hash", pkg.PackageName)
				assert.Len(t, pkg.PackageChecksums[0].Value, 64)
			}
		}
		assert.Equal(t, o.Version, byName["github.com/cantondex/platform/services/cmd/"+entry.Binary])
		assert.Equal(t, "v1.61.1", byName["github.com/IBM/sarama"], "the topics Job links sarama (services/go.mod)")
		assert.True(t, strings.HasPrefix(byName["stdlib"], "go1."), "the toolchain: %q", byName["stdlib"])
		assert.Len(t, doc.Relationships, len(doc.Packages), "one DESCRIBES and a DEPENDS_ON per dependency")
	}
}

type file struct {
	data     []byte
	uid      int
	mode     int64
	modified time.Time
}

// layerFiles reads every layer of img: name -> file. Every entry's time must be created.
func layerFiles(t *testing.T, img v1.Image, created time.Time) map[string]file {
	t.Helper()
	ls, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, ls, 2, "the shared base and the binary")
	out := map[string]file{}
	for _, l := range ls {
		rc, err := l.Uncompressed()
		require.NoError(t, err)
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			data, err := io.ReadAll(tr)
			require.NoError(t, err)
			assert.Equal(t, created, h.ModTime.UTC(), "the time of %s is SOURCE_DATE_EPOCH", h.Name)
			assert.NotEqual(t, tar.TypeSymlink, h.Typeflag, "no links: %s", h.Name)
			out[h.Name] = file{data: data, uid: h.Uid, mode: h.Mode, modified: h.ModTime}
		}
		require.NoError(t, rc.Close())
	}
	return out
}

func TestBuildErrors(t *testing.T) {
	o := testOptions(t)
	o.Version, o.Created = "", time.Time{}
	o.Platforms = []v1.Platform{{OS: "windows", Architecture: "amd64"}}
	_, err := Build(context.Background(), o)
	require.Error(t, err)
	for _, want := range []string{"version: required", "SOURCE_DATE_EPOCH", "platform windows/amd64"} {
		assert.ErrorContains(t, err, want)
	}

	// A binary the catalog names but the tree does not have.
	o = testOptions(t)
	o.Services = []catalog.Service{{Name: "migrations", Binary: "migrations"}}
	_, err = Build(context.Background(), o)
	assert.ErrorContains(t, err, "services/cmd/migrations does not exist")

	// A compile error carries the compiler's output.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/broken\n\ngo 1.26\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "cmd", "broken"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cmd", "broken", "main.go"), []byte("package main\n\nfunc main() { undefinedThing() }\n"), 0o644))
	o = testOptions(t)
	o.ServicesDir = dir
	o.Services = []catalog.Service{{Name: "broken", Binary: "broken"}}
	_, err = Build(context.Background(), o)
	require.Error(t, err)
	assert.ErrorContains(t, err, "build broken linux/amd64")
	assert.ErrorContains(t, err, "undefined: undefinedThing")
}

func TestSelect(t *testing.T) {
	all := catalog.All()
	got, err := Select(all, nil)
	require.NoError(t, err)
	assert.Len(t, got, len(all))

	got, err = Select(all, []string{catalog.KafkaTopics, catalog.APIGateway})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, catalog.APIGateway, got[0].Name, "catalog order")
	assert.Equal(t, catalog.KafkaTopics, got[1].Name)

	_, err = Select(all, []string{"api-gateway", "billing", "x"})
	require.Error(t, err)
	assert.ErrorContains(t, err, `unknown service "billing", "x": the catalog has api-gateway, `)
}

func TestParseSourceDateEpoch(t *testing.T) {
	got, err := ParseSourceDateEpoch("1764590400")
	require.NoError(t, err)
	assert.Equal(t, time.Date(2025, 12, 1, 12, 0, 0, 0, time.UTC), got)
	for _, bad := range []string{"", "yesterday", "-1", "1.5", "99999999999999"} {
		_, err := ParseSourceDateEpoch(bad)
		assert.ErrorContains(t, err, "SOURCE_DATE_EPOCH", "%q", bad)
	}
}

func TestCACertificates(t *testing.T) {
	pem, skipped := CACertificates()
	n := bytes.Count(pem, []byte("-----BEGIN CERTIFICATE-----"))
	assert.Greater(t, n, 100)
	t.Logf("%d roots, %d constrained roots left out", n, skipped)
	again, _ := CACertificates()
	assert.Equal(t, pem, again, "the same bundle every time")
}

func TestPortsFromTheCatalog(t *testing.T) {
	assert.Equal(t, map[string]struct{}{"8080/tcp": {}, "9090/tcp": {}}, ports(catalog.MustLookup(catalog.APIGateway)))
	assert.Equal(t, map[string]struct{}{"9090/tcp": {}}, ports(catalog.MustLookup(catalog.MatchingEngine)))
	assert.Nil(t, ports(catalog.MustLookup(catalog.KafkaTopics)), "a Job listens on nothing")
}
