package followup

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Transport delivers a rendered mail. Deliver reports whether the mail
// left the building (sent) or was kept here (held).
type Transport interface {
	Deliver(ctx context.Context, id int64, m *gomail.Msg, raw []byte) (Status, error)
	// Close ends a connection kept open between mails.
	Close() error
}

// SMTPConfig is CONSENTDESK_SMTP_URL, parsed:
// smtp://user:pass@host:587?tls=starttls&from=Name%20%3Caddr%3E
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	TLS      string // "starttls" (default), "tls" or "none"
	From     string // optional: the account's sender, overriding the store address in From
	// TLSConfig replaces the system's roots and checks; tests use it to
	// trust their own certificate authority.
	TLSConfig *tls.Config
	Timeout   time.Duration
}

// ParseSMTPURL reads the SMTP setting. The password may be percent-encoded.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return SMTPConfig{}, errors.New("CONSENTDESK_SMTP_URL is not a URL")
	}
	c := SMTPConfig{Host: u.Hostname(), TLS: "starttls", Timeout: 30 * time.Second}
	switch u.Scheme {
	case "smtp":
	case "smtps":
		c.TLS = "tls"
	default:
		return SMTPConfig{}, fmt.Errorf("CONSENTDESK_SMTP_URL: scheme %q, want smtp or smtps", u.Scheme)
	}
	if c.Host == "" {
		return SMTPConfig{}, errors.New("CONSENTDESK_SMTP_URL: no host")
	}
	q := u.Query()
	if v := q.Get("tls"); v != "" {
		if v != "starttls" && v != "tls" && v != "none" {
			return SMTPConfig{}, fmt.Errorf("CONSENTDESK_SMTP_URL: tls=%q, want starttls, tls or none", v)
		}
		c.TLS = v
	}
	switch c.TLS {
	case "starttls":
		c.Port = 587
	case "tls":
		c.Port = 465
	default:
		c.Port = 25
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPConfig{}, fmt.Errorf("CONSENTDESK_SMTP_URL: bad port %q", p)
		}
		c.Port = n
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	// A password over a plain connection can be read by anyone on the way
	// (Art. 32 GDPR): with tls=none there is no sign-in at all.
	if c.TLS == "none" && c.Username != "" {
		return SMTPConfig{}, errors.New("CONSENTDESK_SMTP_URL: tls=none sends the password in clear text; use starttls or tls, or no user name / tls=none schickt das Passwort im Klartext; starttls oder tls verwenden, oder ohne Benutzernamen")
	}
	if from := q.Get("from"); from != "" {
		if _, err := mail.ParseAddress(from); err != nil {
			return SMTPConfig{}, fmt.Errorf("CONSENTDESK_SMTP_URL: from=%q is not an address", from)
		}
		c.From = from
	}
	return c, nil
}

// String describes the setting without the password, for the log.
func (c SMTPConfig) String() string {
	return fmt.Sprintf("smtp://%s (tls=%s, auth=%t)", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), c.TLS, c.Username != "")
}

// SMTP delivers with github.com/wneessen/go-mail. It keeps one
// connection open while the outbox has mails due, and redials after an
// error.
type SMTP struct {
	client *gomail.Client
	open   bool
}

// NewSMTP builds the client; it dials on the first mail.
func NewSMTP(c SMTPConfig) (*SMTP, error) {
	opts := []gomail.Option{gomail.WithPort(c.Port), gomail.WithTimeout(c.Timeout), gomail.WithTLSPortPolicy(gomail.TLSMandatory)}
	switch c.TLS {
	case "tls":
		opts = append(opts, gomail.WithSSL())
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if c.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(c.Username), gomail.WithPassword(c.Password))
	}
	if c.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(c.TLSConfig))
	}
	cl, err := gomail.NewClient(c.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	return &SMTP{client: cl}, nil
}

// Deliver sends one mail on the open connection.
func (s *SMTP) Deliver(ctx context.Context, _ int64, m *gomail.Msg, _ []byte) (Status, error) {
	if !s.open {
		if err := s.client.DialWithContext(ctx); err != nil {
			return "", err
		}
		s.open = true
	}
	if err := s.client.Send(m); err != nil {
		s.Close() // the session's state is unknown now: start afresh next time
		return "", err
	}
	return Sent, nil
}

// Close quits the connection if one is open.
func (s *SMTP) Close() error {
	if !s.open {
		return nil
	}
	s.open = false
	return s.client.Close()
}

// Folder keeps mails when there is no SMTP server: it writes each one as
// an .eml file, which any mail program opens, so that a new store sees
// what would have been sent.
type Folder struct{ Dir string }

// Deliver writes the mail to Dir atomically: a crash leaves either the
// whole file or none.
func (f Folder) Deliver(_ context.Context, id int64, _ *gomail.Msg, raw []byte) (Status, error) {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return "", err
	}
	name := f.File(id)
	tmp, err := os.CreateTemp(f.Dir, ".eml-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return "", err
	}
	return Held, nil
}

// Close does nothing.
func (Folder) Close() error { return nil }

// File is where the mail with outbox id is written.
func (f Folder) File(id int64) string { return filepath.Join(f.Dir, fmt.Sprintf("%06d.eml", id)) }

// Remove deletes a mail's file, if there is one (an erasure, GDPR Art. 17).
func (f Folder) Remove(id int64) error {
	if f.Dir == "" {
		return nil
	}
	if err := os.Remove(f.File(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Temporary tells a failure worth retrying (an SMTP 4xx answer, a network
// error, a timeout) from one that will not change (a 5xx answer).
func Temporary(err error) bool {
	var se *gomail.SendError
	if errors.As(err, &se) {
		if code := se.ErrorCode(); code >= 500 && code < 600 {
			return false
		}
		return true
	}
	return true // dial, TLS and network errors: the server may be back later
}

// Render writes the message as it goes on the wire.
func Render(m *gomail.Msg) ([]byte, error) {
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
