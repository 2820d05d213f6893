// Package version holds the build's version, stamped by the linker:
//
//	go build -ldflags "-X github.com/vmroute/vmroute/shared/version.Version=1.2.3 -X github.com/vmroute/vmroute/shared/version.Commit=abc123"
package version

import (
	"fmt"
	"runtime"
)

// Version and Commit are set with -ldflags -X at build time.
var (
	Version = "dev"
	Commit  = "unknown"
)

// String returns "NAME VERSION (commit COMMIT, GOVERSION)".
func String(name string) string {
	return fmt.Sprintf("%s %s (commit %s, %s)", name, Version, Commit, runtime.Version())
}
