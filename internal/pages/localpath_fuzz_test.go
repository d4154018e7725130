package pages

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzLocalPath: whatever redirect_to a client sends, a value localPath
// admits resolves, as a browser resolves a Location, to latch's own origin.
func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/account/security", "//evil.example", `/\evil.example`, "/%2F%2Fevil", "https://evil.example/", "/a?b=//c#d", "/\t/evil", ""} {
		f.Add(s)
	}
	base, _ := url.Parse("http://id.example.com/")
	f.Fuzz(func(t *testing.T, v string) {
		if !localPath(v) {
			return
		}
		if !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") || strings.ContainsAny(v, "\\\t\r\n ") {
			t.Fatalf("localPath admits %q", v)
		}
		u, err := url.Parse(v)
		if err != nil {
			t.Fatalf("localPath admits unparsable %q", v)
		}
		if got := base.ResolveReference(u); got.Host != base.Host || got.Scheme != base.Scheme {
			t.Fatalf("%q resolves to %s", v, got)
		}
	})
}
