package send_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/followup/send"
	"github.com/consentdesk/consentdesk/orders"
)

// Every mail's reason line says its true basis (§7(3) Nr. 4 UWG, GDPR
// Art. 13): a recall the customer chose names the topic; a contact lens
// recall on §7(3) UWG says that they bought here and may object; the
// thank-you mail's service note names the consent to offers, or the
// purchase; never "because you chose" where they did not.
func TestMailReasonLinesSayTheTrueBasis_UWG7_3(t *testing.T) {
	s := newStore(t, false)
	ctx := context.Background()
	ctrl, _ := s.db.Controller(ctx)
	ctrl.ExistingCustomerAds = true
	if err := s.db.SaveController(ctx, ctrl, 0); err != nil {
		t.Fatal(err)
	}
	chose := s.place(t, orders.Customer{Salutation: "Frau", FirstName: "Anna", LastName: "Weber", Email: "anna@example.org", Lang: "de"},
		orders.ConsentInput{Mode: orders.ModeTablet, Cells: map[consent.Channel][]string{consent.Email: {consent.TopicEyeTest, consent.TopicOffers}}})
	bought := s.orderOnPaper(t, orders.Customer{Salutation: "Herr", FirstName: "Bernd", LastName: "Linse", Email: "bernd@example.org", Lang: "de"})
	recall := func(id int64, topic string) {
		t.Helper()
		if err := s.db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
			_, err := followup.Enqueue(ctx, tx, followup.Job{Kind: followup.Recall, CustomerID: id, Topic: topic, SaleAddress: true}, now)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	recall(chose.Customer.ID, consent.TopicEyeTest)
	recall(bought.Customer.ID, consent.TopicContactLenses)
	drain(t, s.sender(followup.Folder{Dir: t.TempDir()}, send.SenderConfig{}))
	text := func(id int64, kind followup.Kind) string {
		t.Helper()
		for _, m := range outbox(t, s) {
			if m.CustomerID == id && m.Kind == kind {
				full, err := followup.Get(ctx, s.db.SQL(), m.ID)
				if err != nil {
					t.Fatal(err)
				}
				return strings.Join(strings.Fields(parse(t, full.Raw).Text), " ")
			}
		}
		t.Fatalf("no %s mail for customer %d", kind, id)
		return ""
	}
	for _, c := range []struct {
		id        int64
		kind      followup.Kind
		want, not string
	}{
		{chose.Customer.ID, followup.Recall, "weil Sie „Sehtest-Erinnerung“ gewählt haben", "Kontaktlinsen gekauft"},
		{bought.Customer.ID, followup.Recall, "weil Sie bei uns Kontaktlinsen gekauft haben (§ 7 Abs. 3 UWG). Sie können dem jederzeit widersprechen", "gewählt haben"},
		{chose.Customer.ID, followup.ThankYou, "weil Sie „Angebote und Neuheiten“ per E-Mail gewählt haben", "weil Sie bei uns gekauft haben"},
		{bought.Customer.ID, followup.ThankYou, "Unseren Service-Hinweis erhalten Sie, weil Sie bei uns gekauft haben (§ 7 Abs. 3 UWG)", "gewählt haben"},
	} {
		got := text(c.id, c.kind)
		if !strings.Contains(got, c.want) || strings.Contains(got, c.not) {
			t.Errorf("%s mail to %d: want %q, not %q:\n%s", c.kind, c.id, c.want, c.not, got)
		}
	}
}
