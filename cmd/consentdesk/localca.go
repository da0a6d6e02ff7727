package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/pos"
)

// storeNames are the names the tablet may use: this machine's name under
// .local (what mDNS announces) and localhost.
func storeNames() []string { return pos.CounterNames() }

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

// renewBefore is how long before its end the counter's certificate is
// renewed.
const renewBefore = 30 * 24 * time.Hour

// serverCert keeps the counter's certificate current: reissued when it
// nears its end, or when the machine's addresses change.
type serverCert struct {
	ca    *pos.StoreCA
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
	c, err := s.ca.Issue(storeNames(), ips)
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

// lanAddresses reads --lan-addr and --pair-addr: the host the counter is
// bound to, and the pairing page's address (default: that host, port
// 8480).
func lanAddresses(lanAddr, pairAddr string) (host, pair string, err error) {
	host, _, err = net.SplitHostPort(lanAddr)
	if err != nil {
		return "", "", fmt.Errorf("--lan-addr %q: %w", lanAddr, err)
	}
	if pairAddr == "" {
		pairAddr = net.JoinHostPort(host, "8480")
	}
	if _, _, err := net.SplitHostPort(pairAddr); err != nil {
		return "", "", fmt.Errorf("--pair-addr %q: %w", pairAddr, err)
	}
	return host, pairAddr, nil
}

func newLAN(ctx context.Context, db *orders.DB, lanAddr, pairAddr string) (*lanSetup, error) {
	host, pairAddr, err := lanAddresses(lanAddr, pairAddr)
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(lanAddr)
	_, pairPort, _ := net.SplitHostPort(pairAddr)
	ctrl, err := db.Controller(ctx)
	if err != nil {
		return nil, err
	}
	ca, err := pos.LoadOrCreateStoreCA(db.Path, ctrl.Name)
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
	p := &pos.Pairing{CACertPEM: ca.CertPEM(), Name: ctrl.Name, Replaced: ca.Replaced}
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
