package main

import (
	"net"
	"testing"
	"time"

	"github.com/hashicorp/mdns"
)

// lookup asks for the counter on the loopback interface only.
func lookup(t *testing.T, lo *net.Interface, wait time.Duration) []*mdns.ServiceEntry {
	t.Helper()
	ch := make(chan *mdns.ServiceEntry, 8)
	var found []*mdns.ServiceEntry
	done := make(chan struct{})
	go func() {
		for e := range ch {
			found = append(found, e)
		}
		close(done)
	}()
	p := mdns.DefaultParams("_https._tcp")
	p.Interface, p.Entries, p.Timeout, p.DisableIPv6 = lo, ch, wait, true
	if err := mdns.Query(p); err != nil {
		t.Fatalf("mdns query: %v", err)
	}
	close(ch)
	<-done
	return found
}

// testHost is the name the test announces; the quiet phase tells the
// first announcer's late answers by it.
const testHost = "kasse-mdns-test.local"

// The counter's .local name is announced by mDNS. The
// test announces and looks up on the loopback interface only: nothing
// goes to another interface. A counter that serves on loopback alone
// announces nothing.
func TestMDNSOnLoopbackOnly(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skip("no loopback interface named lo")
	}
	stop, err := announce("Optik Müller – Kasse", testHost, 8443, []net.IP{net.ParseIP("127.0.0.1")}, []net.Interface{*lo})
	if err != nil {
		t.Fatal(err)
	}
	found := lookup(t, lo, 2*time.Second)
	stop()
	ok := false
	for _, e := range found {
		ok = ok || (e.Host == testHost+"." && e.Port == 8443 && e.AddrV4.Equal(net.ParseIP("127.0.0.1")))
	}
	if !ok {
		t.Fatalf("the counter was not found by mDNS: %+v", found)
	}

	// --lan-addr on loopback: no announcement.
	quiet := announceCounter(&lanSetup{addr: "127.0.0.1:8443"}, "Optik Müller")
	defer quiet()
	// The first announcer's last answers can still be on their way (the
	// test failed twice on such an entry): only another host counts.
	for _, e := range lookup(t, lo, 500*time.Millisecond) {
		if e.Host != testHost+"." {
			t.Errorf("announced while serving on loopback only: %+v", e)
		}
	}
	if ifaces := lanInterfaces(nil); len(ifaces) > 0 {
		for _, i := range ifaces {
			if i.Flags&net.FlagLoopback != 0 {
				t.Errorf("loopback counted as the store's network: %s", i.Name)
			}
		}
	}
}
