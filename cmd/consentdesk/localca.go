package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/pos"
)

// The store's own small CA, for the counter tablet on the store's
// network (issue 14 point 3). Created on first start, its key lies beside
// the database (mode 0600), never inside it; the tablet trusts its
// certificate once (the pairing page). The CA may sign only names under
// .local and this machine's name, and only private and loopback
// addresses (name constraints): its key, if stolen, cannot impersonate
// any site on the internet.

const (
	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 90 * 24 * time.Hour
	renewBefore    = 30 * 24 * time.Hour
)

// privateRanges are what the CA may sign: the store's network and this
// machine.
var privateRanges = func() []*net.IPNet {
	var out []*net.IPNet
	for _, c := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10"} {
		_, n, _ := net.ParseCIDR(c)
		out = append(out, n)
	}
	return out
}()

type localCA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

// loadOrCreateCA reads the CA beside the database (<db>.ca.pem and
// <db>.ca.key), creating it on first start.
func loadOrCreateCA(dbPath, storeName string) (*localCA, error) {
	certFile, keyFile := dbPath+".ca.pem", dbPath+".ca.key"
	certPEM, err := os.ReadFile(certFile)
	if errors.Is(err, fs.ErrNotExist) {
		return createCA(certFile, keyFile, storeName)
	}
	if err != nil {
		return nil, fmt.Errorf("store CA: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("store CA: %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, fmt.Errorf("store CA files %s / %s are damaged", certFile, keyFile)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("store CA: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("store CA: %w", err)
	}
	return &localCA{cert: cert, certPEM: certPEM, key: key}, nil
}

func createCA(certFile, keyFile, storeName string) (*localCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	name := strings.TrimSpace(storeName)
	if name == "" {
		name = "ConsentDesk"
	}
	tmpl := &x509.Certificate{
		SerialNumber:                serial(),
		Subject:                     pkix.Name{CommonName: name + " – Kasse (ConsentDesk)", Organization: []string{name}},
		NotBefore:                   time.Now().Add(-time.Hour),
		NotAfter:                    time.Now().Add(caValidity),
		IsCA:                        true,
		BasicConstraintsValid:       true,
		MaxPathLenZero:              true,
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         permittedNames(host),
		PermittedIPRanges:           privateRanges,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	// The key first, 0600, and never overwritten: two starts at once must
	// not make two CAs.
	kf, err := os.OpenFile(keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store CA key: %w", err)
	}
	if err := pem.Encode(kf, &pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}); err != nil {
		kf.Close()
		return nil, err
	}
	if err := kf.Sync(); err != nil {
		kf.Close()
		return nil, err
	}
	kf.Close()
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("store CA certificate: %w", err)
	}
	cert, _ := x509.ParseCertificate(der)
	slog.Info("store CA created for the counter tablet's HTTPS", "file", certFile)
	return &localCA{cert: cert, certPEM: certPEM, key: key}, nil
}

// permittedNames are the names the store CA may sign: .local (mDNS),
// localhost, and this machine's own name.
func permittedNames(host string) []string {
	names := []string{"local", "localhost"}
	if h := strings.ToLower(strings.Split(host, ".")[0]); h != "" && h != "localhost" {
		names = append(names, h)
	}
	return names
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // the system's randomness failed
	}
	return n
}

// SPKIHash is the base64 SHA-256 of the CA's public key, as Chromium's
// --ignore-certificate-errors-spki-list and HPKP write it.
func (ca *localCA) SPKIHash() string {
	sum := sha256.Sum256(ca.cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// issue makes a server certificate for names and addresses.
func (ca *localCA) issue(names []string, ips []net.IP) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(serverValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// storeNames are the names the tablet may use: this machine's name under
// .local (what mDNS announces) and localhost.
func storeNames() []string {
	host, _ := os.Hostname()
	host = strings.ToLower(strings.Split(host, ".")[0])
	if host == "" {
		host = "consentdesk"
	}
	return []string{host + ".local", "localhost"}
}

// lanIPs are this machine's addresses on the store's network, and
// loopback; bound restricts them to one address when the listener is
// bound to one.
func lanIPs(bound net.IP) []net.IP {
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	if bound != nil && !bound.IsUnspecified() {
		return append(ips, bound)
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && (n.IP.IsPrivate() || n.IP.IsLinkLocalUnicast()) {
			ips = append(ips, n.IP)
		}
	}
	sort.Slice(ips, func(i, j int) bool { return ips[i].String() < ips[j].String() })
	return ips
}

// serverCert keeps the counter's certificate current: reissued when it
// nears its end, or when the machine's addresses change.
type serverCert struct {
	ca    *localCA
	bound net.IP
	mu    sync.Mutex
	cert  *tls.Certificate
	ips   string
}

func (s *serverCert) current() (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ips := lanIPs(s.bound)
	key := fmt.Sprint(ips)
	if s.cert != nil && s.ips == key && time.Until(s.cert.Leaf.NotAfter) > renewBefore {
		return s.cert, nil
	}
	c, err := s.ca.issue(storeNames(), ips)
	if err != nil {
		slog.Error("counter certificate could not be renewed", "err", err)
		if s.cert != nil {
			return s.cert, nil // the old one still works
		}
		return nil, err
	}
	if s.cert != nil {
		slog.Info("counter certificate renewed", "not_after", c.Leaf.NotAfter.Format(time.RFC3339))
	}
	s.cert, s.ips = c, key
	return c, nil
}

// tlsConfig serves the current certificate on each handshake.
func (s *serverCert) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.current() }}
}

// lanSetup is the counter on the store's network: the HTTPS listener
// with the store CA's certificate, and the plain-HTTP pairing listener.
type lanSetup struct {
	addr, pairAddr string
	cert           *serverCert
	pairing        *pos.Pairing
}

func newLAN(ctx context.Context, db *orders.DB, lanAddr, pairAddr string) (*lanSetup, error) {
	host, port, err := net.SplitHostPort(lanAddr)
	if err != nil {
		return nil, fmt.Errorf("--lan-addr %q: %w", lanAddr, err)
	}
	if pairAddr == "" {
		pairAddr = net.JoinHostPort(host, "8480")
	}
	_, pairPort, err := net.SplitHostPort(pairAddr)
	if err != nil {
		return nil, fmt.Errorf("--pair-addr %q: %w", pairAddr, err)
	}
	ctrl, err := db.Controller(ctx)
	if err != nil {
		return nil, err
	}
	ca, err := loadOrCreateCA(db.Path, ctrl.Name)
	if err != nil {
		return nil, err
	}
	bound := net.ParseIP(host)
	if host == "" {
		bound = net.IPv4zero
	}
	sc := &serverCert{ca: ca, bound: bound}
	if _, err := sc.current(); err != nil {
		return nil, fmt.Errorf("counter certificate: %w", err)
	}
	p := &pos.Pairing{CACertPEM: ca.certPEM, Name: ctrl.Name}
	hosts := []string{storeNames()[0]}
	for _, ip := range lanIPs(bound) {
		if !ip.IsLoopback() && ip.To4() != nil {
			hosts = append(hosts, ip.String())
		}
	}
	if bound.IsLoopback() {
		hosts = []string{bound.String()}
	}
	for _, h := range hosts {
		p.CounterURLs = append(p.CounterURLs, "https://"+net.JoinHostPort(h, port)+"/")
		p.PairURLs = append(p.PairURLs, "http://"+net.JoinHostPort(h, pairPort)+"/pair")
	}
	return &lanSetup{addr: lanAddr, pairAddr: pairAddr, cert: sc, pairing: p}, nil
}
