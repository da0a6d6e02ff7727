package send_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/followup/send"
)

// §257(1) Nr. 3, (4) HGB: the order mails sent are copies of commercial
// letters, kept six years from the end of the year they were sent in. An
// erasure keeps them, restricted, instead of deleting them at once; the
// double opt-in mail is no commercial letter and goes. The retention job
// empties them after their day.
func TestErasureKeepsCommercialLetters_HGB257(t *testing.T) {
	t.Parallel()
	s := newStore(t, true)
	ms := newMailServer(t, plainServer)
	ctx := context.Background()
	placed := s.order(t, jana(), true) // thank-you and double opt-in mail
	if _, err := s.db.MarkReady(ctx, placed.Order.ID); err != nil {
		t.Fatal(err)
	}
	sender := s.sender(s.smtp(t, ms.config(t, "smtp://x?tls=none")), send.SenderConfig{})
	if n := drain(t, sender); n != 3 {
		t.Fatalf("handled %d mails, want 3", n)
	}
	res, err := s.db.Erase(ctx, placed.Customer.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	sentYear := s.clock.Now().Year()
	want := time.Date(sentYear+6, 12, 31, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
	if len(res.KeptMails) != 2 || res.Removed.Mails != 1 {
		t.Fatalf("kept %+v, emptied %d", res.KeptMails, res.Removed.Mails)
	}
	for _, k := range res.KeptMails {
		if k.DeleteAfter != want || (k.Kind != followup.ThankYou && k.Kind != followup.Pickup) {
			t.Errorf("kept mail %+v, want until %s", k, want)
		}
	}
	for _, m := range outbox(t, s) {
		full, err := followup.Get(ctx, s.db.SQL(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch m.Kind {
		case followup.DoubleOptIn:
			if len(full.Raw) != 0 || full.RetainedUntil != "" {
				t.Errorf("double opt-in mail kept: %d bytes, until %q", len(full.Raw), full.RetainedUntil)
			}
		default:
			if !bytes.Contains(full.Raw, []byte("j.weiss@example.org")) || full.RetainedUntil != want || full.LastError != "" {
				t.Errorf("%s mail not kept as sent: %d bytes, until %q", m.Kind, len(full.Raw), full.RetainedUntil)
			}
		}
	}
	if v, err := s.db.Verify(ctx); err != nil || !v.OK {
		t.Fatalf("ledger: %+v %v", v, err)
	}

	// On the last day they are still kept; the day after, the job empties them.
	s.clock.Add(time.Until(time.Date(sentYear+6, 12, 31, 12, 0, 0, 0, time.UTC)))
	if r, err := s.db.ApplyRetention(ctx); err != nil || r.Mails != 0 {
		t.Fatalf("on the last day: %+v %v", r, err)
	}
	s.clock.Add(24 * time.Hour)
	if r, err := s.db.ApplyRetention(ctx); err != nil || r.Mails != 2 {
		t.Fatalf("the day after: %+v %v", r, err)
	}
	for _, m := range outbox(t, s) {
		full, _ := followup.Get(ctx, s.db.SQL(), m.ID)
		if len(full.Raw) != 0 {
			t.Errorf("mail %d still holds its message after its period", m.ID)
		}
	}
}
