package orders

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
)

// Recall is a customer due for a recall now, and the channels on which
// they may be reached for that topic.
type Recall struct {
	CustomerID int64             `json:"customer_id"`
	Name       string            `json:"name"`
	Lang       string            `json:"lang"`
	Topic      string            `json:"topic"`
	DueOn      string            `json:"due_on"` // YYYY-MM-DD, store time
	Since      string            `json:"since"`  // the measuring day, or the day the supply was bought
	Channels   []consent.Channel `json:"channels"`
	// UWG73 is set when e-mail is allowed only under §7(3) UWG (contact
	// lenses, the store enabled it, the customer has not objected).
	UWG73 bool `json:"uwg_7_3,omitempty"`
	// since and due are the period's start and its due moment, for
	// SendRecalls to ask again in its transaction.
	since, due time.Time
}

// RecallTopics are the topics ConsentDesk recalls for.
var RecallTopics = []string{consent.TopicEyeTest, consent.TopicContactLenses}

// Recalls lists who is due for a recall of topic now:
//
//   - eye_test: the store's months (default 24) after the last
//     prescription's measuring day;
//   - contact_lenses: the end of the supply of the last contact-lens
//     order, less the store's lead days (default 7).
//
// A customer is listed only with a channel that has consent for that
// topic, a contact, and no entry on the blocking list; for contact lenses
// e-mail also under §7(3) UWG where the store enabled it and the customer
// has not objected. Nobody is recalled twice within the period: a recall
// sent is a use of that topic in the ledger, and one after the due
// period's start ends it. The prescription's values are never read
// (GDPR Art. 9): only the day it was measured, for customers who chose
// this topic.
func (db *DB) Recalls(ctx context.Context, topic string) ([]Recall, error) {
	ctrl, err := consent.LoadSettings(ctx, db.sql)
	if err != nil {
		return nil, err
	}
	if _, ok := ctrl.Topic(topic); !ok || (topic != consent.TopicEyeTest && topic != consent.TopicContactLenses) {
		return nil, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"topic": "err.recall_topic"}}
	}
	today := db.Now().In(Berlin)
	var query string
	switch topic {
	case consent.TopicEyeTest:
		// The last measuring day per customer (a read of the
		// prescriptions' dates only).
		query = `SELECT p.customer_id, MAX(p.measured_on) FROM prescriptions p JOIN customers c ON c.id = p.customer_id
			WHERE c.erased_at = '' AND p.measured_on <> ''%s GROUP BY p.customer_id`
	default:
		// The last order with a supply, and its longest supply.
		query = `SELECT o.customer_id, MAX(o.created_at) FROM orders o JOIN customers c ON c.id = o.customer_id
			WHERE c.erased_at = '' AND EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id AND i.supply_days > 0)%s GROUP BY o.customer_id`
	}
	// Where each store is its own controller, a store recalls its own
	// customers (franchise.go).
	scope, args, err := storeScope(ctx, db.sql, "c.store_id")
	if err != nil {
		return nil, err
	}
	rows, err := db.sql.QueryContext(ctx, fmt.Sprintf(query, scope), args...)
	if err != nil {
		return nil, err
	}
	type cand struct {
		id    int64
		since time.Time
		due   time.Time
	}
	var cands []cand
	for rows.Next() {
		var id int64
		var since string
		if err := rows.Scan(&id, &since); err != nil {
			rows.Close()
			return nil, err
		}
		c := cand{id: id}
		var err error
		if topic == consent.TopicEyeTest {
			if c.since, err = time.ParseInLocation("2006-01-02", since, Berlin); err != nil {
				rows.Close()
				return nil, fmt.Errorf("customer %d: the stored measuring day %q of a prescription is no date: %w", id, since, err)
			}
			c.due = c.since.AddDate(0, ctrl.EyeTestRecallMonths(), 0)
		} else if c.since, err = storedTime(time.RFC3339Nano, since, "customer's last contact-lens order, customer", "created_at", id); err != nil {
			rows.Close()
			return nil, err
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := []Recall{}
	for _, c := range cands {
		if topic == consent.TopicContactLenses {
			var days int64
			if err := db.sql.QueryRowContext(ctx, `SELECT MAX(i.supply_days) FROM order_items i JOIN orders o ON o.id = i.order_id
				WHERE o.customer_id = ? AND o.created_at = ?`, c.id, Stamp(c.since)).Scan(&days); err != nil {
				return nil, err
			}
			c.due = c.since.In(Berlin).AddDate(0, 0, int(days)-ctrl.ContactLensLead())
		}
		if c.due.After(today) {
			continue
		}
		r, ok, err := db.recallOf(ctx, db.sql, ctrl, topic, c.id, c.since, c.due)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].DueOn < out[j].DueOn || out[i].DueOn == out[j].DueOn && out[i].CustomerID < out[j].CustomerID
	})
	return out, nil
}

