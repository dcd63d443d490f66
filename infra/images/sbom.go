package images

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/cantondex/platform/services/catalog"
)

// SPDX 2.3 JSON, the fields this document uses.
type (
	SPDXDocument struct {
		SPDXVersion       string             `json:"spdxVersion"`
		DataLicense       string             `json:"dataLicense"`
		SPDXID            string             `json:"SPDXID"`
		Name              string             `json:"name"`
		DocumentNamespace string             `json:"documentNamespace"`
		CreationInfo      SPDXCreationInfo   `json:"creationInfo"`
		Packages          []SPDXPackage      `json:"packages"`
		Relationships     []SPDXRelationship `json:"relationships"`
	}
	SPDXCreationInfo struct {
		Created  string   `json:"created"`
		Creators []string `json:"creators"`
	}
	SPDXPackage struct {
		Name                  string         `json:"name"`
		SPDXID                string         `json:"SPDXID"`
		VersionInfo           string         `json:"versionInfo"`
		Supplier              string         `json:"supplier"`
		DownloadLocation      string         `json:"downloadLocation"`
		FilesAnalyzed         bool           `json:"filesAnalyzed"`
		Checksums             []SPDXChecksum `json:"checksums,omitempty"`
		LicenseConcluded      string         `json:"licenseConcluded"`
		LicenseDeclared       string         `json:"licenseDeclared"`
		CopyrightText         string         `json:"copyrightText"`
		ExternalRefs          []SPDXRef      `json:"externalRefs,omitempty"`
		PrimaryPackagePurpose string         `json:"primaryPackagePurpose,omitempty"`
		Comment               string         `json:"comment,omitempty"`
	}
	SPDXChecksum struct {
		Algorithm     string `json:"algorithm"`
		ChecksumValue string `json:"checksumValue"`
	}
	SPDXRef struct {
		ReferenceCategory string `json:"referenceCategory"`
		ReferenceType     string `json:"referenceType"`
		ReferenceLocator  string `json:"referenceLocator"`
	}
	SPDXRelationship struct {
		Element string `json:"spdxElementId"`
		Type    string `json:"relationshipType"`
		Related string `json:"relatedSpdxElement"`
	}
)

// SBOM describes the binary bin of s for p: the main package (with the binary's SHA-256 and
// the build settings), the Go standard library, and every module linked in with its version
// and go.sum hash, all read from the binary's own build information (what `go version -m`
// prints), so it lists exactly what was compiled in.
func SBOM(o Options, s catalog.Service, p v1.Platform, bin []byte) (SPDXDocument, error) {
	bi, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		return SPDXDocument{}, fmt.Errorf("read the binary's build information: %w", err)
	}
	binSum := sha256.Sum256(bin)
	doc := SPDXDocument{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            "SPDXRef-DOCUMENT",
		Name:              fmt.Sprintf("%s-%s-%s-%s", s.Name, o.Version, p.OS, p.Architecture),
		DocumentNamespace: fmt.Sprintf("%s/spdx/%s/%s/%s-%s", o.Source, s.Name, o.Version, p.OS, p.Architecture) + "-" + hex.EncodeToString(binSum[:8]),
		CreationInfo: SPDXCreationInfo{
			Created:  o.Created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: cantondex-images", "Tool: " + bi.GoVersion},
		},
	}
	var settings []string
	for _, kv := range bi.Settings {
		settings = append(settings, kv.Key+"="+kv.Value)
	}
	mainID := "SPDXRef-Package-" + spdxID(bi.Path)
	doc.Packages = append(doc.Packages, SPDXPackage{
		Name: bi.Path, SPDXID: mainID, VersionInfo: o.Version,
		Supplier: "Organization: CantonDEX", DownloadLocation: o.Source,
		Checksums:        []SPDXChecksum{{Algorithm: "SHA256", ChecksumValue: hex.EncodeToString(binSum[:])}},
		LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
		ExternalRefs:          []SPDXRef{purl(bi.Path, o.Version)},
		PrimaryPackagePurpose: "APPLICATION",
		Comment:               fmt.Sprintf("the binary %s%s (%s/%s, commit %s); build settings: %s", BinDir+"/", s.Binary, p.OS, p.Architecture, o.Commit, strings.Join(settings, " ")),
	})
	doc.Relationships = append(doc.Relationships, SPDXRelationship{Element: doc.SPDXID, Type: "DESCRIBES", Related: mainID})
	add := func(name, version string, sum SPDXChecksum, comment string) {
		id := "SPDXRef-Package-" + spdxID(name+"-"+version)
		pkg := SPDXPackage{
			Name: name, SPDXID: id, VersionInfo: version,
			Supplier: "NOASSERTION", DownloadLocation: "NOASSERTION",
			LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
			ExternalRefs:          []SPDXRef{purl(name, version)},
			PrimaryPackagePurpose: "LIBRARY",
			Comment:               comment,
		}
		if sum.ChecksumValue != "" {
			pkg.Checksums = []SPDXChecksum{sum}
		}
		doc.Packages = append(doc.Packages, pkg)
		doc.Relationships = append(doc.Relationships, SPDXRelationship{Element: mainID, Type: "DEPENDS_ON", Related: id})
	}
	add("stdlib", bi.GoVersion, SPDXChecksum{}, "the Go standard library and runtime")
	for _, d := range bi.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		sum, err := goSum(m)
		if err != nil {
			return doc, err
		}
		comment := "go.sum " + m.Sum
		if d.Replace != nil {
			comment = fmt.Sprintf("replaces %s %s; %s", d.Path, d.Version, comment)
		}
		add(m.Path, m.Version, sum, comment)
	}
	return doc, nil
}

