package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
)

// Consent modes of an order.
const (
	ModeTablet = "tablet" // the customer chose on screen
	ModePaper  = "paper"  // boxes printed empty; ticks recorded later
)

// ConsentInput is what the customer chose at the counter.
type ConsentInput struct {
	Mode string
	// Cells are the cells the customer chose, per channel the topics'
	// keys: the unit of consent is the cell (channel, topic), and
	// nothing else is granted. The counter's screen and the API's
	// "cells" fill it.
	Cells map[consent.Channel][]string
	// Channels with Topics is the older shorthand of the API: every
	// listed topic on every listed channel; without Topics a channel
	// covers offers, as before topics (docs/api.md). It is refused together
	// with Cells.
	Channels     map[consent.Channel]bool
	Topics       map[string]bool
	SignaturePNG []byte
	HealthData   bool // explicit consent to store the prescription (GDPR Art. 9(2)(a))
	// Representative is the parent or guardian who decides for a child
	// under 16 (Art. 8 GDPR by analogy), and signs.
	Representative *Representative
}

// Representative is a parent or guardian deciding for a child.
type Representative struct {
	Name         string `json:"name"`
	Relationship string `json:"relationship"` // mother, father or guardian
}

// Relationships a representative may have.
var Relationships = []string{"mother", "father", "guardian"}

// checkRepresentative refuses a consent for a child without a parent or
// guardian, and a representative for an adult; it returns the cleaned
// representative.
func checkRepresentative(f consentdesk.FieldErrors, prefix string, child, anyGiven bool, r *Representative) *Representative {
	if r != nil && strings.TrimSpace(r.Name) == "" && r.Relationship == "" {
		r = nil
	}
	switch {
	case r == nil && child && anyGiven:
		f.Add(prefix+"representative.name", "err.child_needs_representative")
		return nil
	case r == nil:
		return nil
	case !child:
		f.Add(prefix+"representative.name", "err.representative_adult")
		return nil
	}
	out := &Representative{Name: cleanText(f, prefix+"representative.name", r.Name, 100), Relationship: r.Relationship}
	if out.Name == "" {
		f.Add(prefix+"representative.name", "err.required")
	}
	if !slices.Contains(Relationships, out.Relationship) {
		f.Add(prefix+"representative.relationship", "err.choice_invalid")
	}
	return out
}

// NewOrder is the input of PlaceOrder.
type NewOrder struct {
	Customer     Customer // ID set: reuse that customer
	Items        []Item
	DepositCents int64
	Pickup       *Pickup
	// TakenAlong is a sale without an appointment (a cleaning cloth): the
	// customer takes the goods along, so the order is collected when it
	// is placed, and no pickup mail follows. Not with a Pickup.
	TakenAlong   bool
	Consent      ConsentInput
	Prescription *Prescription
	StaffID      int64
	// Lang is the language the customer chose on the consent screen, when
	// it differs from the record's: the notice of that language is the one
	// they read and agreed to (Art. 7(1)), and it becomes theirs.
	Lang string
	// IdempotencyKey, from the API's Idempotency-Key header: the same key
	// from the same token (by its id, in its store) with the same body
	// (BodySHA256) within 24 hours answers the first order again; with
	// another body it is refused.
	IdempotencyKey string
	APITokenID     int64
	BodySHA256     string
	// APIToken names the API token when the order came through the JSON
	// API: its consents are then recorded as given through the API (source
	// api, actor api), never as a tap on the counter tablet (CJEU C-61/19,
	// Art. 7(1)).
	APIToken string
}

// Placed is what PlaceOrder created.
type Placed struct {
	Order              Order
	Customer           Customer
	Events             []consent.Event
	PrescriptionStored bool
	// Controller is the store settings the order was placed under (read
	// in its transaction, without the logo), so that the answer to the
	// counter needs no second read that could fail after the commit.
	Controller consent.Controller
	// Replayed: the Idempotency-Key was seen within 24 hours; this is the
	// first order again, and nothing was written.
	Replayed bool
}