// recallOf is the recall of topic for one customer due since since, on
// the channels that may carry it now: a channel with consent for that
// topic (or, for contact lenses by e-mail, §7(3) UWG), a contact, and no
// entry on the blocking list. ok is false where none may, or where a
// recall of the topic went out in this period already (a use of the topic
// since the period began). SendRecalls asks again inside its
// transaction, so that what it sends is what holds at that moment.
func (db *DB) recallOf(ctx context.Context, q consent.Querier, ctrl consent.Controller, topic string, id int64, since, due time.Time) (Recall, bool, error) {
	cust, err := getCustomer(ctx, q, id)
	if err != nil {
		return Recall{}, false, err
	}
	if cust.Erased() {
		return Recall{}, false, nil
	}
	events, err := consent.Events(ctx, q, id)
	if err != nil {
		return Recall{}, false, err
	}
	for _, e := range events {
		if e.Action == consent.Use && e.Topic == topic && e.CreatedAt >= Stamp(since) {
			return Recall{}, false, nil
		}
	}
	states := consent.DeriveTopic(events, topic)
	r := Recall{CustomerID: id, Name: cust.Name(), Lang: cust.Lang, Topic: topic, DueOn: due.Format("2006-01-02"),
		Since: since.In(Berlin).Format("2006-01-02"), since: since, due: due}
	for _, ch := range consent.Channels {
		if cust.Contact(ch) == "" {
			continue
		}
		ok := states[ch].State == consent.Granted
		uwg := false
		if !ok && ch == consent.Email && topic == consent.TopicContactLenses && states[ch].State != consent.Withdrawn {
			// §7(3) UWG: similar goods to the address given with the
			// sale, where the store enabled it and no objection stands.
			offers := consent.Derive(events)[consent.Email]
			sale, err := saleAddress(ctx, q, cust)
			if err != nil {
				return Recall{}, false, err
			}
			if offers.State != consent.Withdrawn && ctrl.MayAdvertiseByEmail(states[ch], sale, cust.Child(db.Now())) {
				ok, uwg = true, true
			}
		}
		if !ok {
			continue
		}
		if b, err := db.blocked(ctx, q, cust, ch); err != nil {
			return Recall{}, false, err
		} else if b {
			continue
		}
		r.Channels = append(r.Channels, ch)
		r.UWG73 = r.UWG73 || uwg
	}
	return r, len(r.Channels) > 0, nil
}

// RecallsDue counts the recalls due now per topic, for the dashboard.
func (db *DB) RecallsDue(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, t := range RecallTopics {
		list, err := db.Recalls(ctx, t)
		if err != nil {
			if consentdesk.ErrorCode(err) == consentdesk.Invalid {
				continue // the store removed the topic
			}
			return nil, fmt.Errorf("recalls %s: %w", t, err)
		}
		out[t] = len(list)
	}
	return out, nil
}

