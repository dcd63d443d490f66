// Package images builds the services' container images without a Docker daemon, starting from
// an empty base, reproducibly: the same tree, toolchain and SOURCE_DATE_EPOCH give the same
// digests.
//
// Each catalog entry (services/catalog) becomes one OCI image index with a linux/amd64 and a
// linux/arm64 image. An image has two layers: a base shared by every image (/etc/passwd and
// /etc/group with the user cantondex, UID/GID 1000, whose login shell does not exist; the CA
// certificates; /home/cantondex and /tmp) and the static binary at /usr/local/bin/<binary>.
// There is no shell, no package manager, nothing else. Time-zone data is embedded in the
// binary (-tags timetzdata). Each platform's image gets an SPDX SBOM of its binary (from the
// binary's build information), an OCI artifact that refers to the image through its subject
// field.
package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cantondex/platform/services/catalog"
)

// Paths and identity inside every image.
const (
	UID         = 1000
	GID         = 1000
	User        = "cantondex"
	Home        = "/home/cantondex"
	BinDir      = "/usr/local/bin"
	CertFile    = "/etc/ssl/certs/ca-certificates.crt"
	VersionPkg  = "github.com/cantondex/platform/services/platform/version"
	SBOMType    = "application/spdx+json"
	DefaultRepo = "https://github.com/cantondex/platform"
)

// OCI annotation and label keys (image-spec annotations.md).
const (
	LabelSource   = "org.opencontainers.image.source"
	LabelRevision = "org.opencontainers.image.revision"
	LabelCreated  = "org.opencontainers.image.created"
	LabelVersion  = "org.opencontainers.image.version"
	LabelTitle    = "org.opencontainers.image.title"
	RefName       = "org.opencontainers.image.ref.name"
)

// DefaultPlatforms are the cluster's node architectures.
func DefaultPlatforms() []v1.Platform {
	return []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
}

// Options say what to build and how to stamp it.
type Options struct {
	// ServicesDir is the services module's directory (where services/go.mod is).
	ServicesDir string
	// Services are the catalog entries to build, in order.
	Services []catalog.Service
	// Platforms; nil means DefaultPlatforms.
	Platforms []v1.Platform
	// Version and Commit are stamped into the binaries and the labels; Source is the
	// repository URL of the labels (DefaultRepo when empty).
	Version, Commit, Source string
	// Created is SOURCE_DATE_EPOCH: every file time, the config's created time and the labels.
	Created time.Time
	// Log receives one line per built binary (nil: discarded).
	Log io.Writer
}

func (o Options) validate() error {
	var errs []error
	if o.ServicesDir == "" {
		errs = append(errs, errors.New("services directory: required"))
	} else if _, err := os.Stat(filepath.Join(o.ServicesDir, "go.mod")); err != nil {
		errs = append(errs, fmt.Errorf("services directory %s: no go.mod (%w)", o.ServicesDir, err))
	}
	if len(o.Services) == 0 {
		errs = append(errs, errors.New("services: none to build"))
	}
	for _, s := range o.Services {
		if s.Binary == "" {
			errs = append(errs, fmt.Errorf("service %s: no binary in its catalog entry", s.Name))
		}
	}
	if o.Version == "" {
		errs = append(errs, errors.New("version: required"))
	}
	if o.Commit == "" {
		errs = append(errs, errors.New("commit: required"))
	}
	if o.Created.IsZero() {
		errs = append(errs, errors.New("created (SOURCE_DATE_EPOCH): required"))
	}
	for _, p := range o.Platforms {
		if p.OS != "linux" || (p.Architecture != "amd64" && p.Architecture != "arm64") {
			errs = append(errs, fmt.Errorf("platform %s: want linux/amd64 or linux/arm64", p.String()))
		}
	}
	return errors.Join(errs...)
}

// Image is one service's index and what was measured building it.
type Image struct {
	Service string
	Index   v1.ImageIndex
	// Platforms holds, in the index's order, each platform's image, its SBOM and sizes.
	Platforms []PlatformImage
}

