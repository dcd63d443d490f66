package images

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// buildEnv pins everything in the environment that changes the compiler's output, so the
// binary depends only on the source, the toolchain and the stamps: no cgo, the services
// module alone (its go.mod and go.sum, not the workspace's union with the infrastructure
// modules), read-only module resolution, and the baseline instruction sets.
func buildEnv(p v1.Platform) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "CGO_ENABLED", "GOOS", "GOARCH", "GOAMD64", "GOARM64", "GOWORK", "GOFLAGS", "GOEXPERIMENT":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture,
		"GOAMD64=v1", "GOARM64=v8.0", "GOWORK=off", "GOFLAGS=-mod=readonly",
	)
}

// LDFlags are the linker flags: no symbol table or DWARF (smaller; panics still print
// stack traces) and the version stamps --version prints.
func LDFlags(version, commit string) string {
	return fmt.Sprintf("-s -w -X %s.version=%s -X %s.commit=%s", VersionPkg, version, VersionPkg, commit)
}

// goBuild builds services/cmd/<binary> for p into out. A failure carries the compiler's
// output.
func goBuild(ctx context.Context, o Options, binary string, p v1.Platform, out string) error {
	if strings.ContainsAny(o.Version+o.Commit, " \t\n'\"") {
		return fmt.Errorf("version %q and commit %q: no spaces or quotes", o.Version, o.Commit)
	}
	if _, err := os.Stat(o.ServicesDir + "/cmd/" + binary); err != nil {
		return fmt.Errorf("services/cmd/%s does not exist: the catalog entry names a binary that is not written yet", binary)
	}
	cmd := exec.CommandContext(ctx, "go", "build",
		"-trimpath", "-buildvcs=false", "-tags=timetzdata",
		"-ldflags="+LDFlags(o.Version, o.Commit),
		"-o", out, "./cmd/"+binary)
	cmd.Dir = o.ServicesDir
	cmd.Env = buildEnv(p)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/%s: %w\n%s", binary, err, strings.TrimSpace(output.String()))
	}
	return nil
}