// goSum turns a module's go.sum hash ("h1:" and the base64 SHA-256 of the module's file
// list) into an SPDX SHA256 checksum; the comment keeps the h1 form go verifies.
func goSum(m *debug.Module) (SPDXChecksum, error) {
	if m.Sum == "" {
		return SPDXChecksum{}, nil // a module replaced by a directory has none
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(m.Sum, "h1:"))
	if !strings.HasPrefix(m.Sum, "h1:") || err != nil || len(raw) != sha256.Size {
		return SPDXChecksum{}, fmt.Errorf("module %s %s: go.sum hash %q is not h1:<base64 sha256>", m.Path, m.Version, m.Sum)
	}
	return SPDXChecksum{Algorithm: "SHA256", ChecksumValue: hex.EncodeToString(raw)}, nil
}

func purl(path, version string) SPDXRef {
	return SPDXRef{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl", ReferenceLocator: "pkg:golang/" + path + "@" + version}
}

var notIDChar = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// spdxID makes s a legal SPDX identifier suffix (letters, digits, '.', '-').
func spdxID(s string) string { return notIDChar.ReplaceAllString(s, "-") }

// artifact is an OCI 1.1 artifact manifest: an empty config, one layer, a subject.
type artifact struct {
	manifest []byte
	layer    v1.Layer
}

// The OCI empty descriptor's content.
var emptyJSON = []byte("{}")

func (a artifact) RawConfigFile() ([]byte, error)      { return emptyJSON, nil }
func (a artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a artifact) RawManifest() ([]byte, error)        { return a.manifest, nil }
func (a artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if d, _ := a.layer.Digest(); d == h {
		return a.layer, nil
	}
	return nil, fmt.Errorf("artifact: no blob %s", h)
}

// sbomArtifact is the SPDX document of the binary as an OCI artifact (artifactType
// application/spdx+json) whose subject is img: registries with the OCI 1.1 Referrers API
// (ECR among them) list it under the image's digest, and the image's own digest stays that of
// a plain image.
func sbomArtifact(o Options, s catalog.Service, p v1.Platform, img v1.Image, bin []byte) (v1.Image, error) {
	doc, err := SBOM(o, s, p, bin)
	if err != nil {
		return nil, err
	}
	body, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	l := static.NewLayer(body, SBOMType)
	ld, err := l.Digest()
	if err != nil {
		return nil, err
	}
	subject, err := partial.Descriptor(img)
	if err != nil {
		return nil, err
	}
	emptySum := sha256.Sum256(emptyJSON)
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  SBOMType,
		Config: v1.Descriptor{
			MediaType: types.OCIEmptyJSON, Size: int64(len(emptyJSON)), Data: emptyJSON,
			Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(emptySum[:])},
		},
		Layers: []v1.Descriptor{{
			MediaType: SBOMType, Size: int64(len(body)), Digest: ld,
			Annotations: map[string]string{LabelTitle: s.Name + ".spdx.json"},
		}},
		Subject:     &v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest},
		Annotations: map[string]string{LabelCreated: o.Created.UTC().Format(time.RFC3339)},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(artifact{manifest: raw, layer: l})
}
