package pos

import (
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
)

// cellGrid is a customer's consent as the back office shows it: one row
// per channel, one column per topic, each cell with its own state. A
// channel's single word ("E-Mail: widerrufen") would hide a topic that
// still stands, and a recall sent on it.
type cellGrid struct {
	Lang   string
	Topics []consent.Topic
	Rows   []cellGridRow
}

type cellGridRow struct {
	Channel consent.Channel
	Contact string
	Blocked bool // the contact is on the blocking list (§35(3) BDSG)
	Cells   []cellGridCell
}

type cellGridCell struct {
	Topic string
	consent.ChannelState
}

// newCellGrid builds the grid from the state per channel and topic.
func newCellGrid(ctrl consent.Controller, lang string, cust orders.Customer, byTopic map[consent.Channel]map[string]consent.ChannelState, blocked map[consent.Channel]bool) cellGrid {
	g := cellGrid{Lang: lang, Topics: ctrl.TopicList()}
	for _, ch := range consent.Channels {
		row := cellGridRow{Channel: ch, Contact: cust.Contact(ch), Blocked: blocked[ch]}
		for _, t := range g.Topics {
			st := byTopic[ch][t.Key]
			if st.State == "" {
				st.State = consent.None
			}
			row.Blocked = row.Blocked || st.Blocked
			row.Cells = append(row.Cells, cellGridCell{Topic: t.Key, ChannelState: st})
		}
		g.Rows = append(g.Rows, row)
	}
	return g
}
