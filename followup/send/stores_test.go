package send_test

import (
	"context"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup/send"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/chain"
)

// In a chain, a store's mails come from that store:
// the footer names the store with its address and phone, replies go to
// its address, and the pickup mail gives its opening hours; the company
// and its register details stay.
func TestMailsComeFromTheirStore(t *testing.T) {
	s := newStore(t, false)
	ctx := context.Background()
	freiburg, err := chain.AddStore(ctx, s.db, orders.Store{Name: "Freiburg", Street: "Kaiser-Joseph-Straße 1", PostalCode: "79098", City: "Freiburg",
		Phone: "0761 123456", Email: "freiburg@optik-muster.example", OpeningHours: "Mo–Fr 9–18 Uhr\nSa 9–14 Uhr"})

	if err != nil {
		t.Fatal(err)
	}
	start := s.clock.Now().Add(48 * time.Hour).Truncate(time.Hour)
	p, err := s.db.PlaceOrder(consent.WithStore(ctx, freiburg.ID), orders.NewOrder{Customer: jana(),
		Items:   []orders.Item{{Description: "Gleitsichtbrille", Quantity: 1, UnitPriceCents: 45900, VATRatePercent: 19}},
		Pickup:  &orders.Pickup{Start: start, End: start.Add(30 * time.Minute)},
		Consent: orders.ConsentInput{Mode: orders.ModeTablet, Channels: map[consent.Channel]bool{consent.Email: true}}})
	if err != nil {
		t.Fatal(err)
	}
	// Marked ready from the first store's back office: the pickup mail is
	// still Freiburg's, where the glasses wait.
	if _, err := s.db.MarkReady(ctx, p.Order.ID); err != nil {
		t.Fatal(err)
	}
	ms := newMailServer(t, plainServer)
	sender := s.sender(s.smtp(t, ms.config(t, "smtp://x?tls=none")), send.SenderConfig{})
	if n := drain(t, sender); n != 2 {
		t.Fatalf("%d mails sent, want the thank-you and the pickup mail", n)
	}
	pickups := 0
	for i, m := range ms.messages() {
		pm := parse(t, m.Data)
		pm.Text, pm.HTML = strings.ReplaceAll(pm.Text, "\r\n", "\n"), strings.ReplaceAll(pm.HTML, "\r\n", "\n")
		for _, part := range []string{pm.Text, pm.HTML} {
			for _, want := range []string{"Optik Muster GmbH", "Filiale Freiburg", "Kaiser-Joseph-Straße 1", "79098 Freiburg", "0761 123456", "Amtsgericht"} {
				if !strings.Contains(part, want) {
					t.Errorf("mail %d lacks %q", i+1, want)
				}
			}
		}
		if rt, err := mail.ParseAddress(pm.Header.Get("Reply-To")); err != nil || rt.Address != "freiburg@optik-muster.example" {
			t.Errorf("mail %d: Reply-To %q", i+1, pm.Header.Get("Reply-To"))
		}
		if strings.Contains(pm.Text, "kann abgeholt werden") {
			pickups++
			if !strings.Contains(pm.Text, "Öffnungszeiten:\nMo–Fr 9–18 Uhr\nSa 9–14 Uhr") || !strings.Contains(pm.HTML, "Öffnungszeiten:<br>Mo–Fr 9–18 Uhr<br>Sa 9–14 Uhr") {
				t.Errorf("the pickup mail lacks the opening hours:\n%s\n%s", pm.Text, pm.HTML)
			}
		}
	}
	if pickups != 1 {
		t.Errorf("%d pickup mails among the two", pickups)
	}
	for _, m := range outbox(t, s) {
		if m.StoreID != freiburg.ID {
			t.Errorf("mail %d (%s) from store %d", m.ID, m.Kind, m.StoreID)
		}
	}
}
