package consent

import (
	"regexp"
	"strings"

	"github.com/consentdesk/consentdesk"
)

// A Topic is what a customer may hear about on a channel: consent is
// given per channel and topic ("Yoga? Gladly. Rheumatism blankets? No,
// thanks"; GDPR Art. 6(1)(a), 7: specific). The store keeps the list;
// the notice names it.
type Topic struct {
	Key    string `json:"key"`
	NameDE string `json:"name_de"`
	NameEN string `json:"name_en"`
	DescDE string `json:"description_de"`
	DescEN string `json:"description_en"`
}

// Name is the topic's name in lang.
func (t Topic) Name(lang string) string {
	if lang == "en" && t.NameEN != "" {
		return t.NameEN
	}
	return t.NameDE
}

// Description is the topic's one sentence in lang.
func (t Topic) Description(lang string) string {
	if lang == "en" && t.DescEN != "" {
		return t.DescEN
	}
	return t.DescDE
}

// The topic keys ConsentDesk itself knows: recalls use eye_test and
// contact_lenses; offers is what every consent meant before topics
// existed.
const (
	TopicEyeTest       = "eye_test"
	TopicContactLenses = "contact_lenses"
	TopicOffers        = "offers"
	TopicEvents        = "events"
	// AllTopics is the topic of an event that covers every topic of its
	// channel: "withdraw all", an objection, an erasure, the blocking
	// list, the confirmation of a double opt-in.
	AllTopics = "*"
)

// DefaultTopics are a new store's topics.
var DefaultTopics = []Topic{
	{Key: TopicEyeTest, NameDE: "Sehtest-Erinnerung", NameEN: "Eye test reminder",
		DescDE: "Wir erinnern Sie, wenn Ihr letzter Sehtest länger zurückliegt.", DescEN: "We remind you when your last eye test was a while ago."},
	{Key: TopicContactLenses, NameDE: "Kontaktlinsen-Nachbestellung", NameEN: "Contact lens reorder reminder",
		DescDE: "Wir erinnern Sie, bevor Ihr Vorrat an Kontaktlinsen aufgebraucht ist.", DescEN: "We remind you before your supply of contact lenses runs out."},
	{Key: TopicOffers, NameDE: "Angebote und Neuheiten", NameEN: "Offers and news",
		DescDE: "Aktionen, neue Kollektionen und Angebote unseres Geschäfts.", DescEN: "Promotions, new collections and offers of our store."},
	{Key: TopicEvents, NameDE: "Veranstaltungen im Geschäft", NameEN: "Events in the store",
		DescDE: "Einladungen zu Veranstaltungen bei uns, etwa Brillen-Modenschauen.", DescEN: "Invitations to events in our store, such as eyewear shows."},
}

// TopicList is the store's topics, or the defaults.
func (c Controller) TopicList() []Topic {
	if len(c.Topics) == 0 {
		return DefaultTopics
	}
	return c.Topics
}

// Topic finds a topic of the store by key.
func (c Controller) Topic(key string) (Topic, bool) {
	for _, t := range c.TopicList() {
		if t.Key == key {
			return t, true
		}
	}
	return Topic{}, false
}

// TopicKeys are the store's topic keys, in order.
func (c Controller) TopicKeys() []string {
	var keys []string
	for _, t := range c.TopicList() {
		keys = append(keys, t.Key)
	}
	return keys
}

var topicKey = regexp.MustCompile(`^[a-z][a-z0-9_]{1,30}$`)

// validateTopics checks the store's list: keys of lower-case letters,
// digits and _, unique; a name and a sentence in both languages; offers
// always there (every consent before topics means it).
func validateTopics(f consentdesk.FieldErrors, topics []Topic) {
	if len(topics) == 0 {
		return // the defaults
	}
	seen := map[string]bool{}
	offers := false
	for _, t := range topics {
		switch {
		case !topicKey.MatchString(t.Key):
			f.Add("topics", "err.topic_key")
		case seen[t.Key]:
			f.Add("topics", "err.topic_duplicate")
		case strings.TrimSpace(t.NameDE) == "" || strings.TrimSpace(t.NameEN) == "" || strings.TrimSpace(t.DescDE) == "" || strings.TrimSpace(t.DescEN) == "":
			f.Add("topics", "err.topic_text")
		}
		seen[t.Key] = true
		offers = offers || t.Key == TopicOffers
	}
	if !offers {
		f.Add("topics", "err.topic_offers")
	}
	if len(topics) > 8 {
		f.Add("topics", "err.topic_many")
	}
}

// EyeTestRecallMonths is how long after the last measuring the eye test
// recall is due (default 24).
func (c Controller) EyeTestRecallMonths() int { return orDefault(c.EyeTestMonths, 24) }

// ContactLensLead is how many days before a contact-lens supply ends the
// reorder recall is due (default 7).
func (c Controller) ContactLensLead() int { return orDefault(c.ContactLensLeadDays, 7) }
