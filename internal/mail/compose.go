package mail

import (
	"embed"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/latchauth/latch/internal/auth"
)

//go:embed templates/*.txt
var templateFS embed.FS

// Kinds lists every mail kind the Composer renders.
var Kinds = []string{
	auth.MailConfirm,
	auth.MailDuplicateSignup,
	auth.MailReset,
	auth.MailPasswordChanged,
	auth.MailPasswordReset,
	auth.MailEmailChange,
	auth.MailEmailChanged,
	auth.MailAccountDeleted,
}

// DefaultProduct is the product name used when MailData.Product is empty.
const DefaultProduct = "latch"

// Composer renders mails from the embedded plain-text templates
// templates/<kind>.txt. Each template starts with a "Subject: ..." line and a
// blank line, followed by the body; both parts are text/template templates
// over auth.MailData, with the function duration (a time.Duration in words).
// A Composer is safe for concurrent use.
type Composer struct {
	kinds map[string]*kindTemplate
}

var _ auth.Composer = (*Composer)(nil)

type kindTemplate struct {
	subject *template.Template
	body    *template.Template
}

// NewComposer parses the embedded templates. It panics if they are broken,
// which the package's tests rule out.
func NewComposer() *Composer {
	c := &Composer{kinds: make(map[string]*kindTemplate, len(Kinds))}
	for _, kind := range Kinds {
		kt, err := parseKind(kind)
		if err != nil {
			panic(err)
		}
		c.kinds[kind] = kt
	}
	return c
}

func parseKind(kind string) (*kindTemplate, error) {
	raw, err := templateFS.ReadFile("templates/" + kind + ".txt")
	if err != nil {
		return nil, fmt.Errorf("mail: template for %q: %w", kind, err)
	}
	src := strings.ReplaceAll(string(raw), "\r\n", "\n")
	head, body, ok := strings.Cut(src, "\n\n")
	subj, isSubj := strings.CutPrefix(head, "Subject: ")
	if !ok || !isSubj || strings.Contains(head, "\n") {
		return nil, fmt.Errorf("mail: template for %q must start with a \"Subject: \" line and a blank line", kind)
	}
	funcs := template.FuncMap{"duration": humanDuration}
	kt := &kindTemplate{}
	if kt.subject, err = template.New(kind + ".subject").Funcs(funcs).Option("missingkey=error").Parse(subj); err != nil {
		return nil, fmt.Errorf("mail: template for %q: %w", kind, err)
	}
	if kt.body, err = template.New(kind + ".body").Funcs(funcs).Option("missingkey=error").Parse(body); err != nil {
		return nil, fmt.Errorf("mail: template for %q: %w", kind, err)
	}
	return kt, nil
}

// Compose renders the mail of the given kind for d. Product defaults to
// DefaultProduct; a trailing slash of PublicURL is dropped.
func (c *Composer) Compose(kind string, d auth.MailData) (auth.Message, error) {
	kt, ok := c.kinds[kind]
	if !ok {
		return auth.Message{}, fmt.Errorf("mail: unknown mail kind %q", kind)
	}
	if strings.TrimSpace(d.Product) == "" {
		d.Product = DefaultProduct
	}
	d.PublicURL = strings.TrimRight(d.PublicURL, "/")
	var subj, body strings.Builder
	if err := kt.subject.Execute(&subj, d); err != nil {
		return auth.Message{}, fmt.Errorf("mail: render %s subject: %w", kind, err)
	}
	if err := kt.body.Execute(&body, d); err != nil {
		return auth.Message{}, fmt.Errorf("mail: render %s body: %w", kind, err)
	}
	return auth.Message{
		To: d.To,
		// A subject is one line whatever the data held.
		Subject: strings.Join(strings.Fields(subj.String()), " "),
		Text:    strings.TrimRight(body.String(), " \t\n") + "\n",
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
