package consent_test

import (
	"strings"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/consent"
)

// Every sentence beside a switch, a box or a signature is made from its
// cell and names that cell's topic on that cell's channel, and no other
// topic (GDPR Art. 7(2), recital 43). A builder that said "offers" for
// every cell, or dropped the topic, fails here.
func TestCellSentencesNameTheirOwnTopic_Art7(t *testing.T) {
	ctrl := consent.DefaultController()
	channelWords := map[string]map[consent.Channel]string{
		"de": {consent.Post: "per Brief", consent.Email: "per E-Mail", consent.SMS: "per SMS", consent.Phone: "Anruf"},
		"en": {consent.Post: "by post", consent.Email: "by e-mail", consent.SMS: "by text message", consent.Phone: "phone call"},
	}
	pledgeWords := map[string]map[consent.Channel]string{
		"de": {consent.Post: "per Brief", consent.Email: "per E-Mail", consent.SMS: "per SMS", consent.Phone: "anruft"},
		"en": {consent.Post: "by letter", consent.Email: "by e-mail", consent.SMS: "by text message", consent.Phone: "may call me"},
	}
	for _, lang := range []string{"de", "en"} {
		for _, ch := range consent.Channels {
			for _, topic := range ctrl.TopicList() {
				cell := consent.Cell{Channel: ch, Topic: topic.Key}
				label := ctrl.CellLabel(lang, cell, "a•••@example.de")
				pledge := ctrl.CellPledge(lang, cell, "anna@example.de")
				for what, s := range map[string]string{"label": label, "pledge": pledge} {
					if !strings.Contains(s, topic.Name(lang)) {
						t.Errorf("%s %s of %s does not name its topic: %q", lang, what, cell.Key(), s)
					}
					for _, other := range ctrl.TopicList() {
						if other.Key != topic.Key && strings.Contains(s, other.Name(lang)) {
							t.Errorf("%s %s of %s names another topic %q: %q", lang, what, cell.Key(), other.Name(lang), s)
						}
					}
				}
				if !strings.Contains(label, channelWords[lang][ch]) || !strings.Contains(label, "a•••@example.de") {
					t.Errorf("%s label of %s: %q", lang, cell.Key(), label)
				}
				if !strings.Contains(pledge, pledgeWords[lang][ch]) || !strings.Contains(pledge, "anna@example.de") || !strings.Contains(pledge, ctrl.Name) {
					t.Errorf("%s pledge of %s: %q", lang, cell.Key(), pledge)
				}
			}
		}
	}
	if got := ctrl.CellLabel("de", consent.Cell{Channel: consent.Email, Topic: consent.TopicEyeTest}, "a•••@example.de"); got != "Sehtest-Erinnerung per E-Mail an a•••@example.de" {
		t.Errorf("label = %q", got)
	}
	if got := ctrl.TopicsText("de", []string{consent.TopicEyeTest, consent.TopicContactLenses, consent.TopicOffers}); got != "„Sehtest-Erinnerung“, „Kontaktlinsen-Nachbestellung“ und „Angebote und Neuheiten“" {
		t.Errorf("topics = %q", got)
	}
}

// A decline (a cell shown and left off) changes no state, but marks the
// cell as asked; §7(3) UWG then never applies to it (EDPB Guidelines
// 05/2020, §6), nor to a child (recital 38). A later grant lifts it.
func TestDeclineIsAskedAndChangesNoState_UWG7_3(t *testing.T) {
	ctrl := consent.DefaultController()
	ctrl.ExistingCustomerAds = true
	decline := consent.Event{Channel: consent.Email, Action: consent.Decline, Topic: consent.TopicContactLenses, CreatedAt: "t1"}
	st := consent.DeriveTopic([]consent.Event{decline}, consent.TopicContactLenses)[consent.Email]
	if st.State != consent.None || !st.Declined || st.UpdatedAt != "" {
		t.Fatalf("after a decline: %+v", st)
	}
	if ctrl.MayAdvertiseByEmail(st, true, false) {
		t.Error("§7(3) UWG after the customer said no to that cell")
	}
	if other := consent.DeriveTopic([]consent.Event{decline}, consent.TopicOffers)[consent.Email]; other.Declined || !ctrl.MayAdvertiseByEmail(other, true, false) {
		t.Errorf("a decline of one topic reached another: %+v", other)
	}
	if ctrl.MayAdvertiseByEmail(consent.ChannelState{State: consent.None}, true, true) {
		t.Error("§7(3) UWG to a child")
	}
	all := consent.Event{Channel: consent.SMS, Action: consent.Decline, Topic: consent.AllTopics, CreatedAt: "t1"}
	for _, topic := range ctrl.TopicKeys() {
		if s := consent.DeriveTopic([]consent.Event{all}, topic)[consent.SMS]; !s.Declined || s.State != consent.None {
			t.Errorf("a decline of every topic, %s: %+v", topic, s)
		}
	}
	grant := consent.Event{Channel: consent.Email, Action: consent.Grant, OptInLevel: consent.SingleOptIn, Topic: consent.TopicContactLenses, CreatedAt: "t2"}
	if st := consent.DeriveTopic([]consent.Event{decline, grant}, consent.TopicContactLenses)[consent.Email]; st.State != consent.Granted || st.Declined {
		t.Errorf("a grant after a decline: %+v", st)
	}
	// Events from before topics still mean offers.
	old := consent.Event{Channel: consent.Post, Action: consent.Grant, OptInLevel: consent.SingleOptIn, CreatedAt: "t0"}
	if s := consent.DeriveTopic([]consent.Event{old}, consent.TopicOffers)[consent.Post]; s.State != consent.Granted {
		t.Errorf("an event from before topics: %+v", s)
	}
	if s := consent.DeriveTopic([]consent.Event{old}, consent.TopicEyeTest)[consent.Post]; s.State != consent.None {
		t.Errorf("an event from before topics counts for the eye test: %+v", s)
	}
}

