package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders/store"
)

const pebbleVersion = "v2.10.3"

// pebble finds the Pebble binary and its test certificates (the module's
// source in the module cache). Without them the test skips, unless
// CONSENTDESK_REQUIRE_TOOLS is set (.ci/run installs Pebble).
func pebble(t *testing.T) (bin, certs string) {
	t.Helper()
	missing := func(why string) {
		msg := why + ": go install github.com/letsencrypt/pebble/v2/cmd/pebble@" + pebbleVersion
		if os.Getenv("CONSENTDESK_REQUIRE_TOOLS") != "" {
			t.Fatal("Pebble is required (CONSENTDESK_REQUIRE_TOOLS is set): " + msg)
		}
		t.Skip(msg)
	}
	bin, err := exec.LookPath("pebble")
	if err != nil {
		out, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(out)), "bin", "pebble")
		if _, err := os.Stat(bin); err != nil {
			missing("no pebble binary")
		}
	}
	out, _ := exec.Command("go", "env", "GOMODCACHE").Output()
	certs = filepath.Join(strings.TrimSpace(string(out)), "github.com", "letsencrypt", "pebble", "v2@"+pebbleVersion, "test", "certs")
	if _, err := os.Stat(filepath.Join(certs, "pebble.minica.pem")); err != nil {
		missing("no Pebble test certificates in the module cache")
	}
	return bin, certs
}

// startPebble runs a real ACME server on 127.0.0.1 that signs every
// order without a challenge (PEBBLE_VA_ALWAYS_VALID), and returns its
// directory URL, its management URL, and a stop function.
func startPebble(t *testing.T, bin, certs string) (directory, management string, stop func()) {
	t.Helper()
	dir := t.TempDir()
	listen, manage := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": manage,
		"certificate": filepath.Join(certs, "localhost", "cert.pem"), "privateKey": filepath.Join(certs, "localhost", "key.pem"),
		"httpPort": freePort(t), "tlsPort": freePort(t), "ocspResponderURL": "", "externalAccountBindingRequired": false,
	}}
	b, _ := json.Marshal(cfg)
	file := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", file, "-strict=false")
	cmd.Env = append(os.Environ(), "PEBBLE_VA_ALWAYS_VALID=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_VA_NOSLEEP=1")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	directory, management = "https://"+listen+"/dir", "https://"+manage
	client := trusting(t, filepath.Join(certs, "pebble.minica.pem"))
	for deadline := time.Now().Add(20 * time.Second); ; {
		res, err := client.Get(directory)
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return directory, management, stop
}

func trusting(t *testing.T, pemFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(pemFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", pemFile)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// Automatic HTTPS on the public listener, tested against a
// real ACME server: the certificate is fetched, /p/{token} is served over
// HTTPS verified against Pebble's root with HSTS, the certificate lies in
// a folder of mode 0700 beside the database, and a restart serves the
// stored certificate with Pebble gone.
func TestACMEWithPebble(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin, certs := pebble(t)
	directory, management, stopPebble := startPebble(t, bin, certs)
	dir := t.TempDir()
	db := filepath.Join(dir, "store.db")
	if _, err := run(t, "demo", "--db", db); err != nil {
		t.Fatal(err)
	}
	keys, err := store.LoadOrCreateKeys(db + ".key")
	if err != nil {
		t.Fatal(err)
	}
	token := keys.LinkTokens().Make(consent.PreferencesToken, 1)

	const host = "consent.optik-mueller.test"
	port := freePort(t)
	// The ACME client trusts the system's roots and SSL_CERT_FILE, as
	// usual: here that file is Pebble's own.
	env := []string{"SSL_CERT_FILE=" + filepath.Join(certs, "pebble.minica.pem")}
	args := []string{"--db", db, "--addr", "127.0.0.1:0", "--public-addr", fmt.Sprintf("127.0.0.1:%d", port),
		"--public-url", fmt.Sprintf("https://%s:%d", host, port), "--acme", "--acme-email", "owner@optik-mueller.test", "--acme-directory", directory,
		"--backup-dir", "off"}
	srv := spawnServer(t, "https", env, args...)
	addr, out := srv.addr, srv.out

	// Pebble's root, from its management port, is what the customer's
	// phone would trust for a real CA.
	res, err := trusting(t, filepath.Join(certs, "pebble.minica.pem")).Get(management + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	root, _ := io.ReadAll(res.Body)
	res.Body.Close()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(root) {
		t.Fatalf("no root from pebble: %s", root)
	}
	phone := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: host},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr) // the name resolves to the store's router
		}}}
	get := func() (*http.Response, string) {
		t.Helper()
		res, err := phone.Get(fmt.Sprintf("https://%s:%d/p/%s", host, port, token))
		if err != nil {
			t.Fatalf("GET /p over HTTPS: %v\n%s", err, out.String())
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	first, body := get()
	if first.StatusCode != http.StatusOK || !strings.Contains(body, "Alle Einwilligungen widerrufen") {
		t.Fatalf("preference page over HTTPS: %d", first.StatusCode)
	}
	if first.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS on the HTTPS listener")
	}
	serial := first.TLS.PeerCertificates[0].SerialNumber.String()
	if fi, err := os.Stat(filepath.Join(dir, "acme")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("certificate folder: %v %v", fi, err)
	}

	// Restart without the CA: the stored certificate is served.
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()
	stopPebble()
	srv = spawnServer(t, "https", env, args...)
	addr, out = srv.addr, srv.out
	again, _ := get()
	if again.StatusCode != http.StatusOK || again.TLS.PeerCertificates[0].SerialNumber.String() != serial {
		t.Errorf("after a restart: %d, serial %s, before %s", again.StatusCode, again.TLS.PeerCertificates[0].SerialNumber, serial)
	}
}
