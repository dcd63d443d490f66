package stacks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"

	"github.com/cantondex/platform/services/catalog"
)

// Images are the digests of the services' images, by catalog service name, as the images
// command prints them after pushing (cantondex:images, set by CI before `pulumi up`):
//
//	cantondex:images: {"api-gateway": "sha256:<64 hex>", ...}
//
// The workloads reference <repository URL>@<digest> only, never a tag.
type Images map[string]string

var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// PlaceholderDigest is the deterministic digest the offline plan and `pulumi preview` use for
// a service whose digest is not set: sha256("placeholder:" + service). No image has it, and the
// program refuses it on `pulumi up`.
func PlaceholderDigest(service string) string {
	sum := sha256.Sum256([]byte("placeholder:" + service))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Missing returns the catalog services without a digest, in catalog order.
func (im Images) Missing() []string {
	var out []string
	for _, s := range catalog.All() {
		if _, ok := im[s.Name]; !ok {
			out = append(out, s.Name)
		}
	}
	return out
}

// Placeholders returns the catalog services whose digest is the placeholder, in catalog order.
func (im Images) Placeholders() []string {
	var out []string
	for _, s := range catalog.All() {
		if im[s.Name] == PlaceholderDigest(s.Name) {
			out = append(out, s.Name)
		}
	}
	return out
}

// WithPlaceholders returns a copy of im with the placeholder digest for every missing service.
func (im Images) WithPlaceholders() Images {
	out := maps.Clone(im)
	if out == nil {
		out = Images{}
	}
	for _, name := range im.Missing() {
		out[name] = PlaceholderDigest(name)
	}
	return out
}

func (im Images) validate(v *validator) {
	for _, name := range slices.Sorted(maps.Keys(im)) {
		if _, ok := catalog.Lookup(name); !ok {
			v.errorf("images."+name, "%q is not a service of the catalog (services/catalog)", name)
			continue
		}
		if !digestPattern.MatchString(im[name]) {
			v.errorf("images."+name, "%q is not an image digest (sha256:<64 lower-case hex>)", im[name])
		}
	}
}

// Registry is how the ECR repositories keep images (cantondex:registry).
type Registry struct {
	// KeepReleases is how many tagged images each repository keeps (rollback depth).
	KeepReleases int `json:"keepReleases"`
	// UntaggedExpiryDays is how long untagged images stay.
	UntaggedExpiryDays int `json:"untaggedExpiryDays"`
	// ForceDelete lets a destroy delete repositories that hold images (never in prod).
	ForceDelete bool `json:"forceDelete"`
}

func defaultRegistry(env Environment) Registry {
	if env == Prod {
		return Registry{KeepReleases: 50, UntaggedExpiryDays: 7}
	}
	return Registry{KeepReleases: 20, UntaggedExpiryDays: 3, ForceDelete: true}
}

func (r *Registry) validate(v *validator, env Environment) {
	if r.KeepReleases < 1 || r.KeepReleases > 1000 {
		v.errorf("registry.keepReleases", "%d is outside 1 to 1000", r.KeepReleases)
	}
	if r.UntaggedExpiryDays < 1 || r.UntaggedExpiryDays > 365 {
		v.errorf("registry.untaggedExpiryDays", "%d is outside 1 to 365 days", r.UntaggedExpiryDays)
	}
	if env == Prod && r.ForceDelete {
		v.errorf("registry.forceDelete", "must be false in prod: its images are the record of what ran")
	}
}

// ImageError is returned by CheckDeployable: digests a real `pulumi up` cannot deploy.
func (im Images) CheckDeployable() error {
	v := &validator{}
	for _, name := range im.Missing() {
		v.errorf("images."+name, "no digest for %s: CI sets cantondex:images from the images command's push before `pulumi up`", name)
	}
	for _, name := range im.Placeholders() {
		v.errorf("images."+name, "%s has the offline plan's placeholder digest, which no image has", name)
	}
	return v.err()
}

// String renders a digest list for messages.
func (im Images) String() string { return fmt.Sprint(map[string]string(im)) }
