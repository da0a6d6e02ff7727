package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// acmeConfig is what --acme needs: the public URL's host gets a
// certificate from the ACME directory (Let's Encrypt by default), kept in
// a folder beside the database, mode 0700, and renewed before it expires
// (autocert renews 30 days ahead).
type acmeConfig struct {
	host, email, directory, cacheDir string
}

func newACMEConfig(publicURL, email, directory, dbPath string) (acmeConfig, error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return acmeConfig{}, fmt.Errorf("--acme needs --public-url https://<host> (the host the certificate is for), got %q\n"+
			"--acme braucht --public-url https://<Name> (der Name, für den das Zertifikat gilt)", publicURL)
	}
	if directory == "" {
		directory = autocert.DefaultACMEDirectory
	}
	return acmeConfig{host: u.Hostname(), email: email, directory: directory, cacheDir: filepath.Join(filepath.Dir(dbPath), "acme")}, nil
}

// certStatus is what the dashboard shows of the public certificate.
type certStatus struct {
	mu       sync.Mutex
	notAfter time.Time
	err      error
	checked  time.Time
}

func (s *certStatus) set(notAfter time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checked = time.Now()
	if err != nil {
		s.err = err
		return
	}
	s.notAfter, s.err = notAfter, nil
}

// Status reports the certificate's expiry and the last error of getting
// or renewing it (nil when the last try worked).
func (s *certStatus) Status() (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notAfter, s.err
}

// manager builds the ACME client. It trusts the system's roots, and
// SSL_CERT_FILE as Go always does.
func (a acmeConfig) manager() (*autocert.Manager, error) {
	if err := os.MkdirAll(a.cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("acme: %w", err)
	}
	if err := os.Chmod(a.cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("acme: %w", err)
	}
	return &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(a.cacheDir),
		HostPolicy: autocert.HostWhitelist(a.host),
		Email:      a.email,
		Client:     &acme.Client{DirectoryURL: a.directory},
	}, nil
}

// watchCertificate gets the certificate at start (so that the first
// customer does not wait for the CA) and checks it twice a day, which is
// also when autocert renews it; each failure is logged and kept for the
// dashboard.
func watchCertificate(ctx context.Context, m *autocert.Manager, host string, st *certStatus) {
	check := func() {
		// A hello as a current browser sends it: autocert picks an ECDSA
		// certificate for it, as it will for the customers' phones.
		cert, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: host, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
			SupportedCurves: []tls.CurveID{tls.CurveP256}, SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
			SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12}})
		if err == nil && (cert == nil || cert.Leaf == nil) {
			err = errors.New("no certificate")
		}
		if err != nil {
			slog.Error("public certificate (ACME) could not be obtained or renewed", "host", host, "err", err)
			st.set(time.Time{}, err)
			return
		}
		st.set(cert.Leaf.NotAfter, nil)
		slog.Info("public certificate in place", "host", host, "not_after", cert.Leaf.NotAfter.Format(time.RFC3339))
	}
	check()
	t := time.NewTicker(12 * time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			check()
		}
	}
}
