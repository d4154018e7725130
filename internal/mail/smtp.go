package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/latchauth/latch/internal/auth"
)

// SMTPTimeout bounds one delivery by SMTPSender: connecting, the SMTP
// dialogue and the data transfer together.
const SMTPTimeout = 15 * time.Second

// ErrPermanent marks a delivery error that retrying will not fix; the
// Worker gives up on such a message at once. SMTPSender wraps it around a
// malformed recipient address, a 5xx reply to RCPT TO (the recipient does
// not exist) and a 5xx reply to the message data (the message was refused),
// but not around 5xx replies to the connection, authentication or MAIL FROM,
// nor around RCPT TO replies with an enhanced status 5.7.x (relay and
// policy refusals): those usually mean latch's own configuration is wrong,
// which would make every message fail, so they are retried with backoff
// until fixed (or until WorkerConfig.MaxAttempts).
var ErrPermanent = errors.New("mail: permanent failure, not retried")

// classify wraps ErrPermanent around err when it is permanent for this
// message.
func classify(err error) error {
	var se *gomail.SendError
	if !errors.As(err, &se) || se.IsTemp() || se.ErrorCode() < 500 || se.ErrorCode() > 599 {
		return err
	}
	switch se.Reason {
	case gomail.ErrSMTPRcptTo:
		if strings.HasPrefix(se.EnhancedStatusCode(), "5.7.") {
			return err
		}
	case gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
	default:
		return err
	}
	return fmt.Errorf("%w (%w)", err, ErrPermanent)
}

// SMTPSender delivers messages over SMTP with github.com/wneessen/go-mail,
// one connection per message. It is safe for concurrent use.
//
// With an smtp:// URL it upgrades the connection with STARTTLS whenever the
// server offers it; with smtps:// it speaks TLS from the start. When the URL
// carries credentials it authenticates with PLAIN, or LOGIN when PLAIN is
// not offered (otherwise the strongest mechanism the server offers). go-mail
// refuses to send PLAIN or LOGIN credentials over an unencrypted connection
// except to localhost, so a server without TLS gets no password.
type SMTPSender struct {
	host     string
	port     int
	tls      bool // implicit TLS (smtps)
	user     string
	pass     string
	from     string
	timeout  time.Duration
	hasCreds bool
	roots    *x509.CertPool // nil: the system's
}

// SMTPOption adjusts an SMTPSender.
type SMTPOption func(*SMTPSender)

// WithRootCAs makes the sender trust the certificates of pool, instead of
// the system's, for STARTTLS and smtps (a private CA, or a test server's
// self-signed certificate).
func WithRootCAs(pool *x509.CertPool) SMTPOption {
	return func(s *SMTPSender) { s.roots = pool }
}

// NewSMTPSender parses rawURL, smtp://user:pass@host:port (port 587 by
// default) or smtps://user:pass@host:port (port 465 by default), and returns
// a sender that sends from the address from. User name and password are
// percent-decoded; without user info there is no authentication. Errors name
// the problem without repeating the password.
func NewSMTPSender(rawURL, from string, opts ...SMTPOption) (*SMTPSender, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("mail: invalid SMTP URL: %s", describeURLError(rawURL))
	}
	s := &SMTPSender{timeout: SMTPTimeout}
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.tls = 465, true
	default:
		if u.Scheme == "" || !strings.Contains(rawURL, "://") {
			return nil, errors.New("mail: invalid SMTP URL: want smtp://user:pass@host:port or smtps://user:pass@host:port")
		}
		return nil, fmt.Errorf("mail: invalid SMTP URL: unsupported scheme %q (want smtp or smtps)", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, errors.New("mail: invalid SMTP URL: want smtp://host:port, not smtp:host")
	}
	s.host = u.Hostname()
	if s.host == "" {
		return nil, errors.New("mail: invalid SMTP URL: missing host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			// The value is not echoed: with an unencoded "/" in the
			// password, what url.Parse calls the port is part of it.
			return nil, errors.New("mail: invalid SMTP URL: port must be a number from 1 to 65535")
		}
		s.port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, errors.New("mail: invalid SMTP URL: empty port")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, errors.New("mail: invalid SMTP URL: unexpected path")
	}
	if u.RawQuery != "" || u.ForceQuery {
		return nil, errors.New("mail: invalid SMTP URL: query parameters are not supported")
	}
	if u.Fragment != "" {
		return nil, errors.New("mail: invalid SMTP URL: unexpected fragment")
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
		if s.user == "" {
			return nil, errors.New("mail: invalid SMTP URL: empty user name")
		}
		s.hasCreds = true
	}
	if _, err := netmail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("mail: invalid sender address %q: %v", from, err)
	}
	s.from = from
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// describeURLError explains why raw did not parse without echoing its user
// info (which holds the password).
func describeURLError(raw string) string {
	redacted, hadUser := redactUserinfo(raw)
	if _, err := url.Parse(redacted); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err.Error()
		}
		return "malformed URL"
	}
	if hadUser {
		return "malformed user name or password (percent-encode special characters such as @ : / ? # %)"
	}
	return "malformed URL"
}

