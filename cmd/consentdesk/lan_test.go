package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/pos"
)

// The counter tablet over HTTPS on the store's network: the
// server makes its own CA beside the database (key 0600), a Go
// client that trusts only that CA reaches the tablet pages and signs in
// with Secure cookies, one without it is refused, and the plain-HTTP
// pairing page hands out the CA as a profile and a certificate and sends
// everything else to HTTPS.
func TestCounterOverHTTPSWithTheStoreCA(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "store.db")
	if _, err := run(t, "staff", "add", "--name", "Lea", "--pin", "975318", "--role", "manager", "--db", db); err != nil {
		t.Fatal(err)
	}
	// A store CA as it was made before its name constraints: the server
	// replaces it at this start, and asks to pair the tablets again.
	writeUnconstrainedCA(t, db)
	lanPort, pairPort := freePort(t), freePort(t)
	srv := spawnServer(t, "https", nil, "--db", db, "--addr", "127.0.0.1:0", "--backup-dir", "off",
		"--lan-addr", fmt.Sprintf("127.0.0.1:%d", lanPort), "--pair-addr", fmt.Sprintf("127.0.0.1:%d", pairPort))
	addr, out := srv.addr, srv.out
	if addr != fmt.Sprintf("127.0.0.1:%d", lanPort) {
		t.Fatalf("https listener on %s", addr)
	}
	if fi, err := os.Stat(db + ".ca.key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key file: %v %v", fi, err)
	}
	caPEM, err := os.ReadFile(db + ".ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	jar, _ := cookiejar.New(nil)
	tablet := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := "https://" + addr

	// Without the CA: refused.
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + "/login"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client without the store CA got through: %v", err)
	}
	// With it: the sign-in page, HSTS, and a session with a Secure cookie.
	res, err := tablet.Get(base + "/login")
	if err != nil {
		t.Fatalf("GET /login over HTTPS: %v\n%s", err, out.String())
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("/login: %d, HSTS %q", res.StatusCode, res.Header.Get("Strict-Transport-Security"))
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if csrf == nil {
		t.Fatal("no CSRF token on the sign-in page")
	}
	res, err = tablet.PostForm(base+"/login", url.Values{"csrf": {string(csrf[1])}, "name": {"Lea"}, "pin": {"975318"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/orders/new" {
		t.Fatalf("sign-in over HTTPS: %d at %s", res.StatusCode, res.Request.URL)
	}
	for _, c := range res.Request.Response.Cookies() {
		if c.Name == "cd_session" && !c.Secure {
			t.Error("the session cookie is not Secure")
		}
	}
	// The back office's pairing page: a QR code and the fingerprint.
	res, err = tablet.Get(base + "/pairing")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	block, _ := pem.Decode(caPEM)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `src="data:image/png;base64,`) ||
		!strings.Contains(string(body), fmt.Sprintf("http://127.0.0.1:%d/pair", pairPort)) {
		t.Errorf("pairing page: %d", res.StatusCode)
	}
	if !strings.Contains(string(body), "Bitte jedes Tablet neu koppeln") {
		t.Error("the pairing page does not ask to pair the tablets again after the CA was replaced")
	}
	if res, err := tablet.Get(base + "/dashboard"); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(b), "Bitte jedes Tablet neu koppeln") {
			t.Error("the dashboard does not ask to pair the tablets again after the CA was replaced")
		}
	}
	if cert, _ := pem.Decode(caPEM); cert == nil {
		t.Fatal("no CA certificate")
	} else if c, err := x509.ParseCertificate(cert.Bytes); err != nil || len(c.ExcludedEmailAddresses) != 1 || c.PermittedDNSDomains[0] != pos.CounterNames()[0] {
		t.Errorf("the CA in use is not the constrained one: %v", err)
	}

	// The pairing listener, plain HTTP, for a tablet that trusts nothing yet.
	plain := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	pair := fmt.Sprintf("http://127.0.0.1:%d", pairPort)
	get := func(path string) (*http.Response, []byte) {
		res, err := plain.Get(pair + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	if res, b := get("/pair"); res.StatusCode != http.StatusOK || !strings.Contains(string(b), "/pair/ca.mobileconfig") {
		t.Errorf("/pair: %d", res.StatusCode)
	} else {
		// Each heading once.
		seen := map[string]bool{}
		for _, h := range regexp.MustCompile(`<h[1-3][^>]*>([^<]+)</h[1-3]>`).FindAllStringSubmatch(string(b), -1) {
			if seen[h[1]] {
				t.Errorf("/pair shows the heading %q twice", h[1])
			}
			seen[h[1]] = true
		}
	}
	if res, b := get("/pair/ca.crt"); res.StatusCode != http.StatusOK || string(b) != string(caPEM) {
		t.Errorf("/pair/ca.crt: %d", res.StatusCode)
	}
	res, profile := get("/pair/ca.mobileconfig")
	// The store is not set up yet: the CA and the profile are named after
	// the counter, never after the placeholder company of the settings.
	if strings.Contains(string(profile), "Optik Muster") || !strings.Contains(string(profile), pos.CAName("")) {
		t.Errorf("the profile of a store not set up is named after the placeholder:\n%s", profile)
	}
	if c, err := x509.ParseCertificate(block.Bytes); err != nil || strings.Contains(c.Subject.CommonName, "Optik Muster") {
		t.Errorf("the CA of a store not set up: %q %v", c.Subject.CommonName, err)
	}
	if res.Header.Get("Content-Type") != "application/x-apple-aspen-config" || !strings.Contains(string(profile), base64.StdEncoding.EncodeToString(block.Bytes)) ||
		!strings.Contains(string(profile), "com.apple.security.root") {
		t.Errorf("profile: %s", res.Header.Get("Content-Type"))
	}
	if err := xml.NewDecoder(strings.NewReader(string(profile))).Decode(new(struct{})); err != nil {
		t.Errorf("the profile is not well-formed XML: %v", err)
	}
	if res, _ := get("/orders/new"); res.StatusCode != http.StatusFound || res.Header.Get("Location") != fmt.Sprintf("https://127.0.0.1:%d/", lanPort) {
		t.Errorf("plain HTTP counter: %d → %s", res.StatusCode, res.Header.Get("Location"))
	}
}

// The counter's certificate renews itself: 30 days before its end, and
// when the machine's addresses change.
func TestCounterCertificateRenewsItself(t *testing.T) {
	ca, err := pos.LoadOrCreateStoreCA(filepath.Join(t.TempDir(), "s.db"), "Optik Müller")
	if err != nil {
		t.Fatal(err)
	}
	sc := &serverCert{ca: ca, bound: net.ParseIP("127.0.0.1")}
	first, err := sc.current()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := sc.current(); again != first {
		t.Error("a fresh certificate was replaced")
	}
	if left := time.Until(first.Leaf.NotAfter); left < pos.ServerValidity-2*time.Hour || !first.Leaf.IPAddresses[len(first.Leaf.IPAddresses)-1].Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("certificate: %v left, %v", left, first.Leaf.IPAddresses)
	}
	first.Leaf.NotAfter = time.Now().Add(29 * 24 * time.Hour) // as if 61 days had passed
	second, _ := sc.current()
	if second == first || second.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 {
		t.Error("not renewed 29 days before its end")
	}
	sc.ips = "another network"
	if third, _ := sc.current(); third == second {
		t.Error("not renewed when the addresses changed")
	}
	// The store CA signs nothing on the internet (name constraints).
	leaf, err := ca.Issue([]string{"www.google.com"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "www.google.com"}); err == nil {
		t.Error("a certificate of the store CA for www.google.com verifies")
	}
}

