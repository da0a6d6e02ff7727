package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
)

// ConsentChange is a change recorded by staff: ticks transcribed from a
// signed paper form, or a customer's wish by phone or in person.
type ConsentChange struct {
	CustomerID int64
	OrderID    int64 // the paper form's order; found when left out
	// Channels maps a marketing channel to true (grant) or false
	// (withdraw); HealthData may be given false only: the prescription
	// consent (GDPR Art. 9(2)(a)) is withdrawn like any other (Art. 7(3)),
	// and given only at the counter with the prescription.
	Channels map[consent.Channel]bool
	// Topics are what a grant in Channels covers (consent per channel and
	// topic); nil means offers, as before topics. A withdrawal in
	// Channels covers every topic of the channel.
	Topics map[string]bool
	// Cells change single topics of a channel (the preference page's
	// table, a recall's one-click): true grants that topic, false
	// withdraws that topic only. Such a withdrawal is no objection to the
	// channel and leaves no entry on the blocking list.
	Cells   map[consent.Channel]map[string]bool
	Source  consent.Source
	Note    string
	StaffID int64
	Scan    []byte // the signed form, PDF, JPEG or PNG
	// ByCustomer marks a change the customer made themself, on the
	// preference page, from a mail's link or the printed QR code.
	ByCustomer bool
	// Object marks an explicit objection of the customer (withdraw all,
	// the one-click unsubscribe, the object button): it is recorded on a
	// channel that was never granted too (GDPR Art. 21(3), §7(3) Nr. 4
	// UWG). A switch that merely stays off on the preference page is no
	// objection and records nothing.
	Object bool
	// APIToken names the API token when another program sent the change;
	// the events then name it, with actor api.
	APIToken string
	// Representative: the parent or guardian who signed for a child under
	// 16; a grant for a child needs one (Art. 8 GDPR by analogy).
	Representative *Representative
}

