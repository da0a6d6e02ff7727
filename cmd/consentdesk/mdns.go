package main

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"

	"github.com/hashicorp/mdns"
)

// The counter's .local name, announced with mDNS (multicast DNS), so that
// a tablet finds https://<machine>.local:8443 without anyone typing an
// address: only when the counter listens on the store's network, never
// when it serves on loopback alone.

func init() {
	// hashicorp/mdns logs through the standard logger every packet it
	// cannot read; the server's own log is slog.
	log.SetOutput(io.Discard)
}

// mdnsService is the counter as an mDNS service of type _https._tcp.
func mdnsService(instance, name string, port int, ips []net.IP) (*mdns.MDNSService, error) {
	return mdns.NewMDNSService(instance, "_https._tcp", "", strings.TrimSuffix(name, ".")+".", port, ips, []string{"path=/", "ConsentDesk"})
}

// announce answers mDNS queries for the counter on each interface given,
// and returns a function that stops it.
func announce(instance, name string, port int, ips []net.IP, ifaces []net.Interface) (func(), error) {
	svc, err := mdnsService(instance, name, port, ips)
	if err != nil {
		return nil, err
	}
	var servers []*mdns.Server
	stop := func() {
		for _, s := range servers {
			s.Shutdown()
		}
	}
	for i := range ifaces {
		s, err := mdns.NewServer(&mdns.Config{Zone: svc, Iface: &ifaces[i]})
		if err != nil {
			stop()
			return nil, fmt.Errorf("mdns on %s: %w", ifaces[i].Name, err)
		}
		servers = append(servers, s)
	}
	return stop, nil
}

// lanInterfaces are the interfaces of the store's network: up, with
// multicast, and with a private address; never loopback.
func lanInterfaces(bound net.IP) []net.Interface {
	all, _ := net.Interfaces()
	var out []net.Interface
	for _, ifi := range all {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if ok && n.IP.To4() != nil && n.IP.IsPrivate() && (bound == nil || bound.IsUnspecified() || bound.Equal(n.IP)) {
				out = append(out, ifi)
				break
			}
		}
	}
	return out
}

// announceCounter announces the counter when --lan-addr is on the store's
// network; on loopback it does nothing. It returns the stop function.
func announceCounter(lan *lanSetup, storeName string) func() {
	host, portText, _ := net.SplitHostPort(lan.addr)
	bound := net.ParseIP(host)
	if host == "" {
		bound = net.IPv4zero
	}
	if bound == nil || bound.IsLoopback() {
		return func() {}
	}
	var port int
	fmt.Sscan(portText, &port)
	ifaces := lanInterfaces(bound)
	if len(ifaces) == 0 {
		slog.Warn("no store network interface with multicast: the counter's .local name is not announced")
		return func() {}
	}
	var ips []net.IP
	for _, ip := range lanIPs(bound) {
		if !ip.IsLoopback() && ip.To4() != nil {
			ips = append(ips, ip)
		}
	}
	name := storeNames()[0]
	stop, err := announce(storeName+" – Kasse", name, port, ips, ifaces)
	if err != nil {
		slog.Error("mDNS announcement failed; the tablet can still use the address", "err", err)
		return func() {}
	}
	slog.Info("counter announced by mDNS", "name", name, "port", port, "interfaces", len(ifaces))
	return stop
}
