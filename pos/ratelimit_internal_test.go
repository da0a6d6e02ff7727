package pos

import (
	"fmt"
	"testing"
	"time"
)

// The public rate limiter's table is bounded: an
// IPv6 client counts by its /64, idle clients are swept, and a flood of
// new addresses beyond the cap shares one limiter instead of growing the
// map.
func TestRateLimitTableIsBounded(t *testing.T) {
	clock := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	r := newRateLimitOf(3*time.Second, 2)
	r.now = func() time.Time { return clock }
	r.maxClients = 100

	// One /64: every address in it is the same client.
	for i := 0; i < 2; i++ {
		if !r.allow(fmt.Sprintf("2001:db8:1:2::%x", i+1)) {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	if r.allow("2001:db8:1:2:ffff:ffff:ffff:ffff") {
		t.Error("a third address in the same /64 got past a burst of 2")
	}
	if !r.allow("2001:db8:1:3::1") {
		t.Error("the neighbouring /64 was limited too")
	}
	if !r.allow("::ffff:192.0.2.7") || clientKey("::ffff:192.0.2.7") != "192.0.2.7" {
		t.Error("an IPv4-mapped address is not counted as its IPv4 address")
	}

	// A flood of new addresses: the table stops at the cap, and the rest
	// share one bucket of 2.
	allowed := 0
	for i := 0; i < 1000; i++ {
		if r.allow(fmt.Sprintf("10.%d.%d.1", i/250, i%250)) {
			allowed++
		}
	}
	if len(r.clients) != r.maxClients {
		t.Errorf("table holds %d clients, cap %d", len(r.clients), r.maxClients)
	}
	if want := r.maxClients - 3; allowed != want+2 {
		t.Errorf("%d requests of the flood allowed, want %d (one per address that got a place) + 2 (the shared bucket)", allowed, want)
	}

	// A minute later nothing is swept yet (the bucket of a client is full
	// again only after burst×every = 6 s, but the sweep keeps a minute).
	clock = clock.Add(59 * time.Second)
	r.allow("192.0.2.99")
	if len(r.clients) != r.maxClients {
		t.Errorf("swept before a minute: %d clients", len(r.clients))
	}
	// Two minutes on, the idle are gone and a new address gets its own
	// bucket again.
	clock = clock.Add(2 * time.Minute)
	// Two requests: the burst of a fresh bucket lets both through.
	if first, second := r.allow("192.0.2.100"), r.allow("192.0.2.100"); !first || !second {
		t.Error("a new client after the sweep has no burst of its own")
	}
	if len(r.clients) != 1 {
		t.Errorf("after the sweep %d clients are left, want 1", len(r.clients))
	}
}