// An order's consent block: the cells granted with it, the ones left
// off, and what stood before and still stands; nothing granted later.
func TestOrderCells(t *testing.T) {
	placed := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return placed.Add(d).Format(time.RFC3339Nano) }
	events := []consent.Event{
		{Channel: consent.Email, Action: consent.Grant, OptInLevel: consent.SingleOptIn, Topic: consent.TopicEyeTest, OrderID: 1, CreatedAt: at(-time.Hour)},
		{Channel: consent.Post, Action: consent.Grant, OptInLevel: consent.SingleOptIn, Topic: consent.TopicOffers, OrderID: 1, CreatedAt: at(-time.Hour)},
		{Channel: consent.Post, Action: consent.Withdraw, Topic: consent.TopicOffers, CreatedAt: at(-time.Minute)},
		{Channel: consent.SMS, Action: consent.Grant, OptInLevel: consent.SingleOptIn, Topic: consent.TopicEvents, OrderID: 2, CreatedAt: at(0)},
		{Channel: consent.SMS, Action: consent.Decline, Topic: consent.TopicOffers, OrderID: 2, CreatedAt: at(0)},
		{Channel: consent.Phone, Action: consent.Grant, OptInLevel: consent.SingleOptIn, Topic: consent.TopicOffers, OrderID: 3, CreatedAt: at(time.Hour)},
	}
	chosen, declined, standing := consent.OrderCells(events, 2, placed, consent.DefaultController().TopicKeys())
	key := func(cs []consent.CellState) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Key()+"="+string(c.State))
		}
		return strings.Join(out, " ")
	}
	if key(chosen) != "sms:events=granted" || key(declined) != "sms:offers=none" || key(standing) != "email:eye_test=granted" {
		t.Errorf("chosen %q, declined %q, standing %q", key(chosen), key(declined), key(standing))
	}
}

// The Kantara receipt: one purpose per cell the customer granted, with
// its own state; the policy is the notice, not the home page.
func TestReceiptHasAPurposePerCell_Art7(t *testing.T) {
	ctrl := consent.DefaultController()
	events := []consent.Event{{Seq: 1, Channel: consent.Post, Action: consent.Grant, OptInLevel: consent.SingleOptIn, Topic: consent.TopicEyeTest,
		Source: consent.PaperForm, LegalBasis: consent.BasisConsent, CreatedAt: "2026-12-01T10:00:00Z", NoticeVersionID: "de-1"}}
	r := consent.BuildReceipt(consent.ReceiptInput{Store: ctrl, CustomerID: 7, Lang: "de", Events: events, PreferencesURL: "https://optik.example/p/x",
		T: func(k string, args ...any) string { return k }})
	if len(r.Services) != 1 || len(r.Services[0].Purposes) != 1 {
		t.Fatalf("services %+v", r.Services)
	}
	p := r.Services[0].Purposes[0]
	if p.Purpose != "Sehtest-Erinnerung per Brief" || p.Topic != consent.TopicEyeTest || p.State != consent.Granted {
		t.Errorf("purpose %+v", p)
	}
	if r.PolicyURL != "https://optik.example/p/x#notice" || r.Ledger.Events[0].Topic != consent.TopicEyeTest {
		t.Errorf("policy %q, event %+v", r.PolicyURL, r.Ledger.Events[0])
	}
}
