package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

//go:embed templates/*.txt templates/*.html
var templateFS embed.FS

// Kinds lists every mail kind the Composer renders.
var Kinds = []string{
	auth.MailConfirm,
	auth.MailDuplicateSignup,
	auth.MailReset,
	auth.MailUnknownAccount,
	auth.MailPasswordChanged,
	auth.MailPasswordReset,
	auth.MailEmailChange,
	auth.MailEmailChanged,
	auth.MailAccountDeleted,
	auth.MailMFAChanged,
	auth.MailRecoveryCodeUsed,
	auth.MailMFAFailures,
	auth.MailPasskeyCounter,
}

// DefaultProduct is the product name used when MailData.Product is empty.
const DefaultProduct = "latch"

// LayoutFile is the HTML layout shared by every kind's HTML part.
const LayoutFile = "layout.html"

// TemplateFiles lists the file names of every template: LayoutFile and,
// for each kind, <kind>.txt and <kind>.html. These are the names an
// override directory may hold.
func TemplateFiles() []string {
	names := []string{LayoutFile}
	for _, k := range Kinds {
		names = append(names, k+".txt", k+".html")
	}
	return names
}

// Composer renders mails from templates: for each kind, <kind>.txt (a
// "Subject: ..." line, a blank line and the plain-text body, text/template)
// and <kind>.html (html/template defining the "content" block of
// layout.html, which must define "layout"). Templates are executed over
// auth.MailData with the function duration (a time.Duration in words). The
// embedded templates are the defaults; LoadComposer takes overrides from a
// directory. A Composer is safe for concurrent use.
type Composer struct {
	kinds map[string]*kindTemplate
}

var _ auth.Composer = (*Composer)(nil)

type kindTemplate struct {
	subject *template.Template
	text    *template.Template
	html    *htmltemplate.Template
}

// NewComposer returns a Composer with the embedded templates only. It
// panics if they are broken, which the package's tests rule out.
func NewComposer() *Composer {
	c, err := LoadComposer("")
	if err != nil {
		panic(err)
	}
	return c
}

// LoadComposer parses the templates, taking each file from dir when it
// holds one of that name (see TemplateFiles) and from the embedded
// defaults otherwise, so that an operator may override only some of them.
// dir "" means the embedded templates only. Every template is parsed and
// rendered once with sample data, so a broken override fails here (at
// start) with an error naming the file, not when a mail is due. A file in
// dir ending in .txt or .html that is not a template name is an error too
// (a misspelt override would otherwise be ignored silently).
func LoadComposer(dir string) (*Composer, error) {
	src := &sources{dir: dir}
	if dir != "" {
		if err := src.check(); err != nil {
			return nil, err
		}
	}
	layout, err := src.read(LayoutFile)
	if err != nil {
		return nil, err
	}
	c := &Composer{kinds: make(map[string]*kindTemplate, len(Kinds))}
	for _, kind := range Kinds {
		kt, err := parseKind(src, kind, layout)
		if err != nil {
			return nil, err
		}
		c.kinds[kind] = kt
	}
	// Render each kind once so that a template referring to missing data
	// fails now.
	sample := auth.MailData{
		To: "someone@example.com", Link: "https://latch.example/confirm?token=sample",
		PublicURL: "https://latch.example", Product: "Example", NewEmail: "new@example.com",
		ExpiresIn: time.Hour,
	}
	for _, kind := range Kinds {
		if _, err := c.Compose(kind, sample); err != nil {
			return nil, fmt.Errorf("%w (%s)", err, src.describe(kind))
		}
	}
	return c, nil
}

// sources reads template files from an override directory or the embedded
// defaults.
type sources struct {
	dir        string
	overridden []string
}

func (s *sources) check() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("mail: templates directory: %w", err)
	}
	known := TemplateFiles()
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".txt") || strings.HasSuffix(name, ".html")) {
			continue
		}
		if !slices.Contains(known, name) {
			return fmt.Errorf("mail: templates directory %s: unknown template file %q (known names: %s)",
				s.dir, name, strings.Join(known, ", "))
		}
	}
	return nil
}

