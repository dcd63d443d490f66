// Package version is the release a binary was built from: stamped at link time by the image
// builder (infra/cmd/images, with -ldflags -X) and printed by the production binaries'
// --version. It depends only on the standard library, so the smallest Job imports it too.
package version

import (
	"fmt"
	"io"
	"runtime"
	"slices"
)

// Set with -ldflags "-X <this package>.version=... -X <this package>.commit=...". They stay
// variables (not constants) so the linker can set them.
var (
	version = "dev"
	commit  = "unknown"
)

// Version is the release stamped at link time ("dev" for an unstamped build).
func Version() string { return version }

// Commit is the source revision stamped at link time ("unknown" for an unstamped build).
func Commit() string { return commit }

// String is the one-line description --version prints for the binary name.
func String(name string) string {
	return fmt.Sprintf("%s %s (commit %s, %s %s/%s)", name, version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// Handle prints String(name) to w and reports true when args (os.Args[1:]) ask for the
// version (--version or -version); main then returns without starting anything.
func Handle(w io.Writer, name string, args []string) bool {
	if !slices.Contains(args, "--version") && !slices.Contains(args, "-version") {
		return false
	}
	fmt.Fprintln(w, String(name))
	return true
}
