package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"

	"github.com/cantondex/platform/services/catalog"
)

// entry is one file or directory of a layer.
type entry struct {
	name     string // absolute path in the image
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// layer writes entries (parents before children, as given) as a tar whose every header
// field is fixed: the times are created, owners numeric with no names, USTAR format. It is
// gzip-compressed here, at a fixed level with an empty gzip header, so the compressed digest
// is as reproducible as the tar.
func layer(created time.Time, entries []entry) (v1.Layer, error) {
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, e := range entries {
		h := &tar.Header{
			Name:    strings.TrimPrefix(e.name, "/"),
			Mode:    e.mode,
			Uid:     e.uid,
			Gid:     e.gid,
			ModTime: created,
			Format:  tar.FormatUSTAR,
		}
		if e.dir {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	b := gz.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// Passwd and Group are the image's account files: root and cantondex, neither with a shell
// that exists (there is none in the image).
const (
	Passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"cantondex:x:1000:1000:cantondex:/home/cantondex:/sbin/nologin\n"
	Group = "root:x:0:\ncantondex:x:1000:\n"
)

// CACertificates is the PEM bundle written to CertFile: the NSS roots of
// golang.org/x/crypto/x509roots/fallback, pinned by infra/go.sum, so the bundle does not
// depend on the build machine. Roots NSS constrains (distrust after a date) are left out: a
// PEM file cannot carry the constraint, and trusting them unconstrained would be wider than
// NSS. It returns the bundle and how many roots were left out.
func CACertificates() ([]byte, int) {
	var out bytes.Buffer
	skipped := 0
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			skipped++
			continue
		}
		sum := sha256.Sum256(r.Certificate)
		fmt.Fprintf(&out, "# sha256 %s\n", hex.EncodeToString(sum[:]))
		_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}) // a bytes.Buffer does not fail
	}
	return out.Bytes(), skipped
}

// baseLayer is shared by every image: accounts, CA certificates, the home and /tmp
// directories, and the directory the binary goes in.
func baseLayer(created time.Time) (v1.Layer, error) {
	certs, _ := CACertificates()
	dir := func(name string, mode int64) entry { return entry{name: name, mode: mode, dir: true} }
	file := func(name, data string) entry { return entry{name: name, mode: 0o644, data: []byte(data)} }
	return layer(created, []entry{
		dir("/etc", 0o755),
		file("/etc/group", Group),
		file("/etc/passwd", Passwd),
		dir("/etc/ssl", 0o755),
		dir("/etc/ssl/certs", 0o755),
		file(CertFile, string(certs)),
		dir("/home", 0o755),
		{name: Home, mode: 0o750, uid: UID, gid: GID, dir: true},
		dir("/tmp", 0o1777),
		dir("/usr", 0o755),
		dir("/usr/local", 0o755),
		dir(BinDir, 0o755),
	})
}

// assemble makes p's image of s from the base layer and the binary at bin.
func assemble(o Options, s catalog.Service, p v1.Platform, base v1.Layer, bin string) (PlatformImage, error) {
	pi := PlatformImage{Platform: p}
	data, err := os.ReadFile(bin)
	if err != nil {
		return pi, err
	}
	pi.BinarySize = int64(len(data))
	entrypoint := path.Join(BinDir, s.Binary)
	app, err := layer(o.Created, []entry{{name: entrypoint, mode: 0o755, data: data}})
	if err != nil {
		return pi, fmt.Errorf("binary layer: %w", err)
	}
	at := v1.Time{Time: o.Created}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
			Created: at, CreatedBy: "cantondex images: accounts (cantondex 1000:1000, no shell), CA certificates, /home/cantondex, /tmp",
		}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{
			Created: at, CreatedBy: "go build -trimpath -tags=timetzdata ./cmd/" + s.Binary + " (CGO_ENABLED=0)",
		}},
	)
	if err != nil {
		return pi, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return pi, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Created = at
	cf.Config = v1.Config{
		User:         strconv.Itoa(UID) + ":" + strconv.Itoa(GID),
		Entrypoint:   []string{entrypoint},
		WorkingDir:   Home,
		Env:          []string{"PATH=" + BinDir, "SSL_CERT_FILE=" + CertFile},
		ExposedPorts: ports(s),
		Labels:       labels(o, s),
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return pi, err
	}
	pi.Image = img
	if pi.Compressed, err = compressedSize(img); err != nil {
		return pi, err
	}
	if pi.SBOM, err = sbomArtifact(o, s, p, img, data); err != nil {
		return pi, fmt.Errorf("sbom: %w", err)
	}
	return pi, nil
}

// ports are the catalog entry's listening ports.
func ports(s catalog.Service) map[string]struct{} {
	out := map[string]struct{}{}
	for _, p := range []int{s.PublicPort, s.OpsPort} {
		if p != 0 {
			out[strconv.Itoa(p)+"/tcp"] = struct{}{}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// compressedSize is what pulling img transfers: manifest, config and compressed layers.
func compressedSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	n, err := img.Size()
	if err != nil {
		return 0, err
	}
	n += m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}