// read returns the named template's source and where it came from.
func (s *sources) read(name string) (string, error) {
	if s.dir != "" {
		b, err := os.ReadFile(filepath.Join(s.dir, name))
		switch {
		case err == nil:
			s.overridden = append(s.overridden, name)
			return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
		case !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("mail: template %s: %w", filepath.Join(s.dir, name), err)
		}
	}
	b, err := templateFS.ReadFile("templates/" + name)
	if err != nil {
		return "", fmt.Errorf("mail: embedded template %s: %w", name, err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}

// path names a template file for error messages.
func (s *sources) path(name string) string {
	if slices.Contains(s.overridden, name) {
		return filepath.Join(s.dir, name)
	}
	return "embedded " + name
}

func (s *sources) describe(kind string) string {
	return s.path(kind+".txt") + ", " + s.path(kind+".html") + ", " + s.path(LayoutFile)
}

var funcs = map[string]any{
	"duration": humanDuration,
	// button makes the argument of the layout's "button" template.
	"button": func(url, label string) buttonData { return buttonData{URL: url, Label: label} },
}

// buttonData is a link drawn as a button in HTML mails.
type buttonData struct {
	URL   string
	Label string
}

func parseKind(src *sources, kind, layout string) (*kindTemplate, error) {
	txt, err := src.read(kind + ".txt")
	if err != nil {
		return nil, err
	}
	head, body, ok := strings.Cut(txt, "\n\n")
	subj, isSubj := strings.CutPrefix(head, "Subject: ")
	if !ok || !isSubj || strings.Contains(head, "\n") {
		return nil, fmt.Errorf("mail: template %s must start with a \"Subject: \" line and a blank line", src.path(kind+".txt"))
	}
	kt := &kindTemplate{}
	if kt.subject, err = template.New(kind + ".txt").Funcs(funcs).Option("missingkey=error").Parse(subj); err != nil {
		return nil, fmt.Errorf("mail: template %s: subject: %w", src.path(kind+".txt"), err)
	}
	if kt.text, err = template.New(kind + ".txt").Funcs(funcs).Option("missingkey=error").Parse(body); err != nil {
		return nil, fmt.Errorf("mail: template %s: %w", src.path(kind+".txt"), err)
	}
	html, err := src.read(kind + ".html")
	if err != nil {
		return nil, err
	}
	t := htmltemplate.New(LayoutFile).Funcs(funcs).Option("missingkey=error")
	if _, err := t.Parse(layout); err != nil {
		return nil, fmt.Errorf("mail: template %s: %w", src.path(LayoutFile), err)
	}
	if t.Lookup("layout") == nil {
		return nil, fmt.Errorf("mail: template %s must define \"layout\"", src.path(LayoutFile))
	}
	if _, err := t.New(kind + ".html").Parse(html); err != nil {
		return nil, fmt.Errorf("mail: template %s: %w", src.path(kind+".html"), err)
	}
	if t.Lookup("content") == nil {
		return nil, fmt.Errorf("mail: template %s must define \"content\"", src.path(kind+".html"))
	}
	kt.html = t
	return kt, nil
}

// htmlData is what the HTML templates see: MailData plus the subject.
type htmlData struct {
	auth.MailData
	Subject string
}

// Compose renders the mail of the given kind for d: the subject, the plain
// text and the HTML alternative. Product defaults to DefaultProduct; a
// trailing slash of PublicURL is dropped.
func (c *Composer) Compose(kind string, d auth.MailData) (auth.Message, error) {
	kt, ok := c.kinds[kind]
	if !ok {
		return auth.Message{}, fmt.Errorf("mail: unknown mail kind %q", kind)
	}
	if strings.TrimSpace(d.Product) == "" {
		d.Product = DefaultProduct
	}
	d.PublicURL = strings.TrimRight(d.PublicURL, "/")
	var subj, text strings.Builder
	if err := kt.subject.Execute(&subj, d); err != nil {
		return auth.Message{}, fmt.Errorf("mail: render %s subject: %w", kind, err)
	}
	if err := kt.text.Execute(&text, d); err != nil {
		return auth.Message{}, fmt.Errorf("mail: render %s text: %w", kind, err)
	}
	// A subject is one line whatever the data held.
	subject := strings.Join(strings.Fields(subj.String()), " ")
	var html bytes.Buffer
	if err := kt.html.ExecuteTemplate(&html, "layout", htmlData{MailData: d, Subject: subject}); err != nil {
		return auth.Message{}, fmt.Errorf("mail: render %s HTML: %w", kind, err)
	}
	return auth.Message{
		To:      d.To,
		Subject: subject,
		Text:    strings.TrimRight(text.String(), " \t\n") + "\n",
		HTML:    strings.TrimSpace(html.String()) + "\n",
	}, nil
}

// humanDuration writes d in words, rounded to the minute: "30 seconds",
// "60 minutes" (up to an hour), "2 hours", "1 hour and 30 minutes",
// "1 day"; zero or less is "a limited time".
func humanDuration(d time.Duration) string {
	if d <= 0 {
		return "a limited time"
	}
	if d < time.Minute {
		return plural(int64((d+time.Second-1)/time.Second), "second")
	}
	d = d.Round(time.Minute)
	switch {
	case d%(24*time.Hour) == 0:
		return plural(int64(d/(24*time.Hour)), "day")
	case d <= time.Hour:
		return plural(int64(d/time.Minute), "minute")
	case d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	default:
		h, m := d/time.Hour, (d%time.Hour)/time.Minute
		return plural(int64(h), "hour") + " and " + plural(int64(m), "minute")
	}
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.FormatInt(n, 10) + " " + unit + "s"
}