// redactUserinfo replaces everything between "://" and the last "@" with
// "redacted", reporting whether there was an "@". The password may itself
// hold unencoded "/", "?" or "#", so the last "@" of the whole string is
// taken: SMTP URLs have no path or query where one could legitimately be.
func redactUserinfo(raw string) (string, bool) {
	i := strings.Index(raw, "://")
	if i < 0 {
		// Without an authority, anything may be secret: keep only the scheme.
		if j := strings.IndexByte(raw, ':'); j >= 0 {
			return raw[:j+1] + "redacted", true
		}
		return "redacted", true
	}
	rest := raw[i+3:]
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return raw, false
	}
	return raw[:i+3] + "redacted@" + rest[at+1:], true
}

// String describes the sender without its password.
func (s *SMTPSender) String() string {
	scheme := "smtp"
	if s.tls {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, Host: s.addr()}
	if s.hasCreds {
		u.User = url.User(s.user)
	}
	return u.String()
}

// Send delivers m within SMTPTimeout (or ctx's deadline when sooner). The
// message is plain text, multipart/alternative with HTML when m.HTML is set.
// An error that retrying cannot fix wraps ErrPermanent.
func (s *SMTPSender) Send(ctx context.Context, m auth.Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("mail: sender address: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail: recipient address %q: %w (%w)", m.To, err, ErrPermanent)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetUserAgent("latch")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}

	timeout := s.timeout
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return fmt.Errorf("mail: send to %s: %w", m.To, context.DeadlineExceeded)
		}
		timeout = min(timeout, left)
	}
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(s.tlsConfig()),
	}
	if s.tls {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.hasCreds {
		opts = append(opts,
			gomail.WithUsername(s.user),
			gomail.WithPassword(s.pass),
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
		)
	}
	if strings.Contains(s.host, ":") {
		// go-mail joins host and port without brackets; dial IPv6
		// literals ourselves (with TLS for smtps, as go-mail would).
		opts = append(opts, gomail.WithDialContextFunc(s.dialIPv6))
	}
	// A client per message: go-mail's client keeps per-dial state.
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("mail: smtp client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: send to %s via %s: %w", m.To, s.addr(), classify(err))
	}
	return nil
}

func (s *SMTPSender) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: s.host, RootCAs: s.roots, MinVersion: tls.VersionTLS12}
}

func (s *SMTPSender) addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

func (s *SMTPSender) dialIPv6(ctx context.Context, network, _ string) (net.Conn, error) {
	d := &net.Dialer{}
	if s.tls {
		td := &tls.Dialer{NetDialer: d, Config: s.tlsConfig()}
		return td.DialContext(ctx, network, s.addr())
	}
	return d.DialContext(ctx, network, s.addr())
}
