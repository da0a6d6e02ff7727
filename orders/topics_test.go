package orders_test

import (
	"context"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
)

// Consent per channel and topic: the chosen topics apply to
// the chosen channels; a customer with e-mail consent for offers only is
// not contactable for the eye test; one topic off leaves the others;
// "withdraw all" still withdraws everything.
func TestConsentPerTopic(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if err := db.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	in := sampleOrder(t)
	in.Consent.Channels = map[consent.Channel]bool{consent.Email: true, consent.Post: true}
	in.Consent.Topics = map[string]bool{consent.TopicEyeTest: true, consent.TopicEvents: true}
	p, err := db.PlaceOrder(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	id := p.Customer.ID
	grants := 0
	for _, e := range p.Events {
		if e.Action == consent.Grant && e.Channel != consent.HealthData {
			grants++
			if e.Topic != consent.TopicEyeTest && e.Topic != consent.TopicEvents {
				t.Errorf("grant for topic %q", e.Topic)
			}
		}
	}
	if grants != 4 {
		t.Errorf("%d grants, want 2 channels × 2 topics", grants)
	}
	byTopic, _ := db.ConsentTopics(ctx, id)
	if byTopic[consent.Email][consent.TopicEyeTest].State != consent.Granted || byTopic[consent.Email][consent.TopicOffers].State != consent.None {
		t.Errorf("e-mail by topic: %+v", byTopic[consent.Email])
	}
	// Another customer: e-mail for offers only (an API order without topics).
	only := sampleOrder(t)
	only.Customer.Email, only.Customer.Mobile = "nur.angebote@example.org", ""
	only.Consent.Channels = map[consent.Channel]bool{consent.Email: true}
	o, err := db.PlaceOrder(ctx, only)
	if err != nil {
		t.Fatal(err)
	}
	eye, err := db.ContactableFor(ctx, consent.Email, consent.TopicEyeTest)
	if err != nil {
		t.Fatal(err)
	}
	if len(eye) != 1 || eye[0].CustomerID != id {
		t.Errorf("contactable for the eye test: %+v (the offers-only customer %d must not be there)", eye, o.Customer.ID)
	}
	if offers, _ := db.Contactable(ctx, consent.Email); len(offers) != 1 || offers[0].CustomerID != o.Customer.ID {
		t.Errorf("contactable for offers: %+v", offers)
	}

	// One topic off on the preference page: that topic only, no block.
	// One on: through a link it waits for the double opt-in to the
	// address (a link is not the customer).
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: id, Source: consent.PreferencePage, ByCustomer: true,
		Cells: map[consent.Channel]map[string]bool{consent.Email: {consent.TopicEvents: false, consent.TopicOffers: true}}}); err != nil {
		t.Fatal(err)
	}
	byTopic, _ = db.ConsentTopics(ctx, id)
	if byTopic[consent.Email][consent.TopicEvents].State != consent.Withdrawn || byTopic[consent.Email][consent.TopicEyeTest].State != consent.Granted ||
		byTopic[consent.Email][consent.TopicOffers].State != consent.Pending || byTopic[consent.Post][consent.TopicEvents].State != consent.Granted {
		t.Errorf("after one cell off and one on: %+v / %+v", byTopic[consent.Email], byTopic[consent.Post])
	}
	c, _ := db.Customer(ctx, id)
	if blocked, _ := db.BlockedChannels(ctx, c); blocked[consent.Email] {
		t.Error("a single topic off put the address on the blocking list")
	}
	// Withdraw all: every topic of every channel.
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: id, Source: consent.PreferencePage, ByCustomer: true, Object: true,
		Channels: map[consent.Channel]bool{consent.Email: false, consent.Post: false, consent.SMS: false, consent.Phone: false}}); err != nil {
		t.Fatal(err)
	}
	byTopic, _ = db.ConsentTopics(ctx, id)
	for _, ch := range []consent.Channel{consent.Email, consent.Post} {
		for topic, st := range byTopic[ch] {
			if st.State == consent.Granted || st.State == consent.Pending {
				t.Errorf("%s/%s still %s after withdraw all", ch, topic, st.State)
			}
		}
	}

	// Bad topics change nothing.
	bad := sampleOrder(t)
	bad.Customer.Email = "bad.topics@example.org"
	bad.Consent.Topics = map[string]bool{"yoga": true}
	if _, err := db.PlaceOrder(ctx, bad); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Errorf("unknown topic: %v", err)
	}
	bad.Consent.Topics = map[string]bool{consent.TopicOffers: false}
	if _, err := db.PlaceOrder(ctx, bad); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Errorf("channels without any topic: %v", err)
	}
	if v, _ := db.Verify(ctx); !v.OK {
		t.Errorf("ledger: %+v", v)
	}
}

