package send_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/followup/send"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/orderstest"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(orderstest.Main(m))
}

// received is one message as the SMTP server got it.
type received struct {
	From string
	To   []string
	Data []byte
}

// mailServer is a real SMTP server (github.com/emersion/go-smtp) on a free
// port on 127.0.0.1, with STARTTLS or implicit TLS under a certificate
// authority made for the test, and AUTH PLAIN.
type mailServer struct {
	t        testing.TB
	addr     string
	srv      *smtp.Server
	rootCAs  *x509.CertPool
	user     string
	pass     string
	mu       sync.Mutex
	msgs     []received
	attempts int
	// reject, when set, answers DATA number n (from 1) with an error.
	reject func(n int) error
	// got is signalled after each accepted message.
	got chan struct{}
}

type serverMode int

const (
	plainServer    serverMode = iota // no TLS, no auth
	startTLSServer                   // STARTTLS, AUTH PLAIN required
	implicitTLS                      // TLS from the first byte, AUTH PLAIN required
)

func newMailServer(t testing.TB, mode serverMode) *mailServer {
	t.Helper()
	ms := &mailServer{t: t, user: "laden", pass: "geheim äöü", got: make(chan struct{}, 10000)}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{ms: ms, mode: mode}, nil })
	ms.srv = smtp.NewServer(be)
	ms.srv.Domain = "localhost"
	ms.srv.ReadTimeout = 10 * time.Second
	ms.srv.WriteTimeout = 10 * time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if mode != plainServer {
		cert, pool := testCertificate(t)
		ms.rootCAs = pool
		cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
		if mode == implicitTLS {
			ln = tls.NewListener(ln, cfg)
		} else {
			ms.srv.TLSConfig = cfg
		}
	}
	ms.addr = ln.Addr().String()
	go ms.srv.Serve(ln)
	t.Cleanup(func() { ms.srv.Close() })
	return ms
}

// config is the sender's SMTP setting for this server.
func (ms *mailServer) config(t testing.TB, rawURL string) followup.SMTPConfig {
	t.Helper()
	cfg, err := followup.ParseSMTPURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ms.addr)
	cfg.Host = host
	cfg.Port, _ = strconv.Atoi(port)
	cfg.Timeout = 5 * time.Second
	if ms.rootCAs != nil {
		cfg.TLSConfig = &tls.Config{RootCAs: ms.rootCAs, ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return cfg
}

func (ms *mailServer) messages() []received {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]received(nil), ms.msgs...)
}

type session struct {
	ms     *mailServer
	mode   serverMode
	authed bool
	from   string
	to     []string
}

func (s *session) AuthMechanisms() []string {
	if s.mode == plainServer {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.ms.user || password != s.ms.pass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.mode != plainServer && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.ms.mu.Lock()
	s.ms.attempts++
	n := s.ms.attempts
	reject := s.ms.reject
	s.ms.mu.Unlock()
	if reject != nil {
		if err := reject(n); err != nil {
			return err
		}
	}
	s.ms.mu.Lock()
	s.ms.msgs = append(s.ms.msgs, received{From: s.from, To: s.to, Data: b})
	s.ms.mu.Unlock()
	s.ms.got <- struct{}{}
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// testCertificate makes a CA-signed certificate for 127.0.0.1.
func testCertificate(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ConsentDesk test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// clock is a time the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const publicURL = "https://optik.example"

type store struct {
	db     *orders.DB
	path   string
	tokens *consent.Tokens
	clock  *clock
}

// newStore opens a real SQLite file with the demo store's settings,
// double opt-in as given.
func newStore(t testing.TB, doubleOptIn bool) *store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mail.db")
	s := &store{path: path, clock: &clock{t: time.Now().UTC()}}
	s.open(t)
	ctx := context.Background()
	if _, err := s.db.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		t.Fatal(err)
	}
	if err := s.db.SetDoubleOptIn(ctx, doubleOptIn); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *store) open(t testing.TB) {
	t.Helper()
	db, err := orderstest.Open(context.Background(), t, s.path, assets.Migrations(), orders.Options{Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	s.db, s.tokens = db, consent.NewTokens(db.Keys.Tokens)
	t.Cleanup(func() { db.Close() })
}

func (s *store) sender(t followup.Transport, cfg send.SenderConfig) *send.Sender {
	if cfg.PublicURL == "" {
		cfg.PublicURL = publicURL
	}
	return send.NewSender(s.db, s.tokens, t, cfg)
}

func (s *store) smtp(t testing.TB, cfg followup.SMTPConfig) followup.Transport {
	t.Helper()
	tr, err := followup.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// order places an order for a new customer with a pickup appointment in
// two days.
func (s *store) order(t testing.TB, c orders.Customer, email bool) orders.Placed {
	t.Helper()
	return s.place(t, c, orders.ConsentInput{Mode: orders.ModeTablet, Channels: map[consent.Channel]bool{consent.Email: email}})
}

// orderOnPaper places an order whose paper form was not transferred yet:
// the customer was not asked about any cell, so §7(3) UWG may apply.
func (s *store) orderOnPaper(t testing.TB, c orders.Customer) orders.Placed {
	t.Helper()
	return s.place(t, c, orders.ConsentInput{Mode: orders.ModePaper})
}

func (s *store) place(t testing.TB, c orders.Customer, in orders.ConsentInput) orders.Placed {
	t.Helper()
	start := s.clock.Now().Add(48 * time.Hour).Truncate(time.Hour)
	p, err := s.db.PlaceOrder(context.Background(), orders.NewOrder{
		Customer: c,
		Items: []orders.Item{{Description: "Gleitsichtbrille „Aurora“", Quantity: 1, UnitPriceCents: 45900, VATRatePercent: 19},
			{Description: "Brillenetui", Quantity: 2, UnitPriceCents: 1250, VATRatePercent: 19}},
		DepositCents: 10000,
		Pickup:       &orders.Pickup{Start: start, End: start.Add(30 * time.Minute)},
		Consent:      in,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func jana() orders.Customer {
	return orders.Customer{Salutation: "Frau", FirstName: "Jana", LastName: "Weiß", Email: "j.weiss@example.org", Lang: "de"}
}

func drain(t *testing.T, s *send.Sender) int {
	t.Helper()
	n, err := s.Drain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func outbox(t *testing.T, s *store) []followup.Mail {
	t.Helper()
	mails, err := followup.List(context.Background(), s.db.SQL(), followup.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	// oldest first reads better in tests
	for i, j := 0, len(mails)-1; i < j; i, j = i+1, j-1 {
		mails[i], mails[j] = mails[j], mails[i]
	}
	return mails
}

var errTemporary = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
var errPermanent = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
