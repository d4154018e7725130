package main

import (
	"fmt"
	"runtime/debug"
)

// versionLine is what `latch version` prints: the version, the commit and
// whether the tree had uncommitted changes, as recorded by the Go toolchain.
func versionLine() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return formatVersion(version, bi)
}

// formatVersion describes a build. The -ldflags version wins; otherwise
// the module version (v1.2.3 from go install ...@v1.2.3, a pseudo-version
// from a checkout).
func formatVersion(ldflagsVersion string, bi *debug.BuildInfo) string {
	v := ldflagsVersion
	commit, modified, goVersion := "unknown", false, "unknown Go"
	if bi != nil {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	line := fmt.Sprintf("latch %s commit %s", v, commit)
	if modified {
		line += " (modified: built with uncommitted changes)"
	}
	return line + " " + goVersion
}