// topicsOf is the list of topics chosen, in the store's order: nil means
// offers (as before topics); a list given must name known topics and at
// least one of them, or the grant would cover nothing.
func topicsOf(ctrl consent.Controller, chosen map[string]bool, field string) ([]string, error) {
	if chosen == nil {
		return []string{consent.TopicOffers}, nil
	}
	f := consentdesk.FieldErrors{}
	for t := range chosen {
		if _, ok := ctrl.Topic(t); !ok {
			f.Add(field+"."+t, "err.topic_unknown")
		}
	}
	var out []string
	for _, t := range ctrl.TopicKeys() {
		if chosen[t] {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		f.Add(field, "err.topics_none")
	}
	return out, f.Err()
}

// MaxScanBytes limits an uploaded scan.
const MaxScanBytes = 10 << 20

// ScanMIME returns the type of a scan judged by its content, or "".
func ScanMIME(b []byte) string {
	switch http.DetectContentType(b) {
	case "application/pdf":
		return "application/pdf"
	case "image/jpeg":
		return "image/jpeg"
	case "image/png":
		return "image/png"
	}
	return ""
}

// RecordConsents appends the events for a change. A tick (true) grants;
// on a paper form an empty box (false) is no decision, while from a call
// or at the counter false withdraws (GDPR Art. 7(3)) and is recorded even
// without an earlier grant, as an objection (Art. 21(3)).
//
// A grant that staff or another program enter for the customer needs
// evidence (Art. 7(1); CJEU C-61/19): for post, SMS and phone the signed
// paper form (a scan, attached now or earlier to the paper order); for
// e-mail the customer's own confirmation, so such an e-mail grant always
// waits for its double opt-in. Withdrawals never need evidence.
func (db *DB) RecordConsents(ctx context.Context, ch ConsentChange) ([]consent.Event, error) {
	// From the public pages (no store in ctx): the customer's store. Its
	// events go into that store's chain, beside other stores' use cases.
	ctx = db.publicStore(ctx, ch.CustomerID)
	f := consentdesk.FieldErrors{}
	actor := consent.ByStaff
	switch ch.Source {
	case consent.PaperForm, consent.PhoneRequest, consent.InPerson:
		if ch.ByCustomer {
			f.Add("source", "err.source_invalid")
		}
	case consent.EmailLink, consent.QRCode, consent.PreferencePage:
		if !ch.ByCustomer {
			f.Add("source", "err.source_invalid")
		}
		actor = consent.ByCustomer
	case consent.CounterTablet:
		// A standing consent withdrawn by the customer's own tap on the
		// consent screen (Art. 7(3): as easy as giving it). Grants at
		// the counter come with the order, signed.
		if !ch.ByCustomer || ch.APIToken != "" {
			f.Add("source", "err.source_invalid")
		}
		for c, want := range ch.Channels {
			if want {
				f.Add("channels."+string(c), "err.source_invalid")
			}
		}
		for c, cells := range ch.Cells {
			for _, want := range cells {
				if want {
					f.Add("cells."+string(c), "err.source_invalid")
				}
			}
		}
		actor = consent.ByCustomer
	default:
		f.Add("source", "err.source_invalid")
	}
	if ch.APIToken != "" {
		actor = consent.ByAPI
	}
	if len(ch.Channels) == 0 && len(ch.Cells) == 0 {
		f.Add("channels", "err.required")
	}
	for c := range ch.Cells {
		if !c.Valid() {
			f.Add("channels."+string(c), "err.channel_unknown")
		}
	}
	for c, want := range ch.Channels {
		switch {
		case c == consent.HealthData && want:
			f.Add("channels."+string(c), "err.health_grant_at_counter")
		case c != consent.HealthData && !c.Valid():
			f.Add("channels."+string(c), "err.channel_unknown")
		}
	}
	ch.Note = cleanText(f, "note", ch.Note, 500)
	mime := ""
	if len(ch.Scan) > 0 {
		if ch.Source != consent.PaperForm {
			f.Add("scan", "err.scan_only_paper")
		}
		if len(ch.Scan) > MaxScanBytes {
			f.Add("scan", "err.scan_too_large")
		} else if mime = ScanMIME(ch.Scan); mime == "" {
			f.Add("scan", "err.scan_type")
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	var events []consent.Event
	rxDeleted := 0
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		ctrl, err := consent.LoadSettings(ctx, tx)
		if err != nil {
			return err
		}
		ctx = db.customersStoreIn(settingsRead(ctx, ctrl), tx, ch.CustomerID)
		cust, err := getCustomer(ctx, tx, ch.CustomerID)
		if err != nil {
			return err
		}
		if cust.Erased() {
			return consentdesk.Errorf(consentdesk.Conflict, "err.customer_erased")
		}
		notice, err := currentNoticeRef(ctx, tx, cust.Lang)
		if err != nil {
			return err
		}
		evidence := ""
		if ch.Source == consent.PaperForm {
			// The ticks refer to the sheet printed for a paper-mode order,
			// with the notice version printed on it.
			o, err := paperOrder(ctx, tx, cust.ID, ch.OrderID)
			if err != nil {
				return err
			}
			ch.OrderID = o.ID
			printed, err := consent.Notice(ctx, tx, o.NoticeVersionID)
			if err != nil {
				return err
			}
			notice = printed.Ref()
			if evidence, err = orderScan(ctx, tx, o.ID); err != nil {
				return err
			}
		}
		if len(ch.Scan) > 0 {
			evidence = SHA256Hex(ch.Scan)
			// The same scan again is not stored twice; a new one is kept
			// beside the earlier ones (each the evidence of its events),
			// versioned by order of upload.
			var dup int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM documents WHERE order_id = ? AND kind = 'scan' AND sha256 = ?`, ch.OrderID, evidence).Scan(&dup); err != nil {
				return err
			}
			if dup == 0 {
				if err := insertDocument(ctx, tx, cust.ID, ch.OrderID, "scan", mime, ch.Scan, now); err != nil {
					return err
				}
			}
		}
		granting := map[consent.Channel]bool{}
		var grants []consent.Cell // one per channel granted in, for its contact
		for _, c := range consent.Channels {
			for t, want := range ch.Cells[c] {
				granting[c] = granting[c] || want
				if want {
					grants = append(grants, consent.Cell{Channel: c, Topic: t})
				}
			}
			if ch.Channels[c] {
				granting[c] = true
				grants = append(grants, consent.Cell{Channel: c, Topic: consent.TopicOffers})
			}
		}
		if err := checkContacts(cust, grants, "consent.channels"); err != nil {
			return err
		}
		history, err := consent.Events(ctx, tx, cust.ID)
		if err != nil {
			return err
		}
		keys := consent.EventTopics(history, ctrl.TopicKeys())
		byTopic := consent.DeriveTopics(history, keys)
		states := consent.Derive(history)
		var grantTopics []string
		for _, want := range ch.Channels {
			if want && grantTopics == nil {
				if grantTopics, err = topicsOf(ctrl, ch.Topics, "topics"); err != nil {
					return err
				}
			}
		}
		for c, cells := range ch.Cells {
			for t := range cells {
				if _, ok := ctrl.Topic(t); !ok {
					return &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"cells." + string(c) + "." + t: "err.topic_unknown"}}
				}
			}
		}
		base := consent.Event{CustomerID: cust.ID, LegalBasis: consent.BasisConsent, Source: ch.Source, Actor: actor,
			NoticeVersionID: notice.ID, NoticeSHA256: notice.SHA256, OrderID: ch.OrderID, StaffID: ch.StaffID,
			EvidenceSHA256: evidence, CreatedAt: Stamp(now), Note: ch.Note, APIToken: ch.APIToken}
		anyGrant := false
		for _, c := range consent.Channels {
			anyGrant = anyGrant || granting[c]
		}
		rf := consentdesk.FieldErrors{}
		// A withdrawal never needs a representative; a grant for a child does.
		if rep := checkRepresentative(rf, "", cust.Child(now), anyGrant, ch.Representative); rep != nil {
			base.Representative, base.RepresentativeOf = rep.Name, rep.Relationship
		}
		if anyGrant {
			if err := rf.Err(); err != nil {
				return err
			}
		}
		missing := consentdesk.FieldErrors{}
		lifted := map[consent.Channel]bool{}
		appendEvent := func(e consent.Event) error {
			if err := consent.Append(ctx, tx, &e); err != nil {
				return err
			}
			events = append(events, e)
			return nil
		}
		// grant records a grant of topic t on channel c, with the evidence
		// rules below; it reports false when the grant is refused.
		grant := func(c consent.Channel, t string) (bool, error) {
			e := base
			e.Channel, e.Contact, e.LegalBasis, e.Topic = c, cust.Contact(c), ctrl.BasisOf(c), t
			if e.LegalBasis == consent.BasisLegitimateInterest {
				missing.Add("channels."+string(c), "err.post_legitimate_interest")
				return false, nil
			}
			e.Action, e.OptInLevel = consent.Grant, consent.SingleOptIn
			if c == consent.Email && ctrl.DoubleOptIn {
				e.OptInLevel = consent.ConfirmedOptIn
			}
			if !ch.ByCustomer && evidence == "" {
				if c != consent.Email {
					missing.Add("channels."+string(c), "err.grant_needs_evidence")
					return false, nil
				}
				// Typed in by staff without a signed form: only the
				// customer's own click on the confirmation link proves it
				// (BGH I ZR 164/09).
				e.OptInLevel = consent.ConfirmedOptIn
			}
			if ch.ByCustomer {
				// A link (a mail's, the printed QR code's) is not the
				// customer: whoever holds it could tap. A grant through it
				// counts only with proof that the customer controls the
				// contact. For e-mail that is the double opt-in to that
				// address, which also lifts a block (ConfirmEmail); post,
				// SMS and phone are given in the store or on the signed form.
				if c != consent.Email {
					missing.Add("channels."+string(c), "err.link_grant_in_store")
					return false, nil
				}
				e.OptInLevel = consent.ConfirmedOptIn
				return true, appendEvent(e)
			}
			if !lifted[c] {
				// A signed form lifts a block.
				u, err := db.liftBlock(ctx, tx, cust, c, base, evidence != "", "channels."+string(c))
				if err != nil {
					return false, err
				}
				if u != nil {
					events = append(events, *u)
				}
				lifted[c] = true
			}
			return true, appendEvent(e)
		}
		on := func(st consent.ChannelState) bool { return st.State == consent.Granted || st.State == consent.Pending }
		for _, c := range consent.Channels {
			want, ok := ch.Channels[c]
			if !ok {
				continue
			}
			if want {
				for _, t := range grantTopics {
					if on(byTopic[c][t]) {
						continue
					}
					if _, err := grant(c, t); err != nil {
						return err
					}
				}
				continue
			}
			// A withdrawal of the channel covers every topic.
			cur := consent.Summary(byTopic[c]).State
			if cur != consent.Granted && cur != consent.Pending && states[c].State == consent.Withdrawn {
				cur = consent.Withdrawn
			}
			e := base
			e.Channel, e.Contact, e.LegalBasis, e.Topic = c, cust.Contact(c), ctrl.BasisOf(c), consent.AllTopics
			switch {
			case ch.Source != consent.PaperForm && cur == consent.Withdrawn:
				// Nothing new in the ledger; the block is made sure of (a
				// withdrawal recorded before the blocking list existed).
				if err := db.block(ctx, tx, cust, c, consent.BlockedByObjection, Stamp(now)); err != nil {
					return err
				}
				continue
			case ch.Source != consent.PaperForm && !(ch.ByCustomer && cur == consent.None && !ch.Object):
				// A switch the customer left off records nothing; an
				// objection, or staff recording "no" by phone, does.
				e.Action = consent.Withdraw
				if err := db.block(ctx, tx, cust, c, consent.BlockedByObjection, Stamp(now)); err != nil {
					return err
				}
			default:
				continue
			}
			if err := appendEvent(e); err != nil {
				return err
			}
		}
		for _, c := range consent.Channels {
			for _, t := range ctrl.TopicKeys() {
				want, ok := ch.Cells[c][t]
				st := byTopic[c][t]
				if ok && !want && ch.Source == consent.PaperForm {
					// An empty box on the signed form: the customer was
					// asked and said no. It withdraws nothing, and tells
					// §7(3) UWG who was asked (EDPB Guidelines 05/2020, §6).
					if st.State != consent.None || st.Declined || cust.Contact(c) == "" {
						continue
					}
					e := base
					e.Channel, e.Contact, e.LegalBasis, e.Topic, e.Action = c, cust.Contact(c), ctrl.BasisOf(c), t, consent.Decline
					if err := appendEvent(e); err != nil {
						return err
					}
					continue
				}
				// An objection to one topic (a recall's one-click) is
				// recorded even where it was never given: the recall may
				// have rested on §7(3) UWG, which only the objection stops.
				objection := ch.Object && !want && st.State == consent.None
				if !ok || (on(st) == want && !objection) {
					continue
				}
				if want {
					if _, err := grant(c, t); err != nil {
						return err
					}
					continue
				}
				// One topic off: that topic only, no objection to the
				// channel, nothing on the blocking list.
				e := base
				e.Channel, e.Contact, e.LegalBasis, e.Topic, e.Action = c, cust.Contact(c), ctrl.BasisOf(c), t, consent.Withdraw
				if err := appendEvent(e); err != nil {
					return err
				}
			}
		}
		if err := missing.Err(); err != nil {
			return err
		}
		if want, ok := ch.Channels[consent.HealthData]; ok && !want {
			e, n, err := withdrawHealthData(ctx, tx, cust, states[consent.HealthData], base)
			if err != nil {
				return err
			}
			if e != nil {
				events = append(events, *e)
			}
			rxDeleted = n
		}
		return queueConfirmations(ctx, tx, ctrl, cust.ID, events, now)
	})
	if err != nil {
		return nil, err
	}
	db.mailQueued()
	if rxDeleted > 0 {
		db.Checkpoint(ctx) // secure_delete overwrote the rows; leave no copy in the log
	}
	slog.Info("consents recorded", "customer_id", ch.CustomerID, "source", ch.Source, "events", len(events), "prescriptions_deleted", rxDeleted)
	return events, nil
}

// withdrawHealthData withdraws the prescription consent (GDPR Art. 9(2)(a),
// Art. 7(3)) and deletes the prescriptions stored on it. Prescriptions
// kept on Art. 9(2)(h) with §22 BDSG stay: they never rested on the
// consent, and the basis of stored data is not switched afterwards (EDPB
// 05/2020).
func withdrawHealthData(ctx context.Context, tx consent.Tx, cust Customer, cur consent.ChannelState, base consent.Event) (*consent.Event, int, error) {
	var out *consent.Event
	if cur.State == consent.Granted || cur.State == consent.Pending {
		e := base
		e.Channel, e.Action, e.LegalBasis, e.Contact = consent.HealthData, consent.Withdraw, consent.BasisExplicitConsent, ""
		if err := consent.Append(ctx, tx, &e); err != nil {
			return nil, 0, err
		}
		out = &e
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM prescriptions WHERE customer_id = ? AND legal_basis = ?`, cust.ID, consent.BasisExplicitConsent)
	if err != nil {
		return nil, 0, fmt.Errorf("delete prescriptions: %w", err)
	}
	n, _ := res.RowsAffected()
	return out, int(n), nil
}

// orderScan is the hash of the newest scan attached to an order, or "".
func orderScan(ctx context.Context, tx consent.Tx, orderID int64) (string, error) {
	var sum string
	err := tx.QueryRowContext(ctx, `SELECT sha256 FROM documents WHERE order_id = ? AND kind = 'scan' ORDER BY id DESC LIMIT 1`, orderID).Scan(&sum)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return sum, err
}

func paperOrder(ctx context.Context, tx consent.Tx, customerID, orderID int64) (Order, error) {
	var id int64
	var err error
	if orderID != 0 {
		err = tx.QueryRowContext(ctx, `SELECT id FROM orders WHERE id = ? AND customer_id = ? AND consent_mode = 'paper'`, orderID, customerID).Scan(&id)
	} else {
		err = tx.QueryRowContext(ctx, `SELECT id FROM orders WHERE customer_id = ? AND consent_mode = 'paper' ORDER BY id DESC LIMIT 1`, customerID).Scan(&id)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"order_id": "err.no_paper_order"}}
	}
	if err != nil {
		return Order{}, err
	}
	return getOrder(ctx, tx, id)
}

// Consents returns a customer's state per channel and every event.
func (db *DB) Consents(ctx context.Context, customerID int64) (map[consent.Channel]consent.ChannelState, []consent.Event, error) {
	if _, err := db.Customer(ctx, customerID); err != nil {
		return nil, nil, err
	}
	events, err := consent.Events(ctx, db.sql, customerID)
	if err != nil {
		return nil, nil, err
	}
	return consent.Derive(events), events, nil
}

// ConsentTopics is a customer's state per channel and topic, for the
// store's topics (and any other a past event names).
func (db *DB) ConsentTopics(ctx context.Context, customerID int64) (map[consent.Channel]map[string]consent.ChannelState, error) {
	if _, err := db.Customer(ctx, customerID); err != nil {
		return nil, err // another store's, where each is its own controller
	}
	events, err := consent.Events(ctx, db.sql, customerID)
	if err != nil {
		return nil, err
	}
	ctrl, err := consent.LoadSettings(ctx, db.sql)
	if err != nil {
		return nil, err
	}
	return consent.DeriveTopics(events, consent.EventTopics(events, ctrl.TopicKeys())), nil
}

// ConfirmEmail records the customer's confirmation of a pending e-mail
// consent (double opt-in, BGH I ZR 164/09). It reports false, and records
// nothing, when nothing was pending: a stale link changes nothing.
func (db *DB) ConfirmEmail(ctx context.Context, customerID int64) (bool, error) {
	ctx = db.publicStore(ctx, customerID) // the link in the mail: the customer's store
	confirmed := false
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		ctx = db.customersStoreIn(ctx, tx, customerID)
		cust, err := getCustomer(ctx, tx, customerID)
		if err != nil {
			return err
		}
		states, err := pendingAnyTopic(ctx, tx, cust.ID)
		if err != nil {
			return err
		}
		// Pending in any topic: the one confirmation covers every topic
		// the customer chose for e-mail.
		st := states[consent.Email]
		if st.State != consent.Pending {
			return nil
		}
		notice, err := consent.Notice(ctx, tx, st.NoticeVersion)
		if err != nil {
			return err
		}
		e := consent.Event{CustomerID: cust.ID, Channel: consent.Email, Action: consent.Confirm, OptInLevel: consent.ConfirmedOptIn,
			LegalBasis: consent.BasisConsent, Source: consent.DoubleOptIn, Actor: consent.ByCustomer, NoticeVersionID: notice.ID,
			NoticeSHA256: notice.SHA256, CreatedAt: Stamp(now), Contact: cust.Email, Topic: consent.AllTopics}
		confirmed = true
		// The click to this address proves that the customer controls it:
		// their own fresh consent lifts a block an earlier objection left
		// on it (§35(3) BDSG), recorded before the confirmation.
		if _, err := db.liftBlock(ctx, tx, cust, consent.Email, e, true, "email"); err != nil {
			return err
		}
		return consent.Append(ctx, tx, &e)
	})
	if err == nil && confirmed {
		slog.Info("e-mail consent confirmed", "customer_id", customerID)
	}
	return confirmed, err
}

