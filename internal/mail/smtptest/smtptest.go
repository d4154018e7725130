// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 for tests: it accepts mail with or without AUTH PLAIN, records
// every message it receives and can be stopped and restarted on the same
// port to simulate an outage.
//
// By default the server offers no TLS, so clients must be willing to speak
// plain SMTP (go-mail does so on localhost with its opportunistic TLS
// policy). StartWith can offer STARTTLS or speak implicit TLS (smtps) with
// a self-signed certificate that CertPool trusts.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Credentials the server accepts for AUTH PLAIN; URL embeds them.
const (
	Username = "latch-user"
	Password = "s3cret pass/word"
)

// Received is one message as the server got it.
type Received struct {
	// Envelope.
	From string
	To   []string
	// Username and Password are the AUTH PLAIN credentials the client
	// presented; both are empty when it did not authenticate.
	Username string
	Password string
	// Raw is the message data as received (headers and body).
	Raw []byte
	// Header is the parsed top-level header; Subject is decoded.
	Header  mail.Header
	Subject string
	// Text and HTML are the decoded text/plain and text/html parts (Text
	// is the whole body when the message is not multipart).
	Text string
	HTML string
	// ParseErr is set when Raw could not be parsed as a MIME message.
	ParseErr error
	// TLS reports whether the message came over TLS (STARTTLS or smtps).
	TLS bool
}

// TLSMode says whether and how a server speaks TLS.
type TLSMode int

// TLS modes.
const (
	NoTLS       TLSMode = iota // plain SMTP only
	StartTLS                   // offers STARTTLS
	ImplicitTLS                // TLS from the first byte (smtps)
)

// Options configure StartWith.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// TLS is the server's TLS mode; default NoTLS.
	TLS TLSMode
}

// Server is a running test SMTP server.
type Server struct {
	addr    string
	tlsMode TLSMode
	tlsConf *tls.Config                // nil without TLS
	pool    *x509.CertPool             // trusts the certificate of tlsConf
	reject  map[string]*smtp.SMTPError // RCPT TO address -> reply

	mu       sync.Mutex
	srv      *smtp.Server
	l        net.Listener
	msgs     []Received
	changed  chan struct{} // closed and replaced whenever msgs grows
	stopped  bool
	serveErr chan error
}

// Start starts a server on 127.0.0.1 with a free port; it is stopped when
// the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartAddr(t, "127.0.0.1:0")
}

// StartAddr is Start listening on addr, such as "[::1]:0".
func StartAddr(t testing.TB, addr string) *Server {
	t.Helper()
	return StartWith(t, Options{Addr: addr})
}

// StartWith starts a server configured by o; it is stopped when the test
// ends. With TLS it uses a fresh self-signed certificate for 127.0.0.1,
// ::1 and localhost, which CertPool trusts.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	s := &Server{changed: make(chan struct{}), tlsMode: o.TLS, reject: map[string]*smtp.SMTPError{}}
	if o.TLS != NoTLS {
		cert, pool, err := selfSigned()
		if err != nil {
			t.Fatalf("smtptest: certificate: %v", err)
		}
		s.tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.pool = pool
	}
	l, err := s.listen(o.Addr)
	if err != nil {
		t.Fatalf("smtptest: listen on %s: %v", o.Addr, err)
	}
	s.addr = l.Addr().String()
	s.serve(l)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil || s.tlsMode != ImplicitTLS {
		return l, err
	}
	return tls.NewListener(l, s.tlsConf), nil
}

// selfSigned makes a certificate for the loopback names and a pool that
// trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}

// CertPool trusts the server's self-signed certificate (nil without TLS).
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// RejectRecipient makes the server answer RCPT TO addr with the SMTP reply
// code (such as 550) and enhanced status code (such as {5, 1, 1}) from now
// on, as a server does for a mailbox that does not exist.
func (s *Server) RejectRecipient(addr string, code int, enhanced smtp.EnhancedCode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject[strings.ToLower(addr)] = &smtp.SMTPError{Code: code, EnhancedCode: enhanced, Message: "smtptest: recipient rejected"}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// URL is smtp://Username:Password@Addr (smtps:// with ImplicitTLS), ready
// for mail.NewSMTPSender.
func (s *Server) URL() string {
	u := url.URL{Scheme: s.scheme(), User: url.UserPassword(Username, Password), Host: s.addr}
	return u.String()
}

// URLNoAuth is smtp://Addr (smtps:// with ImplicitTLS): a client given it
// does not authenticate.
func (s *Server) URLNoAuth() string { return s.scheme() + "://" + s.addr }

func (s *Server) scheme() string {
	if s.tlsMode == ImplicitTLS {
		return "smtps"
	}
	return "smtp"
}

// Messages returns a copy of every message received so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Received, len(s.msgs))
	copy(out, s.msgs)
	return out
}

