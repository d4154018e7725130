package mail_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/latchauth/latch/internal/auth"
	"github.com/latchauth/latch/internal/mail"
)

var titleRE = regexp.MustCompile(`<title>.*</title>`)

// writeFiles writes name -> content into a fresh directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadComposerPartialOverride(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"confirm.txt":  "Subject: Welcome to {{.Product}}!\n\nClick {{.Link}} within {{duration .ExpiresIn}}.\n",
		"reset.html":   `{{define "content"}}<p class="custom">Reset at <a href="{{.Link}}">here</a></p>{{end}}`,
		"README.md":    "not a template: ignored",
		"notes.txt.md": "ignored too",
	})
	c, err := mail.LoadComposer(dir)
	if err != nil {
		t.Fatalf("LoadComposer: %v", err)
	}
	def := mail.NewComposer()
	d := auth.MailData{To: "a@example.org", Link: "https://id.example.com/confirm?token=T0K", Product: "Acme", PublicURL: "https://id.example.com", ExpiresIn: 30 * 60e9}

	tests := []struct {
		kind           string
		subject, text  string // wanted substrings
		html           string
		sameTextAsDef  bool
		sameHTMLAsDefs bool
	}{
		{kind: auth.MailConfirm, subject: "Welcome to Acme!", text: "Click https://id.example.com/confirm?token=T0K within 30 minutes.", sameHTMLAsDefs: true},
		{kind: auth.MailReset, html: `<p class="custom">Reset at <a href="https://id.example.com/confirm?token=T0K">here</a></p>`, sameTextAsDef: true},
		{kind: auth.MailAccountDeleted, sameTextAsDef: true, sameHTMLAsDefs: true},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			got, err := c.Compose(tt.kind, d)
			if err != nil {
				t.Fatalf("Compose: %v", err)
			}
			want, err := def.Compose(tt.kind, d)
			if err != nil {
				t.Fatalf("Compose (embedded): %v", err)
			}
			if !strings.Contains(got.Subject, tt.subject) {
				t.Errorf("Subject = %q, want it to contain %q", got.Subject, tt.subject)
			}
			if !strings.Contains(got.Text, tt.text) {
				t.Errorf("Text = %q, want it to contain %q", got.Text, tt.text)
			}
			if !strings.Contains(got.HTML, tt.html) {
				t.Errorf("HTML = %q, want it to contain %q", got.HTML, tt.html)
			}
			if tt.sameTextAsDef && (got.Text != want.Text || got.Subject != want.Subject) {
				t.Errorf("text not overridden, yet it differs from the embedded one:\ngot  %q\nwant %q", got.Text, want.Text)
			}
			if !tt.sameTextAsDef && got.Text == want.Text {
				t.Errorf("text overridden, yet it equals the embedded one")
			}
			// The HTML's title is the subject, overridden or not.
			untitled := func(s string) string { return titleRE.ReplaceAllString(s, "") }
			if tt.sameHTMLAsDefs != (untitled(got.HTML) == untitled(want.HTML)) {
				t.Errorf("HTML equal to the embedded one: %v, want %v\n%s", got.HTML == want.HTML, tt.sameHTMLAsDefs, got.HTML)
			}
		})
	}
}

func TestLoadComposerLayoutOverride(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"layout.html": `{{define "layout"}}<html><body><h1>{{.Product}} mail</h1>{{template "content" .}}</body></html>{{end}}
{{define "button"}}<a class="btn" href="{{.URL}}">{{.Label}}</a>{{end}}`,
	})
	c, err := mail.LoadComposer(dir)
	if err != nil {
		t.Fatalf("LoadComposer: %v", err)
	}
	for _, kind := range mail.Kinds {
		m, err := c.Compose(kind, auth.MailData{To: "a@example.org", Product: "Acme", Link: "https://x.example/l"})
		if err != nil {
			t.Fatalf("Compose(%q): %v", kind, err)
		}
		if !strings.HasPrefix(m.HTML, "<html><body><h1>Acme mail</h1>") {
			t.Errorf("Compose(%q) HTML does not use the overridden layout:\n%s", kind, m.HTML)
		}
	}
}

func TestLoadComposerBrokenOverride(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error
	}{
		{"syntax error in text", map[string]string{"confirm.txt": "Subject: Hi\n\n{{.Link\n"}, []string{"confirm.txt", "unclosed action"}},
		{"missing subject", map[string]string{"reset.txt": "Hello {{.Link}}\n"}, []string{"reset.txt", "Subject"}},
		{"unknown field", map[string]string{"reset.txt": "Subject: Hi\n\n{{.Token}}\n"}, []string{"reset.txt", "Token"}},
		{"unknown function", map[string]string{"reset.html": `{{define "content"}}{{shout .Link}}{{end}}`}, []string{"reset.html", "shout"}},
		{"html without content", map[string]string{"reset.html": `<p>{{.Link}}</p>`}, []string{"reset.html", `"content"`}},
		{"layout without layout", map[string]string{"layout.html": `<p>x</p>`}, []string{"layout.html", `"layout"`}},
		{"unknown file", map[string]string{"confrim.txt": "Subject: x\n\ny\n"}, []string{"confrim.txt", "unknown template file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			c, err := mail.LoadComposer(dir)
			if err == nil {
				t.Fatalf("LoadComposer = %v, want an error", c)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "mail: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	if _, err := mail.LoadComposer(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("LoadComposer(missing directory) succeeded, want an error")
	}
}

func TestComposeHTMLEscapes(t *testing.T) {
	c := mail.NewComposer()
	m, err := c.Compose(auth.MailEmailChanged, auth.MailData{
		To: "a@example.org", NewEmail: `"><script>alert(1)</script>@example.org`,
		Product: "<b>Acme</b>", PublicURL: "javascript:alert(1)",
	})
	if err != nil {
		t.Fatalf("Compose: %v", err)
	}
	for _, bad := range []string{"<script>", "<b>Acme</b>", `href="javascript:`} {
		if strings.Contains(m.HTML, bad) {
			t.Errorf("HTML contains %q unescaped:\n%s", bad, m.HTML)
		}
	}
}

func TestTemplateFilesAreEmbedded(t *testing.T) {
	// Every name an operator may override exists among the defaults, so
	// the documentation's list is the real one.
	dir := t.TempDir()
	c, err := mail.LoadComposer(dir)
	if err != nil {
		t.Fatalf("LoadComposer(empty dir): %v", err)
	}
	if _, err := c.Compose(auth.MailConfirm, auth.MailData{To: "a@example.org"}); err != nil {
		t.Errorf("Compose: %v", err)
	}
	if n, want := len(mail.TemplateFiles()), 1+2*len(mail.Kinds); n != want {
		t.Errorf("TemplateFiles() has %d names, want %d", n, want)
	}
}