// pendingAnyTopic is each channel's summary over all its topics: an
// e-mail consent that waits for its double opt-in in any topic is
// pending.
func pendingAnyTopic(ctx context.Context, q consent.Querier, customerID int64) (map[consent.Channel]consent.ChannelState, error) {
	events, err := consent.Events(ctx, q, customerID)
	if err != nil {
		return nil, err
	}
	out := map[consent.Channel]consent.ChannelState{}
	for c, byTopic := range consent.DeriveTopics(events, consent.EventTopics(events, nil)) {
		out[c] = consent.Summary(byTopic)
	}
	return out, nil
}

// ConsentsAsTheyStand is Consents with the blocking list applied: a
// channel whose contact another record's objection or erasure blocked
// (§35(3) BDSG) reads withdrawn and blocked, on every topic, whatever its
// own events say, because nobody may contact it. What another program
// reads (GET …/consents) must not say "granted" there.
func (db *DB) ConsentsAsTheyStand(ctx context.Context, customerID int64) (map[consent.Channel]consent.ChannelState, map[consent.Channel]map[string]consent.ChannelState, []consent.Event, error) {
	states, events, err := db.Consents(ctx, customerID)
	if err != nil {
		return nil, nil, nil, err
	}
	byTopic, err := db.ConsentTopics(ctx, customerID)
	if err != nil {
		return nil, nil, nil, err
	}
	cust, err := db.Customer(ctx, customerID)
	if err != nil {
		return nil, nil, nil, err
	}
	blocked, err := db.BlockedChannels(ctx, cust)
	if err != nil {
		return nil, nil, nil, err
	}
	block := func(st consent.ChannelState) consent.ChannelState {
		st.State, st.Blocked, st.GrantedAt = consent.Withdrawn, true, ""
		return st
	}
	for _, ch := range consent.Channels {
		if !blocked[ch] {
			continue
		}
		states[ch] = block(states[ch])
		for t, st := range byTopic[ch] {
			byTopic[ch][t] = block(st)
		}
	}
	return states, byTopic, events, nil
}