// Events from before topics count as offers, and the chain that holds
// them still verifies: the topic is hashed only when set.
func TestEventsBeforeTopicsCountAsOffers(t *testing.T) {
	old := []consent.Event{{Channel: consent.Email, Action: consent.Grant, OptInLevel: consent.SingleOptIn, CreatedAt: "1"}}
	if consent.Derive(old)[consent.Email].State != consent.Granted || consent.DeriveTopic(old, consent.TopicEyeTest)[consent.Email].State != consent.None {
		t.Error("a grant from before topics is not offers alone")
	}
	withTopic := old[0]
	withTopic.Topic = consent.TopicOffers
	if withTopic.ComputeHash() == old[0].ComputeHash() {
		t.Error("the topic is not hashed")
	}
}

// Recalls: the eye test is due the store's months after the
// last measuring day, for customers with consent for that topic on a
// channel; a customer with e-mail consent for offers only is not
// recalled; contact lenses are due before the supply ends, also under
// §7(3) UWG by e-mail where the store enabled it; nobody twice in one
// period.
func TestRecalls(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if err := db.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	order := func(email string, topics map[string]bool, measured string, supply int64) int64 {
		t.Helper()
		in := sampleOrder(t)
		in.Customer.Email, in.Customer.Mobile = email, ""
		in.Consent.Channels = map[consent.Channel]bool{consent.Email: len(topics) > 0}
		in.Consent.Topics = topics
		if topics == nil {
			// Never asked: a paper order whose sheet was not transferred.
			in.Consent = orders.ConsentInput{Mode: orders.ModePaper}
		} else if len(topics) == 0 {
			in.Consent.Topics = nil // asked at the tablet, every switch left off
		}
		in.Prescription.MeasuredOn = measured
		if measured == "" {
			in.Prescription = nil
			in.Consent.HealthData = false
		}
		if supply > 0 {
			in.Items[0].SupplyDays = supply
		}
		p, err := db.PlaceOrder(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return p.Customer.ID
	}
	longAgo := now.AddDate(0, -25, 0).Format("2006-01-02")
	due := order("faellig@example.org", map[string]bool{consent.TopicEyeTest: true}, longAgo, 0)
	order("nur.angebote@example.org", map[string]bool{consent.TopicOffers: true}, longAgo, 0)
	order("frisch@example.org", map[string]bool{consent.TopicEyeTest: true}, now.AddDate(0, -10, 0).Format("2006-01-02"), 0)

	list, err := db.Recalls(ctx, consent.TopicEyeTest)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].CustomerID != due || len(list[0].Channels) != 1 || list[0].Channels[0] != consent.Email || list[0].Since != longAgo {
		t.Fatalf("eye test recalls: %+v", list)
	}
	// A recall sent is a use of the topic: not again in this period.
	if _, err := db.RecordUse(ctx, orders.Use{CustomerID: due, Channel: consent.Email, Topic: consent.TopicEyeTest, Note: "recall"}); err != nil {
		t.Fatal(err)
	}
	if list, _ := db.Recalls(ctx, consent.TopicEyeTest); len(list) != 0 {
		t.Errorf("recalled twice: %+v", list)
	}

	// Contact lenses: 90 days of supply bought 85 days ago, 7 days' lead.
	setClock(db, func() time.Time { return now.AddDate(0, 0, -85) })
	lenses := order("linsen@example.org", map[string]bool{consent.TopicContactLenses: true}, "", 90)
	uwg := order("kunde.ohne.einwilligung@example.org", nil, "", 90)
	asked := order("gefragt.nein@example.org", map[string]bool{}, "", 90)
	setClock(db, time.Now)
	list, _ = db.Recalls(ctx, consent.TopicContactLenses)
	// The day of the sale is a day in Berlin: 85 days back from a
	// winter evening after 23:00 there is already the next day in summer
	// time, so the days are counted on Berlin's calendar, as the store's.
	if len(list) != 1 || list[0].CustomerID != lenses || list[0].DueOn != now.AddDate(0, 0, -85).In(orders.Berlin).AddDate(0, 0, 83).Format("2006-01-02") {
		t.Errorf("contact lens recalls: %+v", list)
	}
	// §7(3) UWG, once the store enables it: e-mail to the address given
	// with the sale, for similar goods, without consent.
	ctrl, _ := db.Controller(ctx)
	ctrl.ExistingCustomerAds = true
	if _, err := db.SaveSettings(ctx, ctrl, 0); err != nil {
		t.Fatal(err)
	}
	list, _ = db.Recalls(ctx, consent.TopicContactLenses)
	found := false
	for _, r := range list {
		found = found || (r.CustomerID == uwg && r.UWG73)
	}
	if !found {
		t.Errorf("no §7(3) UWG recall for the customer without consent: %+v", list)
	}
	// Asked at the counter and left the switch off: no other basis after
	// asking (EDPB Guidelines 05/2020, §6), so no §7(3) UWG recall.
	for _, r := range list {
		if r.CustomerID == asked {
			t.Errorf("a §7(3) UWG recall for a customer who said no at the counter: %+v", r)
		}
	}
	if list, _ := db.Recalls(ctx, consent.TopicEyeTest); len(list) != 0 {
		t.Errorf("§7(3) UWG must not carry an eye test recall: %+v", list)
	}
	if _, err := db.Recalls(ctx, consent.TopicOffers); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Errorf("recalls for offers: %v", err)
	}
}
