package orders

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
)

// Contactable is one line of a channel's export for a campaign.
type Contactable struct {
	CustomerID    int64
	Salutation    string
	FirstName     string
	LastName      string
	Contact       string // the address or number for this channel
	Street        string // the postal address, split for a mail merge
	PostalCode    string
	City          string
	Lang          string
	ConsentDate   string // when the consent took effect (for e-mail: its confirmation)
	OptInLevel    consent.OptInLevel
	NoticeVersion string
	// LegalBasis is consent, or legitimate_interest for letters where the
	// store chose it (recital 47): then there is no consent date.
	LegalBasis consent.LegalBasis
}

// Contactable lists the customers who may be contacted on ch now: the
// channel is granted (an e-mail consent that waits for its double opt-in
// is pending, not granted), the customer is not erased and has an
// address or number for it, and that contact is not on the blocking list. Prescriptions are never read here: health
// data must not select marketing recipients (GDPR Art. 9).
func (db *DB) Contactable(ctx context.Context, ch consent.Channel) ([]Contactable, error) {
	return db.ContactableFor(ctx, ch, consent.TopicOffers)
}

// ContactableFor is Contactable for one topic: the consent must cover
// that topic on that channel. Letters on legitimate interest are for
// offers only; every other topic needs its consent.
func (db *DB) ContactableFor(ctx context.Context, ch consent.Channel, topic string) ([]Contactable, error) {
	if !ch.Valid() {
		return nil, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"channel": "err.channel_invalid"}}
	}
	ctrl, err := consent.LoadSettings(ctx, db.sql)
	if err != nil {
		return nil, err
	}
	if _, ok := ctrl.Topic(topic); !ok {
		return nil, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"topic": "err.topic_unknown"}}
	}
	all, err := consent.AllStatesFor(ctx, db.sql, topic)
	if err != nil {
		return nil, err
	}
	basis := ctrl.BasisOf(ch)
	if topic != consent.TopicOffers {
		basis = consent.BasisConsent
	}
	var ids []int64
	if basis == consent.BasisLegitimateInterest {
		// Letters on legitimate interest: every customer with an address
		// who has not objected (Art. 21(3)), except those asked for a post
		// consent before the switch who did not give it (EDPB 05/2020:
		// no switching of the basis afterwards).
		if ids, err = consent.IDs(ctx, db.sql, `SELECT c.id FROM customers c WHERE c.erased_at = ''
			AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.created_at < ?)`, ctrl.PostBasisSince); err != nil {
			return nil, err
		}
		listed := make(map[int64]bool, len(ids)) // not slices.Contains: quadratic at a chain's size
		for _, id := range ids {
			listed[id] = true
		}
		for id, states := range all {
			if states[ch].State == consent.Granted && !listed[id] {
				ids = append(ids, id)
			}
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		kept := ids[:0]
		for _, id := range ids {
			if all[id][ch].State != consent.Withdrawn {
				kept = append(kept, id)
			}
		}
		ids = kept
	} else {
		for id, states := range all {
			if states[ch].State == consent.Granted {
				ids = append(ids, id)
			}
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := []Contactable{}
	for _, id := range ids {
		c, err := getCustomer(ctx, db.sql, id)
		if err != nil {
			if consentdesk.ErrorCode(err) == consentdesk.NotFound {
				continue
			}
			return nil, err
		}
		contact := c.Contact(ch)
		if c.Erased() || contact == "" {
			continue
		}
		if all[id][ch].State != consent.Granted && c.Child(db.Now()) {
			// No letter on legitimate interest to a child (GDPR Art.
			// 6(1)(f) "in particular where the data subject is a child",
			// recital 38): only what a parent consented to.
			continue
		}
		// A contact on the blocking list is never exported, even on a
		// second record of the same person that still shows a grant
		// (§35(3) BDSG, Art. 21(3)).
		if b, err := db.blocked(ctx, db.sql, c, ch); err != nil {
			return nil, err
		} else if b {
			continue
		}
		st := all[id][ch]
		out = append(out, Contactable{CustomerID: c.ID, Salutation: c.Salutation, FirstName: c.FirstName, LastName: c.LastName, Contact: contact,
			Street: c.Street, PostalCode: c.PostalCode, City: c.City,
			Lang: c.Lang, ConsentDate: st.GrantedAt, OptInLevel: st.OptInLevel, NoticeVersion: st.NoticeVersion, LegalBasis: basis})
	}
	return out, nil
}

// Week is one week of the consent-rate chart.
type Week struct {
	Start  time.Time
	Orders int
	// Granted counts the orders at which the customer gave consent for
	// each channel (e-mail counted when given, confirmed or not).
	Granted map[consent.Channel]int
}

// Rate is the share of orders with a consent for ch, 0 to 1.
func (w Week) Rate(ch consent.Channel) float64 {
	if w.Orders == 0 {
		return 0
	}
	return float64(w.Granted[ch]) / float64(w.Orders)
}

// Due is a consent of one customer and channel that needs attention.
type Due struct {
	CustomerID int64
	Channel    consent.Channel
	Since      string
}

// Dashboard is the back office's overview.
type Dashboard struct {
	OrdersToday int
	Weeks       []Week
	Outbox      map[followup.Status]int
	Pending     []Due // e-mail consents waiting for their confirmation
	Renewal     []Due // granted longer ago than the renewal age
	// TurnedSixteen are consents a parent or guardian gave for a child
	// who has turned 16 since: the young customer decides now, so the
	// consent is to be renewed with them (Art. 8 GDPR by analogy).
	TurnedSixteen []Due
	// OpenBreaches are breaches whose authority notification is not
	// recorded yet, with their 72-hour deadline (Art. 33(1)).
	OpenBreaches  []Breach
	RenewalMonths int
	Customers     int
	Erased        int
}

// Berlin is the store's time zone, for "today" and weeks.
var Berlin = consentdesk.Berlin

// DashboardData gathers the overview. weeks is how many weeks the chart
// shows, ending with the current one.
// keepOwn removes from states every customer not of store.
func keepOwn[V any](ctx context.Context, q consent.Querier, store int64, states map[int64]V) error {
	own, err := consent.IDs(ctx, q, `SELECT id FROM customers WHERE store_id = ?`, store)
	if err != nil {
		return err
	}
	mine := make(map[int64]bool, len(own))
	for _, id := range own {
		mine[id] = true
	}
	for id := range states {
		if !mine[id] {
			delete(states, id)
		}
	}
	return nil
}

func (db *DB) DashboardData(ctx context.Context, weeks int) (Dashboard, error) {
	now := db.Now().In(Berlin)
	d := Dashboard{}
	ctrl, err := consent.LoadController(ctx, db.sql)
	if err != nil {
		return d, err
	}
	d.RenewalMonths = ctrl.Renewal()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, Berlin)
	// Where each store is its own controller, its figures and lists are
	// its own (franchise.go).
	store, scoped, err := ownStore(ctx, db.sql)
	if err != nil {
		return d, err
	}
	where, args, err := storeScope(ctx, db.sql, "store_id")
	if err != nil {
		return d, err
	}
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders WHERE created_at >= ?`+where, append([]any{Stamp(today)}, args...)...).Scan(&d.OrdersToday); err != nil {
		return d, err
	}
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(CASE WHEN erased_at <> '' THEN 1 END) FROM customers WHERE true`+where, args...).Scan(&d.Customers, &d.Erased); err != nil {
		return d, err
	}

	// Weeks start on Monday.
	monday := today.AddDate(0, 0, -((int(today.Weekday()) + 6) % 7))
	first := monday.AddDate(0, 0, -7*(weeks-1))
	d.Weeks = make([]Week, weeks)
	for i := range d.Weeks {
		d.Weeks[i] = Week{Start: first.AddDate(0, 0, 7*i), Granted: map[consent.Channel]int{}}
	}
	weekOf := func(stamp string) int {
		t, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			return -1
		}
		t = t.In(Berlin)
		for i := len(d.Weeks) - 1; i >= 0; i-- {
			if !t.Before(d.Weeks[i].Start) {
				return i
			}
		}
		return -1
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT created_at FROM orders WHERE created_at >= ?`+where, append([]any{Stamp(first)}, args...)...)
	if err != nil {
		return d, err
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return d, err
		}
		if i := weekOf(s); i >= 0 {
			d.Weeks[i].Orders++
		}
	}
	rows.Close()
	// A read join with consent's ledger: which orders brought a grant is
	// one question across both tables.
	oWhere, oArgs, err := storeScope(ctx, db.sql, "o.store_id")
	if err != nil {
		return d, err
	}
	rows, err = db.sql.QueryContext(ctx, `SELECT DISTINCT o.created_at, e.channel, o.id FROM consent_events e JOIN orders o ON o.id = e.order_id
		WHERE e.action = 'grant' AND o.created_at >= ? AND e.channel IN ('post', 'email', 'sms', 'phone')`+oWhere, append([]any{Stamp(first)}, oArgs...)...)
	if err != nil {
		return d, err
	}
	for rows.Next() {
		var s string
		var ch consent.Channel
		var id int64
		if err := rows.Scan(&s, &ch, &id); err != nil {
			rows.Close()
			return d, err
		}
		if i := weekOf(s); i >= 0 {
			d.Weeks[i].Granted[ch]++
		}
	}
	rows.Close()

	if d.Outbox, err = followup.Counts(ctx, db.sql, store); err != nil {
		return d, err
	}
	all, err := consent.AllStates(ctx, db.sql)
	if err != nil {
		return d, err
	}
	if scoped {
		if err := keepOwn(ctx, db.sql, store, all); err != nil {
			return d, err
		}
	}
	renewBefore := Stamp(db.Now().AddDate(0, -d.RenewalMonths, 0))
	for id, states := range all {
		for _, ch := range consent.Channels {
			st := states[ch]
			switch {
			case st.State == consent.Pending:
				d.Pending = append(d.Pending, Due{CustomerID: id, Channel: ch, Since: st.UpdatedAt})
			case d.RenewalMonths > 0 && st.State == consent.Granted && st.GrantedAt != "" && st.GrantedAt < renewBefore:
				d.Renewal = append(d.Renewal, Due{CustomerID: id, Channel: ch, Since: st.GrantedAt})
			}
		}
	}
	if d.OpenBreaches, err = db.OpenBreaches(ctx); err != nil {
		return d, err
	}
	grown, err := db.turnedSixteen(ctx)
	if err != nil {
		return d, err
	}
	for _, id := range grown {
		if _, ok := all[id]; !ok {
			continue // another store's, where each is its own controller
		}
		for _, ch := range consent.Channels {
			if st := all[id][ch]; st.State == consent.Granted && st.Representative != "" {
				d.TurnedSixteen = append(d.TurnedSixteen, Due{CustomerID: id, Channel: ch, Since: st.GrantedAt})
			}
		}
	}
	byAge := func(l []Due) {
		sort.Slice(l, func(i, j int) bool {
			if l[i].Since != l[j].Since {
				return l[i].Since < l[j].Since
			}
			return fmt.Sprint(l[i].CustomerID, l[i].Channel) < fmt.Sprint(l[j].CustomerID, l[j].Channel)
		})
	}
	byAge(d.Pending)
	byAge(d.Renewal)
	return d, nil
}

// turnedSixteen lists the customers with a date of birth who are 16 or
// older today.
func (db *DB) turnedSixteen(ctx context.Context) ([]int64, error) {
	now := db.Now()
	rows, err := db.sql.QueryContext(ctx, `SELECT `+CustomerColumns+` FROM customers WHERE birth_date <> '' AND erased_at = ''`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		c, err := ScanCustomer(rows)
		if err != nil {
			return nil, err
		}
		if !c.Child(now) {
			out = append(out, c.ID)
		}
	}
	return out, rows.Err()
}
