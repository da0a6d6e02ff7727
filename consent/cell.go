package consent

import (
	"slices"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
)

// Cell is the unit of consent: how (a channel) and about what (a topic).
// The customer grants or refuses each cell on its own; no screen applies
// every chosen topic to every chosen channel (GDPR Art. 6(1)(a), 7(4),
// recital 43: specific, and separate purposes separately).
type Cell struct {
	Channel Channel `json:"channel"`
	Topic   string  `json:"topic"`
}

// Key is "channel:topic", the value of a cell's box in the forms.
func (c Cell) Key() string { return string(c.Channel) + ":" + c.Topic }

// ParseCell reads a cell's key; ok is false for anything else.
func ParseCell(key string) (Cell, bool) {
	ch, t, ok := strings.Cut(key, ":")
	if !ok || !Channel(ch).Valid() || !topicKey.MatchString(t) {
		return Cell{}, false
	}
	return Cell{Channel(ch), t}, true
}

// Cells checks the cells a customer chose, given per channel as the
// topics' keys ({"email": ["eye_test"]}), and lists them in the order
// they are shown: channel by channel, topics in the store's order. An
// unknown channel or topic is a field error under field; a channel given
// with no topic chooses nothing.
func (c Controller) Cells(f consentdesk.FieldErrors, field string, byChannel map[Channel][]string) []Cell {
	for ch, topics := range byChannel {
		if !ch.Valid() {
			f.Add(field+"."+string(ch), "err.channel_unknown")
			continue
		}
		for _, t := range topics {
			if _, ok := c.Topic(t); !ok {
				f.Add(field+"."+string(ch), "err.topic_unknown")
			}
		}
	}
	var out []Cell
	for _, ch := range Channels {
		for _, t := range c.TopicKeys() {
			if slices.Contains(byChannel[ch], t) {
				out = append(out, Cell{ch, t})
			}
		}
	}
	return out
}

// CrossCells is the older shorthand: every topic on every channel given
// (true). It stays for the API's "channels" with "topics"; no screen of
// the customer's uses it.
func CrossCells(channels map[Channel]bool, topics []string) []Cell {
	var out []Cell
	for _, ch := range Channels {
		if channels[ch] {
			for _, t := range topics {
				out = append(out, Cell{ch, t})
			}
		}
	}
	return out
}

// AskedCells are the cells a customer is shown at the counter or on the
// paper form: every topic of each channel with a contact. Post is left
// out where letters rest on legitimate interest: there is no box for
// it, only the right to object.
func (c Controller) AskedCells(contact func(Channel) string) []Cell {
	var out []Cell
	for _, ch := range Channels {
		if contact(ch) == "" || (ch == Post && c.PostOnLegitimateInterest()) {
			continue
		}
		for _, t := range c.TopicKeys() {
			out = append(out, Cell{ch, t})
		}
	}
	return out
}

// TopicName is a topic's name in lang: the store's, or for a topic the
// store has since removed, its key; events from before topics mean
// offers, and AllTopics is every topic of the channel.
func (c Controller) TopicName(lang, key string) string {
	switch key {
	case "":
		key = TopicOffers
	case AllTopics:
		return assets.T(lang, "cell.all_topics")
	}
	if t, ok := c.Topic(key); ok {
		return t.Name(lang)
	}
	for _, t := range DefaultTopics {
		if t.Key == key {
			return t.Name(lang)
		}
	}
	return key
}

// CellLabel is a cell in a few words, for a screen's switch or a list:
// "Sehtest-Erinnerung per E-Mail an a•••@example.de". contact is the
// address or number as it is to be shown ("" leaves it out).
func (c Controller) CellLabel(lang string, cell Cell, contact string) string {
	s := assets.T(lang, "cell.label."+string(cell.Channel), c.TopicName(lang, cell.Topic))
	if contact != "" {
		s += " " + assets.T(lang, "cell.to."+string(cell.Channel), contact)
	}
	return s
}

// CellPledge is the sentence a customer signs for one cell, in the first
// person (Art. 7(2): intelligible, plain language, one purpose per box):
// "Ich möchte von Optik Muster „Sehtest-Erinnerung“ per E-Mail an
// anna@example.de erhalten." It names the cell's topic and nothing else.
func (c Controller) CellPledge(lang string, cell Cell, contact string) string {
	return assets.T(lang, "cell.pledge."+string(cell.Channel), c.Name, c.TopicName(lang, cell.Topic), contact)
}

// TopicsText names topics for a sentence: "Sehtest-Erinnerung und
// Angebote und Neuheiten", each in quotation marks where there is more
// than one, so that a topic's own "und" cannot blur the list.
func (c Controller) TopicsText(lang string, topics []string) string {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = c.TopicName(lang, t)
		if len(topics) > 1 {
			names[i] = assets.T(lang, "cell.quoted", names[i])
		}
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " " + assets.T(lang, "cell.and") + " " + names[len(names)-1]
}

// CellState is one cell's state.
type CellState struct {
	Cell
	ChannelState
}

// OrderCells is what an order's consent block prints, from the
// customer's events: the cells granted with the order, the cells shown
// with it and left off (declined), and the cells granted before that
// still stood when the order was placed. A customer's standing consents
// are printed on every confirmation, so that no paper says "no consent"
// while a recall is sent on an older one.
func OrderCells(events []Event, orderID int64, placedAt time.Time, topics []string) (chosen, declined, standing []CellState) {
	// The events up to the order's commit: its own, and what came before.
	n := 0
	for i, e := range events {
		t, err := time.Parse(time.RFC3339Nano, e.CreatedAt)
		if e.OrderID == orderID || (err == nil && !t.After(placedAt)) {
			n = i + 1
		}
	}
	var mine, before []Event
	for _, e := range events[:n] {
		if e.OrderID == orderID && e.Channel.Valid() {
			mine = append(mine, e)
		} else {
			before = append(before, e)
		}
	}
	events = events[:n]
	all := EventTopics(events, topics)
	now := DeriveTopics(events, all)
	was := DeriveTopics(before, all)
	chosenHere := map[Cell]bool{}
	declinedHere := map[Cell]bool{}
	for _, e := range mine {
		cell := Cell{e.Channel, EventTopic(e)}
		switch e.Action {
		case Grant:
			chosenHere[cell] = true
		case Decline:
			declinedHere[cell] = true
		}
	}
	for _, ch := range Channels {
		for _, t := range all {
			cell, st := Cell{ch, t}, now[ch][t]
			on := st.State == Granted || st.State == Pending
			switch {
			case chosenHere[cell] && on:
				chosen = append(chosen, CellState{cell, st})
			case declinedHere[cell]:
				declined = append(declined, CellState{cell, st})
			case on && (was[ch][t].State == Granted || was[ch][t].State == Pending):
				standing = append(standing, CellState{cell, st})
			}
		}
	}
	return chosen, declined, standing
}
