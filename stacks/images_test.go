package stacks

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/services/catalog"
)

func TestPlaceholderDigestsAreDeterministicAndWellFormed(t *testing.T) {
	a, b := PlaceholderDigest(catalog.APIGateway), PlaceholderDigest(catalog.APIGateway)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, PlaceholderDigest(catalog.MatchingEngine), "one placeholder per service")
	assert.Regexp(t, regexp.MustCompile(`^sha256:[0-9a-f]{64}$`), a)
	// sha256("placeholder:api-gateway")
	assert.Equal(t, "sha256:", a[:7])
	full := Images{}.WithPlaceholders()
	assert.Len(t, full, len(catalog.All()), "a placeholder for every catalog service")
	assert.Empty(t, full.Missing())
	assert.Len(t, full.Placeholders(), len(catalog.All()))
}

func TestImagesAreValidated(t *testing.T) {
	good := "sha256:" + "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"[:64]
	s, err := Load("prod", "", mapSource{"images": `{"api-gateway":"` + good + `"}`})
	require.NoError(t, err)
	assert.Equal(t, good, s.Images[catalog.APIGateway])

	for name, c := range map[string]struct{ images, want string }{
		"unknown service": {`{"no-such-service":"` + good + `"}`, `cantondex:images.no-such-service: "no-such-service" is not a service of the catalog`},
		"a tag":           {`{"api-gateway":"latest"}`, `cantondex:images.api-gateway: "latest" is not an image digest`},
		"upper-case hex":  {`{"api-gateway":"sha256:` + "AB0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCD" + `"}`, "cantondex:images.api-gateway"},
		"short":           {`{"matching-engine":"sha256:abc"}`, "cantondex:images.matching-engine"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load("prod", "", mapSource{"images": c.images})
			require.Error(t, err)
			assert.ErrorContains(t, err, c.want)
		})
	}
}

func TestDeployableImagesNameWhatIsMissing(t *testing.T) {
	im := Images{}.WithPlaceholders()
	digest := "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, s := range catalog.All() {
		im[s.Name] = digest
	}
	assert.NoError(t, im.CheckDeployable())
	delete(im, catalog.RiskManagement)
	im[catalog.MatchingEngine] = PlaceholderDigest(catalog.MatchingEngine)
	err := im.CheckDeployable()
	require.Error(t, err)
	assert.ErrorContains(t, err, "cantondex:images.risk-management: no digest for risk-management")
	assert.ErrorContains(t, err, "cantondex:images.matching-engine: matching-engine has the offline plan's placeholder digest")
	assert.NotContains(t, err.Error(), "api-gateway")
}

func TestRegistrySettings(t *testing.T) {
	s, err := Load("staging", "", mapSource{})
	require.NoError(t, err)
	assert.True(t, s.Registry.ForceDelete, "staging repositories may be destroyed with images")
	p, err := Load("prod", "", mapSource{})
	require.NoError(t, err)
	assert.False(t, p.Registry.ForceDelete, "prod keeps its images")
	for name, c := range map[string]struct{ stack, value, want string }{
		"force delete in prod": {"prod", `{"forceDelete":true}`, "cantondex:registry.forceDelete: must be false in prod"},
		"keep none":            {"staging", `{"keepReleases":0}`, "cantondex:registry.keepReleases: 0 is outside"},
		"expiry":               {"prod", `{"untaggedExpiryDays":0}`, "cantondex:registry.untaggedExpiryDays"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(c.stack, "", mapSource{"registry": c.value})
			assert.ErrorContains(t, err, c.want)
		})
	}
}
