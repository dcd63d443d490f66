// Package registry is the ECR component: one private repository per service, immutable tags,
// scan on push, encrypted with a customer-managed KMS key, and a lifecycle policy that keeps the
// last releases and expires untagged images. The workloads reference images by digest only
// (<repository URL>@sha256:...), so a tag can never move under a running Deployment.
package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/cantondex/platform/components/identity"
)

// Registry is the platform's ECR repositories and their key.
type Registry struct {
	pulumi.ResourceState

	// RepositoryURLs are the repositories' URLs (<account>.dkr.ecr.<region>.amazonaws.com/<name>)
	// by repository short name (the service).
	RepositoryURLs pulumi.StringMapOutput `pulumi:"repositoryUrls"`
	// RepositoryARNs are the repositories' ARNs by short name (for CI's push role).
	RepositoryARNs pulumi.StringMapOutput `pulumi:"repositoryArns"`
	KMSKeyARN      pulumi.StringOutput    `pulumi:"kmsKeyArn"`

	// URLs is RepositoryURLs as one output per repository, for callers that build one value
	// per service.
	URLs map[string]pulumi.StringOutput
}

// RegistryArgs configures the Registry.
type RegistryArgs struct {
	// Prefix is the repositories' namespace: a repository is <Prefix>/<name>.
	Prefix string
	// Repositories are the short names (one per service).
	Repositories []string
	// KeepReleases is how many tagged images a repository keeps (the newest); older ones expire.
	KeepReleases int
	// UntaggedExpiryDays is how long an untagged image (an index's orphaned manifest, a failed
	// push) stays.
	UntaggedExpiryDays int
	// ForceDelete lets `pulumi destroy` delete repositories that still hold images (staging
	// only: production images are evidence of what ran).
	ForceDelete bool
	// AccountID and Partition ("aws" when empty) name the account that administers the key.
	AccountID string
	Partition string
	Tags      map[string]string
}

var repoName = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$`)

func (a RegistryArgs) validate() error {
	var errs []error
	if !repoName.MatchString(a.Prefix) {
		errs = append(errs, fmt.Errorf("prefix: %q is not an ECR repository namespace (lower case, digits, . _ - /)", a.Prefix))
	}
	if len(a.Repositories) == 0 {
		errs = append(errs, errors.New("repositories: at least one is required"))
	}
	seen := map[string]bool{}
	for _, r := range a.Repositories {
		if !repoName.MatchString(r) || len(a.Prefix)+1+len(r) > 256 {
			errs = append(errs, fmt.Errorf("repositories: %q is not an ECR repository name", r))
		}
		if seen[r] {
			errs = append(errs, fmt.Errorf("repositories: %q is listed twice", r))
		}
		seen[r] = true
	}
	if a.KeepReleases < 1 {
		errs = append(errs, fmt.Errorf("keepReleases: must be at least 1, got %d", a.KeepReleases))
	}
	if a.UntaggedExpiryDays < 1 {
		errs = append(errs, fmt.Errorf("untaggedExpiryDays: must be at least 1, got %d", a.UntaggedExpiryDays))
	}
	if a.AccountID == "" {
		errs = append(errs, errors.New("accountId: is required"))
	}
	return errors.Join(errs...)
}

// LifecyclePolicy is the ECR lifecycle policy of every repository: untagged images expire after
// untaggedDays, and only the newest keep tagged images stay.
func LifecyclePolicy(keep, untaggedDays int) string {
	type selection struct {
		TagStatus      string   `json:"tagStatus"`
		TagPatternList []string `json:"tagPatternList,omitempty"`
		CountType      string   `json:"countType"`
		CountUnit      string   `json:"countUnit,omitempty"`
		CountNumber    int      `json:"countNumber"`
	}
	type rule struct {
		RulePriority int               `json:"rulePriority"`
		Description  string            `json:"description"`
		Selection    selection         `json:"selection"`
		Action       map[string]string `json:"action"`
	}
	doc := struct {
		Rules []rule `json:"rules"`
	}{Rules: []rule{
		{RulePriority: 1, Description: fmt.Sprintf("expire untagged images after %d days", untaggedDays),
			Selection: selection{TagStatus: "untagged", CountType: "sinceImagePushed", CountUnit: "days", CountNumber: untaggedDays},
			Action:    map[string]string{"type": "expire"}},
		{RulePriority: 2, Description: fmt.Sprintf("keep the last %d tagged releases", keep),
			Selection: selection{TagStatus: "tagged", TagPatternList: []string{"*"}, CountType: "imageCountMoreThan", CountNumber: keep},
			Action:    map[string]string{"type": "expire"}},
	}}
	b, _ := json.Marshal(doc) // plain structs: cannot fail
	return string(b)
}

// NewRegistry creates the key and one repository (with its lifecycle policy) per name.
func NewRegistry(ctx *pulumi.Context, name string, args RegistryArgs, opts ...pulumi.ResourceOption) (*Registry, error) {
	if err := args.validate(); err != nil {
		return nil, fmt.Errorf("registry %s: %w", name, err)
	}
	r := &Registry{URLs: map[string]pulumi.StringOutput{}}
	if err := ctx.RegisterComponentResource("cantondex:registry:Registry", name, r, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(r)
	partition := args.Partition
	if partition == "" {
		partition = "aws"
	}
	// ECR encrypts with grants it creates on the key when a repository is made; pulls need no
	// key permission of the puller, so the account's administration is the whole policy.
	key, err := identity.NewKey(ctx, name+"-images", identity.KeyArgs{
		Description: "ECR image encryption (" + args.Prefix + ")",
		AccountRoot: pulumi.String(fmt.Sprintf("arn:%s:iam::%s:root", partition, args.AccountID)),
		Tags:        args.Tags,
	}, parent)
	if err != nil {
		return nil, err
	}
	urls, arns := pulumi.StringMap{}, pulumi.StringMap{}
	policy := LifecyclePolicy(args.KeepReleases, args.UntaggedExpiryDays)
	for _, short := range slices.Sorted(slices.Values(args.Repositories)) {
		repo, err := ecr.NewRepository(ctx, name+"-"+short, &ecr.RepositoryArgs{
			Name:                       pulumi.String(args.Prefix + "/" + short),
			ImageTagMutability:         pulumi.String("IMMUTABLE"),
			ImageScanningConfiguration: ecr.RepositoryImageScanningConfigurationArgs{ScanOnPush: pulumi.Bool(true)},
			EncryptionConfigurations: ecr.RepositoryEncryptionConfigurationArray{ecr.RepositoryEncryptionConfigurationArgs{
				EncryptionType: pulumi.String("KMS"), KmsKey: key.Arn,
			}},
			ForceDelete: pulumi.Bool(args.ForceDelete),
			Tags:        pulumi.ToStringMap(args.Tags),
		}, parent)
		if err != nil {
			return nil, err
		}
		if _, err := ecr.NewLifecyclePolicy(ctx, name+"-"+short, &ecr.LifecyclePolicyArgs{
			Repository: repo.Name, Policy: pulumi.String(policy),
		}, parent); err != nil {
			return nil, err
		}
		urls[short], arns[short] = repo.RepositoryUrl, repo.Arn
		r.URLs[short] = repo.RepositoryUrl
	}
	r.RepositoryURLs, r.RepositoryARNs, r.KMSKeyARN = urls.ToStringMapOutput(), arns.ToStringMapOutput(), key.Arn
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{
		"repositoryUrls": r.RepositoryURLs, "repositoryArns": r.RepositoryARNs, "kmsKeyArn": r.KMSKeyARN,
	})
}