// IdempotencyWindow is how long an Idempotency-Key answers its first order.
const IdempotencyWindow = 24 * time.Hour

// idempotencyHash binds a key to the token that sent it, by the token's
// id and store: a revoked token's name given to another token, or
// another store's token, never meets its keys.
func idempotencyHash(tokenID, store int64, key string) string {
	return SHA256Hex([]byte(fmt.Sprintf("%d\x00%d\x00%s", tokenID, store, key)))
}

// Validate checks everything that does not need the database and returns
// the input with normalised fields. The tablet calls it before it hands
// the screen to the customer; PlaceOrder calls it again.
func (in NewOrder) Validate(now time.Time) (NewOrder, error) {
	f := consentdesk.FieldErrors{}
	if in.Customer.ID == 0 {
		in.Customer = in.Customer.Normalize(f, "customer.")
	} else if in.Customer.ID < 0 {
		f.Add("customer.id", "err.customer_not_found")
	}
	in.Items = validateItems(f, in.Items)
	if in.DepositCents < 0 || in.DepositCents > Total(in.Items) {
		f.Add("deposit_cents", "err.deposit_range")
	}
	validatePickup(f, in.Pickup, now)
	if in.TakenAlong && in.Pickup != nil {
		f.Add("pickup.start", "err.pickup_taken_along")
	}
	if in.Prescription != nil {
		if in.Prescription.Empty() {
			in.Prescription = nil
		} else {
			in.Prescription.Validate(f)
		}
	}
	switch in.Consent.Mode {
	case ModeTablet:
	case ModePaper:
		// The paper form is signed with empty boxes and a pen; ticks
		// and signature come later, transcribed by staff.
		for _, ch := range consent.Channels {
			if in.Consent.Channels[ch] {
				f.Add("consent.channels."+string(ch), "err.paper_mode_no_ticks")
			}
			if len(in.Consent.Cells[ch]) > 0 {
				f.Add("consent.cells."+string(ch), "err.paper_mode_no_ticks")
			}
		}
		if len(in.Consent.SignaturePNG) > 0 {
			f.Add("consent.signature_png", "err.paper_mode_no_signature")
		}
	default:
		f.Add("consent.mode", "err.choice_invalid")
	}
	for ch := range in.Consent.Channels {
		if !ch.Valid() {
			f.Add("consent.channels."+string(ch), "err.channel_unknown")
		}
	}
	for ch := range in.Consent.Cells {
		if !ch.Valid() {
			f.Add("consent.cells."+string(ch), "err.channel_unknown")
		}
	}
	if in.Consent.Cells != nil && (in.Consent.Channels != nil || in.Consent.Topics != nil) {
		// One answer, in one form: cells, or the shorthand.
		f.Add("consent.cells", "err.cells_or_channels")
	}
	return in, f.Err()
}

// chosenCells is what the customer chose, as cells: the cells given, or
// the shorthand's topics on its channels. A topic or channel the store
// does not know is a field error.
func (in ConsentInput) chosenCells(ctrl consent.Controller) ([]consent.Cell, error) {
	if in.Cells != nil {
		f := consentdesk.FieldErrors{}
		cells := ctrl.Cells(f, "consent.cells", in.Cells)
		return cells, f.Err()
	}
	any := false
	for _, ch := range consent.Channels {
		any = any || in.Channels[ch]
	}
	if !any {
		return nil, nil
	}
	topics, err := topicsOf(ctrl, in.Topics, "consent.topics")
	if err != nil {
		return nil, err
	}
	return consent.CrossCells(in.Channels, topics), nil
}