// TopicRates is, per topic, the share of customers (not erased) who gave
// it on at least one channel, for the dashboard.
func (db *DB) TopicRates(ctx context.Context) (map[string]float64, error) {
	ctrl, err := consent.LoadSettings(ctx, db.sql)
	if err != nil {
		return nil, err
	}
	// Where each store is its own controller, its own customers only
	// (franchise.go).
	store, scoped, err := ownStore(ctx, db.sql)
	if err != nil {
		return nil, err
	}
	where, args, err := storeScope(ctx, db.sql, "store_id")
	if err != nil {
		return nil, err
	}
	var total int
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM customers WHERE erased_at = ''`+where, args...).Scan(&total); err != nil {
		return nil, err
	}
	out := map[string]float64{}
	if total == 0 {
		return out, nil
	}
	for _, t := range ctrl.TopicKeys() {
		all, err := consent.AllStatesFor(ctx, db.sql, t)
		if err != nil {
			return nil, err
		}
		if scoped {
			if err := keepOwn(ctx, db.sql, store, all); err != nil {
				return nil, err
			}
		}
		n := 0
		for _, states := range all {
			for _, ch := range consent.Channels {
				if states[ch].State == consent.Granted {
					n++
					break
				}
			}
		}
		out[t] = float64(n) / float64(total)
	}
	return out, nil
}

// RecallSent is what SendRecalls did: the mails queued, and the letters
// to print (customer, address, language).
type RecallSent struct {
	// Run is the recall run recorded, whose letters can be downloaded
	// again (RecallRunLetters); 0 where nothing was sent.
	Run     int64
	Mails   int
	Letters []Customer
	// Manual are the customers due who can only be reached by SMS or
	// phone: the page lists them for a call.
	Manual []Recall
}

// SendRecalls sends the recalls of topic that are due now: an e-mail for
// each customer reachable by e-mail, otherwise a letter for those
// reachable by post. Each recall sent is a use of that topic in the
// ledger (which also keeps it from going out twice in the period), in the
// same commit as its mail.
func (db *DB) SendRecalls(ctx context.Context, topic string, staffID int64) (RecallSent, error) {
	due, err := db.Recalls(ctx, topic)
	if err != nil {
		return RecallSent{}, err
	}
	return db.sendRecalls(ctx, topic, staffID, due)
}

// sendRecalls sends the recalls of due, a list read before, as far as
// they still hold in its transaction.
func (db *DB) sendRecalls(ctx context.Context, topic string, staffID int64, due []Recall) (RecallSent, error) {
	var out RecallSent
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		out = RecallSent{}
		ctrl, err := consent.LoadSettings(ctx, tx)
		if err != nil {
			return err
		}
		for _, listed := range due {
			// The list was read before the transaction: ask again under
			// the writers' lock, so that a recall another "send" sent
			// meanwhile is not sent twice, and a withdrawal or an
			// objection made meanwhile is kept, per cell.
			r, ok, err := db.recallOf(ctx, tx, ctrl, topic, listed.CustomerID, listed.since, listed.due)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			cust, err := getCustomer(ctx, tx, r.CustomerID)
			if err != nil {
				return err
			}
			ch := consent.Channel("")
			for _, c := range r.Channels {
				if c == consent.Email || (c == consent.Post && ch == "") {
					ch = c
				}
			}
			if ch == "" {
				out.Manual = append(out.Manual, r)
				continue
			}
			events, err := consent.Events(ctx, tx, cust.ID)
			if err != nil {
				return err
			}
			st := consent.DeriveTopic(events, topic)[ch]
			e := consent.Event{CustomerID: cust.ID, Channel: ch, Action: consent.Use, LegalBasis: consent.BasisConsent, Source: consent.BackOffice,
				Actor: consent.ByStaff, StaffID: staffID, NoticeVersionID: st.NoticeVersion, CreatedAt: Stamp(now), Contact: cust.Contact(ch),
				Note: "recall " + topic, Topic: topic}
			if ch == consent.Email && r.UWG73 {
				e.LegalBasis = consent.BasisUWG73
			}
			if st.NoticeVersion != "" {
				n, err := consent.Notice(ctx, tx, st.NoticeVersion)
				if err != nil {
					return err
				}
				e.NoticeSHA256 = n.SHA256
			}
			if err := consent.Append(ctx, tx, &e); err != nil {
				return err
			}
			if ch == consent.Email {
				sale, err := saleAddress(ctx, tx, cust)
				if err != nil {
					return err
				}
				// From the customer's store: the one they know.
				store, err := customerStore(ctx, tx, cust.ID)
				if err != nil {
					return err
				}
				if _, err := followup.Enqueue(ctx, tx, followup.Job{Kind: followup.Recall, CustomerID: cust.ID, Topic: topic, SaleAddress: sale, StoreID: store}, now); err != nil {
					return err
				}
				out.Mails++
				continue
			}
			out.Letters = append(out.Letters, cust)
		}
		if out.Mails == 0 && len(out.Letters) == 0 && len(out.Manual) == 0 {
			return nil
		}
		// The run is kept, with its letters' customers: the PDF can be
		// downloaded again, and nothing is recorded as sent that was
		// never printed.
		ids := make([]int64, 0, len(out.Letters))
		for _, c := range out.Letters {
			ids = append(ids, c.ID)
		}
		letters, err := json.Marshal(ids)
		if err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO recall_runs (topic, store_id, staff_id, mails, manual, letters, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			topic, consent.StoreOf(ctx), nullID(staffID), out.Mails, len(out.Manual), string(letters), Stamp(now)).Scan(&out.Run)
	})
	if err != nil {
		return RecallSent{}, err
	}
	if out.Mails > 0 {
		db.mailQueued()
	}
	slog.Info("recalls sent", "topic", topic, "mails", out.Mails, "letters", len(out.Letters), "manual", len(out.Manual), "staff_id", staffID)
	return out, nil
}

// RecallRun is one "send" of recalls: when, which topic, by whom, and how
// many mails, letters and calls it made.
type RecallRun struct {
	ID        int64  `json:"id"`
	Topic     string `json:"topic"`
	StoreID   int64  `json:"store_id"`
	StaffID   int64  `json:"staff_id,omitempty"`
	StaffName string `json:"staff_name,omitempty"`
	Mails     int    `json:"mails"`
	Manual    int    `json:"manual"`
	Letters   int    `json:"letters"`
	CreatedAt string `json:"created_at"`
	customers []int64
}

// RecallRuns lists the newest recall runs first, at most limit; where
// each store is its own controller, the store's own.
func (db *DB) RecallRuns(ctx context.Context, limit int) ([]RecallRun, error) {
	scope, args, err := storeScope(ctx, db.sql, "r.store_id")
	if err != nil {
		return nil, err
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT r.id, r.topic, r.store_id, COALESCE(r.staff_id, 0), COALESCE(s.name, ''), r.mails, r.manual, r.letters, r.created_at
		FROM recall_runs r LEFT JOIN staff s ON s.id = r.staff_id WHERE true`+scope+` ORDER BY r.id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []RecallRun{}
	for rows.Next() {
		r, err := scanRecallRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func scanRecallRun(row interface{ Scan(...any) error }) (RecallRun, error) {
	var r RecallRun
	var letters string
	if err := row.Scan(&r.ID, &r.Topic, &r.StoreID, &r.StaffID, &r.StaffName, &r.Mails, &r.Manual, &letters, &r.CreatedAt); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(letters), &r.customers); err != nil {
		return r, fmt.Errorf("recall run %d: its letters' customers: %w", r.ID, err)
	}
	r.Letters = len(r.customers)
	return r, nil
}

// RecallRunLetters is a recall run and the customers of its letters, as
// their records stand now (an erased customer's letter is left out): to
// print the letters again. NotFound for a run of another store where
// each store is its own controller.
func (db *DB) RecallRunLetters(ctx context.Context, id int64) (RecallRun, []Customer, error) {
	scope, args, err := storeScope(ctx, db.sql, "r.store_id")
	if err != nil {
		return RecallRun{}, nil, err
	}
	r, err := scanRecallRun(db.sql.QueryRowContext(ctx, `SELECT r.id, r.topic, r.store_id, COALESCE(r.staff_id, 0), COALESCE(s.name, ''), r.mails, r.manual, r.letters, r.created_at
		FROM recall_runs r LEFT JOIN staff s ON s.id = r.staff_id WHERE r.id = ?`+scope, append([]any{id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return RecallRun{}, nil, consentdesk.Errorf(consentdesk.NotFound, "err.recall_run_not_found")
	}
	if err != nil {
		return RecallRun{}, nil, err
	}
	var out []Customer
	for _, cid := range r.customers {
		c, err := getCustomer(ctx, db.sql, cid)
		if consentdesk.ErrorCode(err) == consentdesk.NotFound {
			continue
		}
		if err != nil {
			return r, nil, err
		}
		if !c.Erased() {
			out = append(out, c)
		}
	}
	return r, out, nil
}