// PlatformImage is one platform's image.
type PlatformImage struct {
	Platform v1.Platform
	Image    v1.Image
	SBOM     v1.Image // the SPDX artifact whose subject is Image
	// Compressed is the sum of the image's compressed layers, config and manifest: what a
	// node pulls the first time. BinarySize is the uncompressed binary.
	Compressed int64
	BinarySize int64
	// BuildTime is the go build; AssembleTime the layers (gzip), config and SBOM.
	BuildTime, AssembleTime time.Duration
}

// Digest is the index digest, the one a workload references.
func (im Image) Digest() (v1.Hash, error) { return im.Index.Digest() }

// Select returns the catalog entries named in names (all of them when names is empty), in
// catalog order, or an error naming every unknown one.
func Select(all []catalog.Service, names []string) ([]catalog.Service, error) {
	if len(names) == 0 {
		return all, nil
	}
	var unknown []string
	for _, n := range names {
		if !slices.ContainsFunc(all, func(s catalog.Service) bool { return s.Name == n }) {
			unknown = append(unknown, strconv.Quote(n))
		}
	}
	if len(unknown) > 0 {
		known := make([]string, len(all))
		for i, s := range all {
			known[i] = s.Name
		}
		return nil, fmt.Errorf("unknown service %s: the catalog has %s", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	var out []catalog.Service
	for _, s := range all {
		if slices.Contains(names, s.Name) {
			out = append(out, s)
		}
	}
	return out, nil
}

// ParseSourceDateEpoch reads SOURCE_DATE_EPOCH (decimal seconds since 1970, UTC).
func ParseSourceDateEpoch(v string) (time.Time, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 || n > 253402300799 { // 9999-12-31T23:59:59Z: tar and RFC 3339 limits
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want whole seconds since 1970-01-01 UTC (e.g. git log -1 --format=%%ct)", v)
	}
	return time.Unix(n, 0).UTC(), nil
}

// Build builds every service of o for every platform. The binaries are built in a temporary
// directory removed before it returns (the layers keep their bytes in memory).
func Build(ctx context.Context, o Options) ([]Image, error) {
	if o.Platforms == nil {
		o.Platforms = DefaultPlatforms()
	}
	if o.Source == "" {
		o.Source = DefaultRepo
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	o.Created = o.Created.UTC()
	tmp, err := os.MkdirTemp("", "cantondex-images-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	base, err := baseLayer(o.Created)
	if err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	var out []Image
	for _, s := range o.Services {
		im, err := buildService(ctx, o, s, base, tmp)
		if err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, nil
}

func buildService(ctx context.Context, o Options, s catalog.Service, base v1.Layer, tmp string) (Image, error) {
	im := Image{Service: s.Name}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range o.Platforms {
		bin := filepath.Join(tmp, s.Binary+"-"+p.OS+"-"+p.Architecture)
		start := time.Now()
		if err := goBuild(ctx, o, s.Binary, p, bin); err != nil {
			return im, fmt.Errorf("build %s %s: %w", s.Name, p.String(), err)
		}
		took := time.Since(start)
		pi, err := assemble(o, s, p, base, bin)
		if err != nil {
			return im, fmt.Errorf("image %s %s: %w", s.Name, p.String(), err)
		}
		pi.BuildTime, pi.AssembleTime = took, time.Since(start)-took
		fmt.Fprintf(o.Log, "built %s %s: go build %s, layers and SBOM %s; binary %s, image %s compressed\n",
			s.Name, p.String(), took.Round(100*time.Millisecond), pi.AssembleTime.Round(100*time.Millisecond), MiB(pi.BinarySize), MiB(pi.Compressed))
		plat := p
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        pi.Image,
			Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &plat},
		})
		im.Platforms = append(im.Platforms, pi)
	}
	im.Index = mutate.Annotations(idx, labels(o, s)).(v1.ImageIndex)
	return im, nil
}

// labels are the image's OCI labels, also the index's annotations.
func labels(o Options, s catalog.Service) map[string]string {
	return map[string]string{
		LabelSource:   o.Source,
		LabelRevision: o.Commit,
		LabelCreated:  o.Created.Format(time.RFC3339),
		LabelVersion:  o.Version,
		LabelTitle:    s.Name,
	}
}

// MiB formats a byte count.
func MiB(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