// askedChannels are the channels the customer answered for: at the
// counter every channel with a contact; through the API the channels the
// order names (an API order counts as asked for every cell of each
// channel it names).
func (in ConsentInput) askedChannels(api bool) map[consent.Channel]bool {
	out := map[consent.Channel]bool{}
	for _, ch := range consent.Channels {
		_, named := in.Channels[ch]
		_, inCells := in.Cells[ch]
		out[ch] = !api || named || inCells
	}
	return out
}

// checkContacts refuses a cell whose channel has no contact detail: there
// would be nothing to consent to.
func checkContacts(c Customer, cells []consent.Cell, field string) error {
	f := consentdesk.FieldErrors{}
	for _, cell := range cells {
		if c.Contact(cell.Channel) == "" {
			f.Add(field+"."+string(cell.Channel), "err.channel_needs_contact_"+string(cell.Channel))
		}
	}
	return f.Err()
}

// PlaceOrder records an order, its customer, its consent events, its
// signature and its prescription in one transaction: all of it, or
// nothing. Consent is never a condition of the order (GDPR Art. 7(4)): it
// completes with every channel off.
func (db *DB) PlaceOrder(ctx context.Context, in NewOrder) (Placed, error) {
	ctx = consent.InStore(ctx) // its order, its store's chain: beside other stores
	in, err := in.Validate(db.Now())
	if err != nil {
		return Placed{}, err
	}
	if len(in.IdempotencyKey) > 255 || strings.IndexFunc(in.IdempotencyKey, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		return Placed{}, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"Idempotency-Key": "err.idempotency_key"}}
	}
	var signature []byte
	if len(in.Consent.SignaturePNG) > 0 {
		if signature, err = FlattenSignature(in.Consent.SignaturePNG); err != nil {
			return Placed{}, err
		}
	}
	var out Placed
	err = db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		ctrl, err := consent.LoadSettings(ctx, tx)
		if err != nil {
			return err
		}
		ctx = settingsRead(ctx, ctrl)
		out.Controller = ctrl
		if in.IdempotencyKey != "" {
			var first int64
			var body string
			err := tx.QueryRowContext(ctx, `SELECT order_id, body_sha256 FROM api_idempotency WHERE key_hash = ? AND created_at > ?`,
				idempotencyHash(in.APITokenID, consent.StoreOf(ctx), in.IdempotencyKey), Stamp(now.Add(-IdempotencyWindow))).Scan(&first, &body)
			if err == nil && body != in.BodySHA256 {
				// The same key with another body: not a repeat of the
				// first order, and no new one either.
				return &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"Idempotency-Key": "err.idempotency_other_body"}}
			}
			if err == nil {
				if out.Order, err = getOrder(ctx, tx, first); err != nil {
					return err
				}
				out.Customer, err = getCustomer(ctx, tx, out.Order.CustomerID)
				out.Replayed, out.PrescriptionStored = true, out.Order.HasPrescription
				return err
			} else if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		cust := in.Customer
		var history []consent.Event // the customer's events before this order
		if cust.ID != 0 {
			if cust, err = getCustomer(ctx, tx, cust.ID); err != nil {
				return &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"customer.id": "err.customer_not_found"}}
			}
			if cust.Erased() {
				return &consentdesk.Error{Code: consentdesk.Conflict, Key: "err.invalid_input", Fields: map[string]string{"customer.id": "err.customer_erased"}}
			}
			if history, err = consent.Events(ctx, tx, cust.ID); err != nil {
				return err
			}
		} else {
			if in.Lang != "" {
				cust.Lang = in.Lang
			}
			if history, err = db.createCustomer(ctx, tx, &cust, now); err != nil {
				return err
			}
		}
		if in.Lang != "" && in.Lang != cust.Lang {
			if err := setCustomerLang(ctx, tx, &cust, in.Lang, in.StaffID, now); err != nil {
				return err
			}
		}
		cells, err := in.Consent.chosenCells(ctrl)
		if err != nil {
			return err
		}
		field := "consent.channels"
		if in.Consent.Cells != nil {
			field = "consent.cells"
		}
		if err := checkContacts(cust, cells, field); err != nil {
			return err
		}
		for _, cell := range cells {
			if cell.Channel == consent.Post && ctrl.PostOnLegitimateInterest() {
				// Letters rest on legitimate interest: there is no box to tick.
				return &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{field + ".post": "err.post_legitimate_interest"}}
			}
		}
		if err := needsEvidence(in, cells, field); err != nil {
			return err
		}
		// Art. 8 GDPR by analogy: for a child a parent or guardian decides.
		anyGiven := (in.Consent.HealthData && in.Prescription != nil) || len(cells) > 0
		rf := consentdesk.FieldErrors{}
		rep := checkRepresentative(rf, "consent.", cust.Child(now), in.Consent.Mode == ModeTablet && anyGiven, in.Consent.Representative)
		if err := rf.Err(); err != nil {
			return err
		}
		notice, err := currentNoticeRef(ctx, tx, cust.Lang)
		if err != nil {
			return err
		}
		number, err := nextOrderNumber(ctx, tx, now)
		if err != nil {
			return err
		}
		o := Order{Number: number, CustomerID: cust.ID, StaffID: in.StaffID, ConsentMode: in.Consent.Mode, Items: in.Items,
			TotalCents: Total(in.Items), DepositCents: in.DepositCents, Pickup: in.Pickup, NoticeVersionID: notice.ID, Status: "open", CreatedAt: now}
		if in.TakenAlong {
			o.Status = "collected"
		}
		var start, end string
		if in.Pickup != nil {
			start, end = in.Pickup.Start.Format(time.RFC3339), in.Pickup.End.Format(time.RFC3339)
		}
		o.StoreID = consent.StoreOf(ctx) // where it was taken: the staff's or the token's store
		if err := tx.QueryRowContext(ctx, `INSERT INTO orders (number, customer_id, staff_id, consent_mode, total_cents, deposit_cents, pickup_start, pickup_end, notice_version_id, created_at, store_id, status)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, o.Number, o.CustomerID, nullID(o.StaffID), o.ConsentMode, o.TotalCents, o.DepositCents, start, end, o.NoticeVersionID, Stamp(now), o.StoreID, o.Status).Scan(&o.ID); err != nil {
			return err
		}
		for i, it := range in.Items {
			if _, err := tx.ExecContext(ctx, `INSERT INTO order_items (order_id, position, description, quantity, unit_price_cents, vat_rate_percent, supply_days) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				o.ID, i+1, it.Description, it.Quantity, it.UnitPriceCents, it.VATRatePercent, it.SupplyDays); err != nil {
				return err
			}
		}
		evidence := ""
		if signature != nil {
			evidence = SHA256Hex(signature)
			if err := insertDocument(ctx, tx, cust.ID, o.ID, "signature", "image/png", signature, now); err != nil {
				return err
			}
			o.SignatureSHA256 = evidence
		}
		base := consent.Event{CustomerID: cust.ID, Action: consent.Grant, Source: consent.CounterTablet, Actor: consent.ByCustomer,
			NoticeVersionID: notice.ID, NoticeSHA256: notice.SHA256, OrderID: o.ID, StaffID: in.StaffID, EvidenceSHA256: evidence, CreatedAt: Stamp(now)}
		if in.APIToken != "" {
			base.Source, base.Actor, base.APIToken = consent.API, consent.ByAPI, in.APIToken
		}
		if rep != nil {
			base.Representative, base.RepresentativeOf = rep.Name, rep.Relationship
		}

		if in.Prescription != nil {
			basis := ctrl.HealthLegalBasis()
			store := basis == consent.BasisHealthCare || (in.Consent.Mode == ModeTablet && in.Consent.HealthData)
			if store && basis == consent.BasisExplicitConsent {
				e := base
				e.Channel, e.LegalBasis, e.OptInLevel = consent.HealthData, consent.BasisExplicitConsent, consent.SingleOptIn
				if err := consent.Append(ctx, tx, &e); err != nil {
					return err
				}
				out.Events = append(out.Events, e)
			}
			if store {
				if err := db.insertPrescription(ctx, tx, o.ID, cust.ID, *in.Prescription, basis, now); err != nil {
					return err
				}
				out.PrescriptionStored = true
				o.HasPrescription = true
			}
		}

		if in.Consent.Mode == ModeTablet {
			granted, err := db.grantCells(ctx, tx, ctrl, cust, history, cells, in.Consent.askedChannels(in.APIToken != ""), base, in.APIToken == "")
			if err != nil {
				return err
			}
			out.Events = append(out.Events, granted...)
		}
		// The mails commit with the order, or not at all.
		// The e-mail state after this order's events decides whether the
		// thank-you mail may carry advertising (UWG §7(3) or consent).
		if cust.Email != "" {
			after := consent.Derive(append(history, out.Events...))
			if _, err := followup.EnqueueWith(ctx, tx, ctrl, after[consent.Email], followup.Job{Kind: followup.ThankYou, CustomerID: cust.ID, OrderID: o.ID, SaleAddress: true, StoreID: o.StoreID, Child: cust.Child(now)}, now); err != nil {
				return err
			}
		}
		if err := queueConfirmations(ctx, tx, ctrl, cust.ID, out.Events, now); err != nil {
			return err
		}
		o.StaffName = staffName(ctx, tx, in.StaffID)
		out.Order, out.Customer = o, cust
		if in.IdempotencyKey != "" {
			if _, err := tx.ExecContext(ctx, `INSERT INTO api_idempotency (key_hash, order_id, created_at, body_sha256) VALUES (?, ?, ?, ?)
				ON CONFLICT (key_hash) DO UPDATE SET order_id = excluded.order_id, created_at = excluded.created_at, body_sha256 = excluded.body_sha256`,
				idempotencyHash(in.APITokenID, o.StoreID, in.IdempotencyKey), o.ID, Stamp(now), in.BodySHA256); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Placed{}, err
	}
	if out.Replayed {
		slog.Info("order replayed for its idempotency key", "order_id", out.Order.ID)
		return out, nil
	}
	db.mailQueued()
	slog.Info("order placed", "order_id", out.Order.ID, "customer_id", out.Customer.ID, "events", len(out.Events), "prescription", out.PrescriptionStored)
	return out, nil
}

