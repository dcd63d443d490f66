package registry

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cantondex/platform/components/mocks"
)

const repoType = "aws:ecr/repository:Repository"

func testArgs() RegistryArgs {
	return RegistryArgs{Prefix: "cantondex-test", Repositories: []string{"api-gateway", "matching-engine"},
		KeepReleases: 30, UntaggedExpiryDays: 7, AccountID: "123456789012", Tags: map[string]string{"project": "cantondex"}}
}

func run(t *testing.T, mutate func(*RegistryArgs)) (*mocks.Recorder, *Registry, error) {
	t.Helper()
	var reg *Registry
	change := func(a *RegistryArgs, _ *pulumi.Context) error {
		if mutate != nil {
			mutate(a)
		}
		return nil
	}
	rec, err := mocks.RunComponent(testArgs(), change, func(ctx *pulumi.Context, a RegistryArgs) error {
		var err error
		reg, err = NewRegistry(ctx, "images", a)
		return err
	})
	return rec, reg, err
}

func TestRepositoriesAreImmutableScannedAndEncrypted(t *testing.T) {
	rec, _, err := run(t, nil)
	require.NoError(t, err)
	repos := rec.OfType(repoType)
	require.Len(t, repos, 2, "one repository per name")
	comp, ok := rec.Named("cantondex:registry:Registry", "images")
	require.True(t, ok, "component registered")
	key, ok := rec.Named("aws:kms/key:Key", "images-images")
	require.True(t, ok, "the registry's customer key")
	assert.True(t, key.Bool("enableKeyRotation"), "key rotation")
	names := map[string]bool{}
	for _, r := range repos {
		names[r.String("name")] = true
		assert.Equal(t, comp.URN, r.Parent, "%s parent", r.Name)
		assert.Equal(t, "IMMUTABLE", r.String("imageTagMutability"), r.Name)
		assert.True(t, r.Bool("imageScanningConfiguration.scanOnPush"), r.Name)
		assert.False(t, r.Bool("forceDelete"), r.Name)
		enc, _ := r.Input("encryptionConfigurations")
		list, _ := enc.([]any)
		require.Len(t, list, 1, r.Name)
		assert.Equal(t, "KMS", list[0].(map[string]any)["encryptionType"], r.Name)
		assert.Equal(t, mocks.ARN("aws:kms/key:Key", "images-images"), list[0].(map[string]any)["kmsKey"], "%s is encrypted with the registry's key", r.Name)
	}
	assert.Equal(t, map[string]bool{"cantondex-test/api-gateway": true, "cantondex-test/matching-engine": true}, names)
	assert.Len(t, rec.OfType("aws:ecr/lifecyclePolicy:LifecyclePolicy"), 2, "a lifecycle policy per repository")
}

func TestLifecyclePolicyKeepsReleasesAndExpiresUntagged(t *testing.T) {
	rec, _, err := run(t, nil)
	require.NoError(t, err)
	lp, ok := rec.Named("aws:ecr/lifecyclePolicy:LifecyclePolicy", "images-api-gateway")
	require.True(t, ok)
	var doc struct {
		Rules []struct {
			RulePriority int
			Selection    struct {
				TagStatus, CountType string
				TagPatternList       []string
				CountNumber          int
			}
			Action struct{ Type string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(lp.String("policy")), &doc))
	require.Len(t, doc.Rules, 2)
	untagged, tagged := doc.Rules[0], doc.Rules[1]
	assert.Equal(t, "untagged", untagged.Selection.TagStatus)
	assert.Equal(t, "sinceImagePushed", untagged.Selection.CountType)
	assert.Equal(t, 7, untagged.Selection.CountNumber)
	assert.Equal(t, "tagged", tagged.Selection.TagStatus)
	assert.Equal(t, []string{"*"}, tagged.Selection.TagPatternList)
	assert.Equal(t, "imageCountMoreThan", tagged.Selection.CountType)
	assert.Equal(t, 30, tagged.Selection.CountNumber)
	assert.Less(t, untagged.RulePriority, tagged.RulePriority)
	assert.Equal(t, "expire", tagged.Action.Type)
}

func TestRepositoryURLsByName(t *testing.T) {
	got := make(chan string, 1)
	_, err := mocks.RunComponent(testArgs(), nil, func(ctx *pulumi.Context, a RegistryArgs) error {
		reg, err := NewRegistry(ctx, "images", a)
		if err != nil {
			return err
		}
		if _, ok := reg.URLs["api-gateway"]; !ok {
			return errors.New("no URL for api-gateway")
		}
		reg.URLs["api-gateway"].ApplyT(func(u string) string { got <- u; return u })
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, mocks.Account+".dkr.ecr."+mocks.Region+".amazonaws.com/cantondex-test/api-gateway", <-got)
}

func TestInvalidArgsNameTheField(t *testing.T) {
	for name, c := range map[string]struct {
		mutate func(*RegistryArgs)
		want   string
	}{
		"no repositories": {func(a *RegistryArgs) { a.Repositories = nil }, "repositories: at least one"},
		"upper case":      {func(a *RegistryArgs) { a.Repositories = []string{"API"} }, `repositories: "API" is not`},
		"twice":           {func(a *RegistryArgs) { a.Repositories = []string{"a", "a"} }, `"a" is listed twice`},
		"bad prefix":      {func(a *RegistryArgs) { a.Prefix = "/x" }, "prefix:"},
		"keep none":       {func(a *RegistryArgs) { a.KeepReleases = 0 }, "keepReleases: must be at least 1, got 0"},
		"no expiry":       {func(a *RegistryArgs) { a.UntaggedExpiryDays = 0 }, "untaggedExpiryDays:"},
		"no account":      {func(a *RegistryArgs) { a.AccountID = "" }, "accountId: is required"},
	} {
		t.Run(name, func(t *testing.T) {
			rec, _, err := run(t, c.mutate)
			require.Error(t, err)
			assert.ErrorContains(t, err, "registry images: ")
			assert.ErrorContains(t, err, c.want)
			assert.Empty(t, rec.OfType(repoType), "nothing created")
		})
	}
}
