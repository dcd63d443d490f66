package images

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Push against an in-process OCI registry with the Referrers API (as ECR has).
func TestPush(t *testing.T) {
	ims := build(t)
	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	seed(t, reg)

	want, err := DigestsOf(ims)
	require.NoError(t, err)
	got, err := Push(ctx, reg, "cantondex/", "c0ffee", ims)
	require.NoError(t, err)
	assert.Equal(t, want, got, "the pushed digests are the built ones")

	repo, err := name.NewRepository(reg + "/cantondex/" + testService)
	require.NoError(t, err)
	desc, err := remote.Head(repo.Tag("c0ffee"))
	require.NoError(t, err)
	assert.Equal(t, want[testService], desc.Digest.String(), "the tag names the index")

	// Each platform's SBOM is listed by the Referrers API under its image.
	for _, pi := range ims[0].Platforms {
		d, err := pi.Image.Digest()
		require.NoError(t, err)
		refs, err := remote.Referrers(repo.Digest(d.String()))
		require.NoError(t, err)
		rm, err := refs.IndexManifest()
		require.NoError(t, err)
		require.Len(t, rm.Manifests, 1, "one referrer of %s", pi.Platform.String())
		sd, err := pi.SBOM.Digest()
		require.NoError(t, err)
		assert.Equal(t, sd, rm.Manifests[0].Digest)
		// (This registry reports a referrer's config media type as its artifactType; the
		// manifest it stored has ours.)
		art, err := remote.Image(repo.Digest(sd.String()))
		require.NoError(t, err)
		am, err := art.Manifest()
		require.NoError(t, err)
		assert.Equal(t, SBOMType, am.ArtifactType)
	}

	// Pushing the same build again is harmless; the same tag on another build is refused.
	again, err := Push(ctx, reg, "cantondex/", "c0ffee", ims)
	require.NoError(t, err)
	assert.Equal(t, want, again)
	other := ims[0]
	other.Index = mutate.Annotations(ims[0].Index, map[string]string{LabelVersion: "another"}).(v1.ImageIndex)
	_, err = Push(ctx, reg, "cantondex/", "c0ffee", []Image{other})
	require.Error(t, err)
	assert.ErrorContains(t, err, "tag "+repo.Tag("c0ffee").String()+" already names "+want[testService])
	desc, err = remote.Head(repo.Tag("c0ffee"))
	require.NoError(t, err)
	assert.Equal(t, want[testService], desc.Digest.String(), "the refused push changed nothing")
}

// seed creates the repository, as the program creates the ECR repositories before CI pushes.
func seed(t *testing.T, reg string) {
	t.Helper()
	ref, err := name.ParseReference(reg + "/cantondex/" + testService + ":seed")
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, empty.Image))
}

// A registry without the Referrers API is refused before anything is written to it.
func TestPushNeedsReferrers(t *testing.T) {
	ims := build(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	seed(t, reg)
	_, err := Push(context.Background(), reg, "cantondex/", "c0ffee", ims)
	require.Error(t, err)
	assert.ErrorContains(t, err, "does not support the Referrers API")
	repo, err := name.NewRepository(reg + "/cantondex/" + testService)
	require.NoError(t, err)
	_, err = remote.Head(repo.Tag("c0ffee"))
	assert.True(t, notFound(err), "nothing was pushed: %v", err)
	d, err := ims[0].Digest()
	require.NoError(t, err)
	_, err = remote.Head(repo.Digest(d.String()))
	assert.True(t, notFound(err), "not even by digest: %v", err)
}

func TestDigestsFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "digests.json")
	d := Digests{"api-gateway": "sha256:" + strings.Repeat("a", 64), "kafka-topics": "sha256:" + strings.Repeat("b", 64)}
	require.NoError(t, d.WriteFile(file))
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	var back map[string]string
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, map[string]string(d), back)
	assert.Less(t, strings.Index(string(raw), "api-gateway"), strings.Index(string(raw), "kafka-topics"), "keys sorted")

	assert.ErrorContains(t, Digests{"api-gateway": "latest"}.WriteFile(file), `digest of api-gateway "latest"`)
}
