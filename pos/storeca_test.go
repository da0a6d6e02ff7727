package pos_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/pos"
)

// caKey reads the store CA's key from beside the database, as a thief of
// the file would.
func caKey(t *testing.T, db string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	certPEM, err := os.ReadFile(db + ".ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(db + ".ca.key")
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// signWith makes a leaf certificate with the CA's key.
func signWith(t *testing.T, ca *x509.Certificate, key *ecdsa.PrivateKey, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	lk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = big.NewInt(7), time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &lk.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

// The store CA's key, stolen, signs nothing but this machine's counter:
// not a foreign domain under the machine's name as a top-level domain (a
// PC named "shop"), not an e-mail address (S/MIME), not a URI, and no
// certificate for anything but a server. x509.Verify refuses each.
func TestStoreCASignsOnlyTheCounter(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	ca, err := pos.LoadOrCreateStoreCA(db, "Optik Müller")
	if err != nil {
		t.Fatal(err)
	}
	cert, key := caKey(t, db)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	names := pos.CounterNames()
	host := strings.TrimSuffix(names[0], ".local")
	bank, _ := url.Parse("https://bank.example/login")
	for _, c := range []struct {
		what  string
		leaf  *x509.Certificate
		usage x509.ExtKeyUsage
		name  string
	}{
		{"a domain under the machine's name as a top-level domain", &x509.Certificate{DNSNames: []string{"www.optiker-konkurrenz." + host}}, x509.ExtKeyUsageServerAuth, "www.optiker-konkurrenz." + host},
		{"another machine on .local", &x509.Certificate{DNSNames: []string{"nas.local"}}, x509.ExtKeyUsageServerAuth, "nas.local"},
		{"an S/MIME certificate", &x509.Certificate{EmailAddresses: []string{"ceo@bank.example"}}, x509.ExtKeyUsageEmailProtection, ""},
		{"an e-mail address in a server certificate", &x509.Certificate{EmailAddresses: []string{"ceo@bank.example"}}, x509.ExtKeyUsageServerAuth, ""},
		{"a URI", &x509.Certificate{URIs: []*url.URL{bank}}, x509.ExtKeyUsageServerAuth, ""},
		{"code signing for the counter's own name", &x509.Certificate{DNSNames: []string{names[0]}}, x509.ExtKeyUsageCodeSigning, ""},
	} {
		c.leaf.ExtKeyUsage = []x509.ExtKeyUsage{c.usage}
		leaf := signWith(t, cert, key, c.leaf)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: c.name, KeyUsages: []x509.ExtKeyUsage{c.usage}}); err == nil {
			t.Errorf("%s signed with the store CA's key verifies", c.what)
		}
	}
	// What it is for still verifies: the counter's certificate.
	counter, err := ca.Issue(names, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := counter.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: names[0]}); err != nil {
		t.Errorf("the counter's certificate: %v", err)
	}
	if !ca.Replaced.IsZero() {
		t.Error("a new CA says it replaced one")
	}
}
