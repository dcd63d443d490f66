// Command images builds the container image of every service of the catalog
// (services/catalog) without a Docker daemon, for linux/amd64 and linux/arm64 in one OCI index
// each, reproducibly (package infra/images), and writes them to an OCI layout, pushes them to
// a registry, or both. It prints one `service=sha256:...` line per image (the index digest a
// workload references) and, with --digests-out, writes the same as a JSON object: the stack
// setting cantondex:images.
//
//	go run ./infra/cmd/images --layout out/images
//	go run ./infra/cmd/images --services api-gateway --platforms linux/amd64 --layout out/gw
//	go run ./infra/cmd/images --push 123456789012.dkr.ecr.us-east-1.amazonaws.com --repository-prefix cantondex-staging/ --digests-out digests.json
//
// The version and commit stamped in the binaries and labels default to `git describe
// --tags --always --dirty` and `git rev-parse HEAD`; every time in the images is
// SOURCE_DATE_EPOCH (default: the commit's time). Pushing uses the ECR credential helper
// (AWS credentials from the environment, e.g. an OIDC role in CI) for ECR registries and the
// Docker config for others.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	ecr "github.com/awslabs/amazon-ecr-credential-helper/ecr-login"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/cantondex/platform/infra/images"
	"github.com/cantondex/platform/services/catalog"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "images:", err)
		os.Exit(1)
	}
}

type flags struct {
	root, services, platforms, layout, push, prefix, tag, digestsOut, version, commit, source string
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := flag.NewFlagSet("images", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.root, "root", "", "the repository's root (default: the nearest directory above the working directory with services/go.mod)")
	fs.StringVar(&f.services, "services", "", "comma-separated catalog services to build (default: all)")
	fs.StringVar(&f.platforms, "platforms", "linux/amd64,linux/arm64", "comma-separated platforms")
	fs.StringVar(&f.layout, "layout", "", "write an OCI image layout to this directory")
	fs.StringVar(&f.push, "push", "", "push to this registry (e.g. <account>.dkr.ecr.<region>.amazonaws.com)")
	fs.StringVar(&f.prefix, "repository-prefix", "", "with --push: the repositories' namespace and a slash, before the service name (the program's: cantondex-<stack>/)")
	fs.StringVar(&f.tag, "tag", "", "tag of the pushed indexes (default: the commit)")
	fs.StringVar(&f.digestsOut, "digests-out", "", "write the digests as a JSON object {service: sha256:...} to this file")
	fs.StringVar(&f.version, "version", "", "version to stamp (default: git describe --tags --always --dirty)")
	fs.StringVar(&f.commit, "commit", "", "commit to stamp (default: git rev-parse HEAD)")
	fs.StringVar(&f.source, "source", images.DefaultRepo, "source repository URL of the labels")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if f.push != "" && (f.prefix == "" || !strings.HasSuffix(f.prefix, "/")) {
		return fmt.Errorf("--repository-prefix %q: with --push, name the repositories' namespace ending in a slash (the program's are cantondex-<stack>/)", f.prefix)
	}
	o, err := options(f, getenv)
	if err != nil {
		return err
	}
	o.Log = stderr
	ims, err := images.Build(ctx, o)
	if err != nil {
		return err
	}
	digests, err := images.DigestsOf(ims)
	if err != nil {
		return err
	}
	if f.layout != "" {
		if err := images.WriteLayout(f.layout, ims); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "wrote an OCI layout of %d services to %s\n", len(ims), f.layout)
	}
	if f.push != "" {
		tag := f.tag
		if tag == "" {
			tag = o.Commit
		}
		kc := authn.NewMultiKeychain(authn.DefaultKeychain, authn.NewKeychainFromHelper(ecr.NewECRHelper(ecr.WithLogger(io.Discard))))
		if digests, err = images.Push(ctx, f.push, f.prefix, tag, ims, remote.WithAuthFromKeychain(kc)); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "pushed %d services to %s/%s*:%s\n", len(ims), f.push, f.prefix, tag)
	}
	names := make([]string, 0, len(digests))
	for s := range digests {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		fmt.Fprintf(stdout, "%s=%s\n", s, digests[s])
	}
	if f.digestsOut != "" {
		return digests.WriteFile(f.digestsOut)
	}
	return nil
}

// options turns the flags and SOURCE_DATE_EPOCH into build options, asking git for what is
// not given.
func options(f flags, getenv func(string) string) (images.Options, error) {
	var o images.Options
	root, err := findRoot(f.root)
	if err != nil {
		return o, err
	}
	o.ServicesDir = filepath.Join(root, "services")
	var names []string
	if f.services != "" {
		for _, n := range strings.Split(f.services, ",") {
			names = append(names, strings.TrimSpace(n))
		}
	}
	if o.Services, err = images.Select(catalog.All(), names); err != nil {
		return o, err
	}
	for _, p := range strings.Split(f.platforms, ",") {
		pl, err := v1.ParsePlatform(strings.TrimSpace(p))
		if err != nil {
			return o, fmt.Errorf("--platforms %q: %w", f.platforms, err)
		}
		o.Platforms = append(o.Platforms, *pl)
	}
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(ee.Stderr)))
			}
			return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out)), nil
	}
	o.Commit, o.Version, o.Source = f.commit, f.version, f.source
	if o.Commit == "" {
		if o.Commit, err = git("rev-parse", "HEAD"); err != nil {
			return o, fmt.Errorf("commit: %w (or pass --commit)", err)
		}
	}
	if o.Version == "" {
		if o.Version, err = git("describe", "--tags", "--always", "--dirty"); err != nil {
			return o, fmt.Errorf("version: %w (or pass --version)", err)
		}
	}
	epoch := getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		if epoch, err = git("log", "-1", "--format=%ct", o.Commit); err != nil {
			return o, fmt.Errorf("SOURCE_DATE_EPOCH is not set and the commit's time is unknown: %w", err)
		}
	}
	if o.Created, err = images.ParseSourceDateEpoch(epoch); err != nil {
		return o, err
	}
	return o, nil
}

// findRoot returns root, or the nearest directory above the working directory that has
// services/go.mod.
func findRoot(root string) (string, error) {
	if root != "" {
		if _, err := os.Stat(filepath.Join(root, "services", "go.mod")); err != nil {
			return "", fmt.Errorf("--root %s: no services/go.mod there", root)
		}
		return root, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "services", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no services/go.mod in the working directory or above it: run from the repository or pass --root")
		}
		dir = parent
	}
}
