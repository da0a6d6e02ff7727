package orders

import (
	"cmp"
	"context"
	"database/sql/driver"
	"slices"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
)

// Export is everything the store holds about one customer (GDPR Art. 15
// and 20): structured and machine-readable as JSON, and the source of the
// readable PDF.
type Export struct {
	Format      string                  `json:"format"` // "consentdesk-export/1"
	GeneratedAt string                  `json:"generated_at"`
	Controller  ExportController        `json:"controller"`
	Customer    Customer                `json:"customer"`
	Orders      []ExportOrder           `json:"orders"`
	Consents    ExportConsents          `json:"consents"`
	Notices     []consent.NoticeVersion `json:"notice_versions"`
	Mails       []ExportMail            `json:"mails"`
	Documents   []Document              `json:"documents"`
	Changes     []Change                `json:"change_log"`
	AccessLog   []Access                `json:"access_log"`
	Retention   ExportRetention         `json:"retention"`
	// Stores are the stores where the records above happened (their
	// store_id), with their addresses.
	Stores []Store `json:"stores"`
}

// ExportController names the controller and how to reach its DPO
// (Art. 15(1), Art. 13(1)(a), (b)).
type ExportController struct {
	Name       string `json:"name"`
	Address    string `json:"address"`
	Email      string `json:"email"`
	Phone      string `json:"phone"`
	DPOContact string `json:"dpo_contact"`
	Authority  string `json:"supervisory_authority"`
}

// ExportOrder is an order with everything stored on it, the prescription
// decrypted.
type ExportOrder struct {
	Order
	ReadyAt        string              `json:"ready_at,omitempty"`
	BillingName    string              `json:"billing_name,omitempty"`
	BillingAddress string              `json:"billing_address,omitempty"`
	KeptUntil      string              `json:"kept_until"`
	Prescription   *ExportPrescription `json:"prescription,omitempty"`
}

// ExportPrescription is a decrypted prescription with its legal basis.
type ExportPrescription struct {
	LegalBasis consent.LegalBasis `json:"legal_basis"`
	CreatedAt  string             `json:"created_at"`
	KeptUntil  string             `json:"kept_until"`
	Values     Prescription       `json:"values"`
}

// ExportConsents is the state per channel (for offers, what a consent
// meant before topics), the state of every cell (channel, topic), and
// every event.
type ExportConsents struct {
	States map[consent.Channel]consent.ChannelState            `json:"states"`
	Cells  map[consent.Channel]map[string]consent.ChannelState `json:"cells"`
	Events []consent.Event                                     `json:"events"`
}

// ExportMail is a mail with the message as stored.
type ExportMail struct {
	followup.Mail
	Message string `json:"message,omitempty"` // RFC 5322, as sent or held
}

// ExportRetention states how long what is kept (Art. 15(1)(d)).
type ExportRetention struct {
	OrderYears        int    `json:"order_years"`
	OrderRule         string `json:"order_rule"`
	PrescriptionYears int    `json:"prescription_years"`
}

// Export gathers everything held about a customer.
//
// It is one read transaction (Art. 15(3) GDPR: one copy of the data): in
// WAL mode the first read fixes the snapshot, so an order placed or a
// consent withdrawn while the export runs is either wholly in it or not
// at all, never in the events but not the states.
func (db *DB) Export(ctx context.Context, customerID int64) (Export, error) {
	//
	// BEGIN DEFERRED by hand on one connection: BeginTx would issue BEGIN
	// IMMEDIATE (the DSN's _txlock) and hold up every writer meanwhile.
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return Export{}, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, db.BeginSnapshot()); err != nil {
		return Export{}, err
	}
	// Read only, so nothing to commit; ended even when ctx has. A
	// connection whose ROLLBACK failed is thrown away, not pooled while
	// still inside the transaction.
	defer func() {
		if _, err := conn.ExecContext(context.Background(), `ROLLBACK`); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return db.exportIn(ctx, conn, customerID)
}