// writeUnconstrainedCA writes a store CA beside db as one was made before
// its name constraints: the machine's name as a bare label, and nothing
// excluded.
func writeUnconstrainedCA(t *testing.T, db string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Optik – Kasse (ConsentDesk)"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(pos.CAValidity), IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign, PermittedDNSDomainsCritical: true, PermittedDNSDomains: []string{"local", "localhost", "shop"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db+".ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db+".ca.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A CA made before these constraints is replaced at the next start,
// named from the store's current details; the earlier one is set aside,
// and the pairing asks the tablets to pair again for a while.
func TestAnUnconstrainedStoreCAIsReplaced(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	writeUnconstrainedCA(t, db)
	ca, err := pos.LoadOrCreateStoreCA(db, "Optik Neu")
	if err != nil {
		t.Fatal(err)
	}
	if ca.Replaced.IsZero() || time.Since(ca.Replaced) > time.Minute {
		t.Errorf("replaced: %v", ca.Replaced)
	}
	raw, err := os.ReadFile(db + ".ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.PermittedDNSDomains[0] != pos.CounterNames()[0] || !strings.Contains(cert.Subject.CommonName, "Optik Neu") {
		t.Errorf("the new CA: %v %q", cert.PermittedDNSDomains, cert.Subject.CommonName)
	}
	for _, f := range []string{".ca.pem", ".ca.key"} {
		if aside, _ := filepath.Glob(db + f + ".replaced-*"); len(aside) != 1 {
			t.Errorf("the earlier CA's %s set aside: %v", f, aside)
		}
	}
	// The next start keeps the new one, and still asks to pair again.
	again, err := pos.LoadOrCreateStoreCA(db, "Optik Neu")
	if err != nil {
		t.Fatal(err)
	}
	if string(again.CertPEM()) != string(ca.CertPEM()) || again.Replaced.IsZero() {
		t.Errorf("the second start: same CA %v, replaced %v", string(again.CertPEM()) == string(ca.CertPEM()), again.Replaced)
	}
}
