package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// version, when set at build time with -ldflags "-X main.version=...",
// is printed as it is; otherwise versionLine reads the build info.
var version = ""

// versionLine is what --version prints: the module version (a tag, or the
// pseudo-version Go derives from the commit when installed with go install
// module@commit), then the VCS revision and time the binary was built
// from, marked when the tree had uncommitted changes, and the Go version.
func versionLine() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "sftpmount " + orUnknown(version) + " (no build info)"
	}
	return "sftpmount " + describeBuild(version, info)
}

func describeBuild(set string, info *debug.BuildInfo) string {
	v := set
	if v == "" {
		v = info.Main.Version // "(devel)" for a build inside the checkout
	}
	var rev, at, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", with uncommitted changes"
			}
		}
	}
	var parts []string
	if rev != "" {
		parts = append(parts, fmt.Sprintf("revision %s%s", rev[:min(12, len(rev))], dirty))
	}
	if at != "" {
		parts = append(parts, "committed "+at)
	}
	parts = append(parts, info.GoVersion)
	return orUnknown(v) + " (" + strings.Join(parts, ", ") + ")"
}

func orUnknown(v string) string {
	if v == "" {
		return "unknown"
	}
	return v
}