func (db *DB) exportIn(ctx context.Context, q consent.Querier, customerID int64) (Export, error) {
	cust, err := getCustomer(ctx, q, customerID)
	if err != nil {
		return Export{}, err
	}
	ctrl, err := consent.LoadController(ctx, q)
	if err != nil {
		return Export{}, err
	}
	x := Export{Format: "consentdesk-export/1", GeneratedAt: Stamp(db.Now()), Customer: cust,
		Controller: ExportController{Name: ctrl.Name, Address: ctrl.Address(), Email: ctrl.Email, Phone: ctrl.Phone, DPOContact: ctrl.DPOContact, Authority: ctrl.Authority},
		Retention:  ExportRetention{OrderYears: ctrl.OrderRetention(), OrderRule: keptReason, PrescriptionYears: ctrl.RxRetention()},
		Orders:     []ExportOrder{}, Mails: []ExportMail{}}

	list, err := customerOrdersIn(ctx, q, customerID)
	if err != nil {
		return Export{}, err
	}
	for _, o := range list {
		eo := ExportOrder{Order: o, KeptUntil: consent.RetainUntil(o.CreatedAt, ctrl.OrderRetentionFor(o.DepositCents)).Format("2006-01-02")}
		if err := q.QueryRowContext(ctx, `SELECT ready_at, billing_name, billing_address FROM orders WHERE id = ?`, o.ID).
			Scan(&eo.ReadyAt, &eo.BillingName, &eo.BillingAddress); err != nil {
			return Export{}, err
		}
		if o.HasPrescription {
			rx, err := db.prescriptionIn(ctx, q, o.ID)
			if err != nil {
				return Export{}, err
			}
			if rx != nil {
				ep := ExportPrescription{Values: *rx}
				if err := q.QueryRowContext(ctx, `SELECT legal_basis, created_at FROM prescriptions WHERE order_id = ?`, o.ID).
					Scan(&ep.LegalBasis, &ep.CreatedAt); err != nil {
					return Export{}, err
				}
				t, err := storedTime(time.RFC3339Nano, ep.CreatedAt, "prescription of order", "created_at", o.ID)
				if err != nil {
					return Export{}, err
				}
				ep.KeptUntil = consent.RetainUntil(t, ctrl.RxRetention()).Format("2006-01-02")
				eo.Prescription = &ep
			}
		}
		x.Orders = append(x.Orders, eo)
	}

	events, err := consent.Events(ctx, q, customerID)
	if err != nil {
		return Export{}, err
	}
	if events == nil {
		events = []consent.Event{}
	}
	x.Consents = ExportConsents{States: consent.Derive(events), Cells: consent.DeriveTopics(events, consent.EventTopics(events, ctrl.TopicKeys())), Events: events}
	if x.Notices, err = noticesIn(ctx, q, events); err != nil {
		return Export{}, err
	}

	mails, err := followup.List(ctx, q, followup.Filter{CustomerID: customerID, Limit: 1000})
	if err != nil {
		return Export{}, err
	}
	for i := len(mails) - 1; i >= 0; i-- { // oldest first
		m, err := followup.Get(ctx, q, mails[i].ID)
		if err != nil {
			return Export{}, err
		}
		x.Mails = append(x.Mails, ExportMail{Mail: m, Message: string(m.Raw)})
	}
	if x.Documents, err = documentsIn(ctx, q, customerID, true); err != nil {
		return Export{}, err
	}
	if x.Changes, err = changesIn(ctx, q, customerID); err != nil {
		return Export{}, err
	}
	if x.AccessLog, err = auditLogIn(ctx, q, AuditFilter{CustomerID: customerID, Limit: 1000}); err != nil {
		return Export{}, err
	}
	seen := map[int64]bool{}
	for _, o := range x.Orders {
		seen[o.StoreID] = true
	}
	for _, e := range x.Consents.Events {
		seen[e.Chain()] = true
	}
	for _, m := range x.Mails {
		seen[m.StoreID] = true
	}
	for _, a := range x.AccessLog {
		seen[a.StoreID] = true
	}
	x.Stores = []Store{}
	for id := range seen {
		st, err := StoreWhere(ctx, q, `id = ?`, id)
		if err != nil {
			return Export{}, err
		}
		x.Stores = append(x.Stores, st)
	}
	slices.SortFunc(x.Stores, func(a, b Store) int { return cmp.Compare(a.ID, b.ID) })
	return x, nil
}

// NoticesOf returns each notice version the events refer to, once, in
// the order they first appear: the texts the customer agreed to.
func (db *DB) NoticesOf(ctx context.Context, events []consent.Event) ([]consent.NoticeVersion, error) {
	return noticesIn(ctx, db.sql, events)
}

func noticesIn(ctx context.Context, q consent.Querier, events []consent.Event) ([]consent.NoticeVersion, error) {
	out := []consent.NoticeVersion{}
	seen := map[string]bool{}
	for _, e := range events {
		if e.NoticeVersionID == "" || seen[e.NoticeVersionID] {
			continue
		}
		seen[e.NoticeVersionID] = true
		n, err := consent.Notice(ctx, q, e.NoticeVersionID)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}
