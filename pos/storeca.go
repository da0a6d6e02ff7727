package pos

import (
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
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk/consent"
)

// The store's own small CA, for the counter tablet on the store's
// network. Created on first start, its key lies beside
// the database (mode 0600), never inside it; the tablet trusts its
// certificate once (the pairing page). The CA may sign only this
// machine's name under .local, localhost, and private and loopback
// addresses; no e-mail address and no URI (name constraints, RFC 5280
// 4.2.1.10); and only server certificates (extended key usage). Its key,
// if stolen, cannot impersonate any site on the internet, sign mail or
// code. A CA made before these constraints (or for another machine
// name) is replaced at the next start, named from the store's current
// details; the tablets then pair again (Replaced).

// CAValidity and ServerValidity are how long the store CA and a counter
// certificate are valid.
const (
	CAValidity     = 10 * 365 * 24 * time.Hour
	ServerValidity = 90 * 24 * time.Hour
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

// StoreCA is the store's own CA for the counter's HTTPS on the store's
// network.
type StoreCA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
	// Replaced is when an earlier CA was replaced by this one, within
	// ReplacedNotice: the tablets that trusted the earlier one must pair
	// again. Zero otherwise.
	Replaced time.Time
}

// ReplacedNotice is how long the dashboard and the pairing page ask to
// pair the tablets again after the CA was replaced.
const ReplacedNotice = 30 * 24 * time.Hour

// CertPEM is the CA certificate, for the tablets to trust.
func (ca *StoreCA) CertPEM() []byte { return ca.certPEM }

// LoadOrCreateStoreCA reads the CA beside the database (<db>.ca.pem and
// <db>.ca.key), creating it on first start.
func LoadOrCreateStoreCA(dbPath, storeName string) (*StoreCA, error) {
	return loadOrCreateCA(dbPath, storeName, time.Now())
}

func loadOrCreateCA(dbPath, storeName string, now time.Time) (*StoreCA, error) {
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
	host, _ := os.Hostname()
	if !constrained(cert, host) {
		// Kept aside, not deleted: the files say what the tablets
		// trusted until today.
		stamp := now.UTC().Format("20060102-150405")
		for _, f := range []string{certFile, keyFile} {
			if err := os.Rename(f, f+".replaced-"+stamp); err != nil {
				return nil, fmt.Errorf("store CA: setting the earlier CA aside: %w", err)
			}
		}
		ca, err := createCA(certFile, keyFile, storeName)
		if err != nil {
			return nil, err
		}
		ca.Replaced = now
		slog.Warn("store CA replaced: the earlier one could sign more than this machine's names; pair the tablets again", "file", certFile)
		return ca, nil
	}
	ca := &StoreCA{cert: cert, certPEM: certPEM, key: key}
	// Replaced lately: the tablets are still asked to pair again.
	if aside, _ := filepath.Glob(certFile + ".replaced-*"); len(aside) > 0 {
		sort.Strings(aside)
		if t, err := time.Parse("20060102-150405", strings.TrimPrefix(aside[len(aside)-1], certFile+".replaced-")); err == nil && now.Sub(t) < ReplacedNotice {
			ca.Replaced = t
		}
	}
	return ca, nil
}

// constrained says whether a CA certificate carries today's constraints
// for this machine: this machine's .local name and localhost, the
// private ranges, no e-mail address or URI, server certificates only.
func constrained(c *x509.Certificate, host string) bool {
	want := permittedNames(host)
	if !c.PermittedDNSDomainsCritical || len(c.PermittedDNSDomains) != len(want) || len(c.PermittedIPRanges) != len(privateRanges) {
		return false
	}
	for i := range want {
		if c.PermittedDNSDomains[i] != want[i] {
			return false
		}
	}
	return len(c.ExcludedEmailAddresses) == 1 && c.ExcludedEmailAddresses[0] == "" &&
		len(c.ExcludedURIDomains) == 1 && c.ExcludedURIDomains[0] == "" &&
		len(c.ExtKeyUsage) == 1 && c.ExtKeyUsage[0] == x509.ExtKeyUsageServerAuth && len(c.UnknownExtKeyUsage) == 0
}

func createCA(certFile, keyFile, storeName string) (*StoreCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	name := CAName(storeName)
	org := []string{strings.TrimSpace(storeName)}
	if !namedStore(storeName) {
		org = nil
	}
	tmpl := &x509.Certificate{
		SerialNumber:                serial(),
		Subject:                     pkix.Name{CommonName: name, Organization: org},
		NotBefore:                   time.Now().Add(-time.Hour),
		NotAfter:                    time.Now().Add(CAValidity),
		IsCA:                        true,
		BasicConstraintsValid:       true,
		MaxPathLenZero:              true,
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         permittedNames(host),
		PermittedIPRanges:           privateRanges,
		// "" matches every address and every URI: none may be signed.
		ExcludedEmailAddresses: []string{""},
		ExcludedURIDomains:     []string{""},
		// A chain is valid only for what every certificate in it allows.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
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
	return &StoreCA{cert: cert, certPEM: certPEM, key: key}, nil
}

// permittedNames are the names the store CA may sign: this machine's
// name under .local (what mDNS announces, and the counter's certificate
// names), and localhost. A PC named "shop" gets shop.local, never the
// top-level domain .shop.
func permittedNames(host string) []string {
	return []string{machineName(host) + ".local", "localhost"}
}

// CAName is how the store CA and the tablet's profile are named: after
// the store, once it has its name; before setup, after the counter alone,
// never after the placeholder company of the settings.
func CAName(storeName string) string {
	if namedStore(storeName) {
		return strings.TrimSpace(storeName) + " – Kasse (ConsentDesk)"
	}
	return "ConsentDesk – Kasse " + CounterNames()[0]
}

// namedStore says whether storeName is the store's own, not empty and
// not the placeholder of a store not yet set up.
func namedStore(storeName string) bool {
	n := strings.TrimSpace(storeName)
	return n != "" && n != consent.DefaultController().Name
}

// CounterNames are the names the tablet may use for the counter, which
// its certificate names: permittedNames for this machine.
func CounterNames() []string {
	host, _ := os.Hostname()
	return permittedNames(host)
}

// machineName is the first label of the host name, lower case;
// "consentdesk" where there is none.
func machineName(host string) string {
	h := strings.ToLower(strings.Split(host, ".")[0])
	if h == "" {
		h = "consentdesk"
	}
	return h
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
func (ca *StoreCA) SPKIHash() string {
	sum := sha256.Sum256(ca.cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Issue makes a server certificate for names and addresses, valid for
// ServerValidity; the chain includes the CA.
func (ca *StoreCA) Issue(names []string, ips []net.IP) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(ServerValidity),
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