// WaitFor waits until at least n messages were received and returns them;
// it fails the test when timeout passes first.
func (s *Server) WaitFor(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			out := make([]Received, len(s.msgs))
			copy(out, s.msgs)
			s.mu.Unlock()
			return out
		}
		ch := s.changed
		got := len(s.msgs)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("smtptest: got %d messages after %v, want %d", got, timeout, n)
			return nil
		}
	}
}

// Stop closes the listener and every connection. Messages stay available.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	srv, l, done := s.srv, s.l, s.serveErr
	s.mu.Unlock()
	srv.Close()
	// Serve may not have registered l with srv yet.
	l.Close()
	<-done
}

// Restart starts a stopped server again on the same address.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if !stopped {
		t.Fatalf("smtptest: Restart of a running server")
	}
	var l net.Listener
	var err error
	// The port was just released; another process could in theory grab
	// it, and some systems need a moment before it can be bound again.
	for i := 0; i < 50; i++ {
		l, err = s.listen(s.addr)
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("smtptest: listen again on %s: %v", s.addr, err)
	}
	s.serve(l)
}

func (s *Server) serve(l net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	if s.tlsMode == StartTLS {
		srv.TLSConfig = s.tlsConf
	}
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0)
	done := make(chan error, 1)
	s.mu.Lock()
	s.srv = srv
	s.l = l
	s.stopped = false
	s.serveErr = done
	s.mu.Unlock()
	go func() { done <- srv.Serve(l) }()
}

func (s *Server) add(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, r)
	close(s.changed)
	s.changed = make(chan struct{})
}

// session is one SMTP connection's state.
type session struct {
	srv                *Server
	conn               *smtp.Conn
	username, password string
	from               string
	to                 []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != Username || password != Password {
			return smtp.ErrAuthFailed
		}
		ss.username, ss.password = username, password
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.srv.mu.Lock()
	rej := ss.srv.reject[strings.ToLower(to)]
	ss.srv.mu.Unlock()
	if rej != nil {
		return rej
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec := Received{
		From:     ss.from,
		To:       append([]string(nil), ss.to...),
		Username: ss.username,
		Password: ss.password,
		Raw:      raw,
	}
	_, rec.TLS = ss.conn.TLSConnectionState()
	rec.ParseErr = parse(&rec)
	ss.srv.add(rec)
	return nil
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *session) Logout() error { return nil }

// parse fills Header, Subject, Text and HTML from Raw.
func parse(r *Received) error {
	msg, err := mail.ReadMessage(bytes.NewReader(r.Raw))
	if err != nil {
		return fmt.Errorf("smtptest: read message: %w", err)
	}
	r.Header = msg.Header
	dec := new(mime.WordDecoder)
	if r.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return fmt.Errorf("smtptest: decode subject: %w", err)
	}
	return readPart(r, msg.Header, msg.Body)
}

// getter is mail.Header or textproto.MIMEHeader.
type getter interface{ Get(string) string }

func readPart(r *Received, h getter, body io.Reader) error {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("smtptest: content type %q: %w", ct, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("smtptest: multipart: %w", err)
			}
			if err := readPart(r, p.Header, p); err != nil {
				return err
			}
		}
	}
	var rd io.Reader = body
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		rd = quotedprintable.NewReader(body)
	case "base64":
		rd = base64.NewDecoder(base64.StdEncoding, stripNewlines{body})
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		return fmt.Errorf("smtptest: decode %s body: %w", mt, err)
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch mt {
	case "text/plain":
		if r.Text == "" {
			r.Text = text
		}
	case "text/html":
		if r.HTML == "" {
			r.HTML = text
		}
	}
	return nil
}

// stripNewlines drops CR and LF so that line-wrapped base64 decodes.
type stripNewlines struct{ r io.Reader }

func (s stripNewlines) Read(p []byte) (int, error) {
	for {
		n, err := s.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