func staffName(ctx context.Context, q consent.Querier, id int64) string {
	var name string
	if id != 0 {
		q.QueryRowContext(ctx, `SELECT name FROM staff WHERE id = ?`, id).Scan(&name)
	}
	return name
}

func insertDocument(ctx context.Context, tx consent.Tx, customerID, orderID int64, kind, mime string, data []byte, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO documents (customer_id, order_id, kind, mime, sha256, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		customerID, nullID(orderID), kind, mime, SHA256Hex(data), data, Stamp(now))
	return err
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// setCustomerLang records the language the customer chose on their screen,
// logged like any correction (GDPR Art. 16).
func setCustomerLang(ctx context.Context, tx consent.Tx, c *Customer, lang string, staffID int64, now time.Time) error {
	if lang != "de" && lang != "en" {
		return &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"lang": "err.choice_invalid"}}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE customers SET lang = ?, updated_at = ? WHERE id = ?`, lang, Stamp(now), c.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO customer_changes (customer_id, staff_id, field, old_value, new_value, created_at) VALUES (?, ?, 'lang', ?, ?, ?)`,
		c.ID, nullID(staffID), c.Lang, lang, Stamp(now)); err != nil {
		return err
	}
	c.Lang = lang
	return nil
}

// needsEvidence refuses what another program may not grant on the
// customer's word alone (Art. 7(1); CJEU C-61/19): through the API, a
// grant of post, SMS or phone, and the prescription consent, need the
// customer's signature, as RecordConsents asks a scan of staff. E-mail
// is exempt: an e-mail grant through the API waits for the customer's own
// double opt-in.
func needsEvidence(in NewOrder, cells []consent.Cell, field string) error {
	if in.APIToken == "" || in.Consent.Mode != ModeTablet || len(in.Consent.SignaturePNG) > 0 {
		return nil
	}
	f := consentdesk.FieldErrors{}
	for _, cell := range cells {
		if cell.Channel != consent.Email {
			f.Add(field+"."+string(cell.Channel), "err.grant_needs_signature")
		}
	}
	if in.Consent.HealthData && in.Prescription != nil {
		f.Add("consent.health_data", "err.grant_needs_signature")
	}
	return f.Err()
}

