package images

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Digests maps each catalog service to its index digest ("sha256:<64 hex>"): the shape of
// the stack setting cantondex:images that CI sets after pushing.
type Digests map[string]string

// DigestsOf returns the index digest of every image.
func DigestsOf(ims []Image) (Digests, error) {
	out := Digests{}
	for _, im := range ims {
		d, err := im.Digest()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", im.Service, err)
		}
		out[im.Service] = d.String()
	}
	return out, nil
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// WriteFile writes d as a JSON object (keys sorted) to file.
func (d Digests) WriteFile(file string) error {
	for svc, v := range d {
		if !digestRE.MatchString(v) {
			return fmt.Errorf("digest of %s %q: want sha256:<64 hex>", svc, v)
		}
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(b, '\n'), 0o644)
}

// SBOMRef is the layout annotation (ref.name) of a platform's SBOM artifact.
func SBOMRef(service, arch string) string { return service + ".sbom.linux-" + arch }

// WriteLayout writes an OCI image layout in dir (created if missing; an index.json there is
// replaced): each service's index named by its service (ref.name annotation) and each
// platform's SBOM artifact named SBOMRef.
func WriteLayout(dir string, ims []Image) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	p, err := layout.Write(filepath.Clean(dir), empty.Index)
	if err != nil {
		return fmt.Errorf("layout %s: %w", dir, err)
	}
	for _, im := range ims {
		if err := p.AppendIndex(im.Index, layout.WithAnnotations(map[string]string{RefName: im.Service})); err != nil {
			return fmt.Errorf("layout %s: %s: %w", dir, im.Service, err)
		}
		for _, pi := range im.Platforms {
			ref := SBOMRef(im.Service, pi.Platform.Architecture)
			if err := p.AppendImage(pi.SBOM, layout.WithAnnotations(map[string]string{RefName: ref})); err != nil {
				return fmt.Errorf("layout %s: %s: %w", dir, ref, err)
			}
		}
	}
	return nil
}

// Push writes each service's index to <registry>/<prefix><service>, tagged tag (none when
// tag is empty), then its SBOM artifacts by digest. A tag that already names the same digest
// is left as is (a rebuild of the same commit is reproducible, and ECR's tags are
// immutable); one that names another digest is an error. Registries must support the OCI
// 1.1 Referrers API (ECR does), checked before anything is written to a repository: the
// referrers tag fallback is off, since rewriting a fallback tag is what immutable tags forbid.
func Push(ctx context.Context, registry, prefix, tag string, ims []Image, opts ...remote.Option) (Digests, error) {
	opts = append(opts, remote.WithContext(ctx), remote.WithReferrersTagFallback(false))
	out := Digests{}
	for _, im := range ims {
		repo, err := name.NewRepository(registry+"/"+prefix+im.Service, name.StrictValidation)
		if err != nil {
			return out, fmt.Errorf("push %s: repository: %w", im.Service, err)
		}
		d, err := im.Digest()
		if err != nil {
			return out, err
		}
		// Before writing anything: a registry without the Referrers API could take the image
		// but not its SBOM.
		if _, err := remote.Referrers(repo.Digest(d.String()), opts...); err != nil {
			return out, fmt.Errorf("push %s: %w (or the repository %s does not exist: the program creates the ECR repositories)", im.Service, err, repo)
		}
		var ref name.Reference = repo.Digest(d.String())
		if tag != "" {
			t := repo.Tag(tag)
			ref = t
			switch have, err := remote.Head(t, opts...); {
			case err == nil && have.Digest == d:
				ref = repo.Digest(d.String()) // already tagged: write by digest (a no-op for present blobs)
			case err == nil:
				return out, fmt.Errorf("push %s: tag %s already names %s, this build is %s: a different tree for the same tag", im.Service, t, have.Digest, d)
			case !notFound(err):
				return out, fmt.Errorf("push %s: %w", im.Service, err)
			}
		}
		if err := remote.WriteIndex(ref, im.Index, opts...); err != nil {
			return out, fmt.Errorf("push %s: %w", ref, err)
		}
		for _, pi := range im.Platforms {
			sd, err := pi.SBOM.Digest()
			if err != nil {
				return out, err
			}
			if err := remote.Write(repo.Digest(sd.String()), pi.SBOM, opts...); err != nil {
				return out, fmt.Errorf("push %s SBOM (%s): %w", im.Service, pi.Platform.String(), err)
			}
		}
		out[im.Service] = d.String()
	}
	return out, nil
}

func notFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}