// grantCells records the customer's answer at the counter (or the API's
// order): a grant for each cell chosen that does not stand already, and
// a decline for each cell of an asked channel, with a contact, that was
// left off and has no state yet, so that §7(3) UWG knows who was asked
// (EDPB Guidelines 05/2020, §6). history is the customer's events before.
func (db *DB) grantCells(ctx context.Context, tx consent.Tx, ctrl consent.Controller, cust Customer, history []consent.Event,
	cells []consent.Cell, asked map[consent.Channel]bool, base consent.Event, own bool) ([]consent.Event, error) {
	byTopic := consent.DeriveTopics(history, consent.EventTopics(history, ctrl.TopicKeys()))
	chosen := map[consent.Cell]bool{}
	for _, c := range cells {
		chosen[c] = true
	}
	var out []consent.Event
	appendEvent := func(e consent.Event) error {
		if err := consent.Append(ctx, tx, &e); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	}
	lifted := map[consent.Channel]bool{}
	declines := map[consent.Channel][]string{}
	for _, cell := range ctrl.AskedCells(cust.Contact) {
		st := byTopic[cell.Channel][cell.Topic]
		switch {
		case st.State == consent.Granted || st.State == consent.Pending:
			continue // already given; a second grant would prove nothing new
		case !chosen[cell]:
			if asked[cell.Channel] && st.State == consent.None && !st.Declined {
				declines[cell.Channel] = append(declines[cell.Channel], cell.Topic)
			}
			continue
		}
		if !lifted[cell.Channel] {
			// Only the customer's own tap at the counter lifts a block
			// left by an earlier objection or erasure.
			u, err := db.liftBlock(ctx, tx, cust, cell.Channel, base, own, "consent.channels."+string(cell.Channel))
			if err != nil {
				return nil, err
			}
			if u != nil {
				out = append(out, *u)
			}
			lifted[cell.Channel] = true
		}
		e := base
		e.Channel, e.Action, e.LegalBasis, e.OptInLevel, e.Contact, e.Topic = cell.Channel, consent.Grant, consent.BasisConsent, consent.SingleOptIn, cust.Contact(cell.Channel), cell.Topic
		if cell.Channel == consent.Email && (ctrl.DoubleOptIn || (base.Actor == consent.ByAPI && base.EvidenceSHA256 == "")) {
			// Pending until the customer confirms (BGH I ZR 164/09);
			// through the API without the customer's signature always,
			// as RecordConsents does: only their click proves it.
			e.OptInLevel = consent.ConfirmedOptIn
		}
		if err := appendEvent(e); err != nil {
			return nil, err
		}
	}
	for _, ch := range consent.Channels {
		topics := declines[ch]
		if len(topics) == 0 {
			continue
		}
		if len(topics) == len(ctrl.TopicKeys()) {
			// Every topic of the channel left off: one event says so.
			topics = []string{consent.AllTopics}
		}
		for _, t := range topics {
			e := base
			e.Channel, e.Action, e.LegalBasis, e.OptInLevel, e.Contact, e.Topic = ch, consent.Decline, consent.BasisConsent, "", cust.Contact(ch), t
			if err := appendEvent(e); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
