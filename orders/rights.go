package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
)

// Change is one logged change of a customer's details (GDPR Art. 16).
type Change struct {
	ID         int64  `json:"id"`
	CustomerID int64  `json:"customer_id"`
	StaffID    int64  `json:"staff_id,omitempty"`
	StaffName  string `json:"staff_name,omitempty"`
	Field      string `json:"field"`
	OldValue   string `json:"old_value"`
	NewValue   string `json:"new_value"`
	CreatedAt  string `json:"created_at"`
}

// CustomerFields are the details a customer can have corrected, in the
// order the forms show them.
var CustomerFields = []string{"salutation", "first_name", "last_name", "street", "postal_code", "city", "email", "mobile", "phone", "birth_date", "lang"}

func (c Customer) field(name string) string {
	switch name {
	case "salutation":
		return c.Salutation
	case "first_name":
		return c.FirstName
	case "last_name":
		return c.LastName
	case "street":
		return c.Street
	case "postal_code":
		return c.PostalCode
	case "city":
		return c.City
	case "email":
		return c.Email
	case "mobile":
		return c.Mobile
	case "phone":
		return c.Phone
	case "lang":
		return c.Lang
	case "birth_date":
		return c.BirthDate
	}
	return ""
}

// UpdateCustomer corrects a customer's details (GDPR Art. 16) and logs
// each changed field with its old and new value and the staff member, in
// one transaction. It returns the changes made; none when nothing differs.
func (db *DB) UpdateCustomer(ctx context.Context, in Customer, staffID int64) ([]Change, error) {
	return db.UpdateCustomerVia(ctx, in, staffID, "")
}

// UpdateCustomerVia is UpdateCustomer for staff or, with apiToken, for
// another program (PATCH /api/v1/customers/{id}). A changed e-mail address
// or number ends the consent given for the old one, recorded as a close
// event: the consent covered the old contact, and the new one needs a
// fresh grant (a double opt-in, or a signed form).
//
// in.UpdatedAt, when set, is the version the editor started from: if the
// record changed since, nothing is saved and a *StaleEdit tells both
// versions (no lost update of a colleague's correction).
func (db *DB) UpdateCustomerVia(ctx context.Context, in Customer, staffID int64, apiToken string) ([]Change, error) {
	f := consentdesk.FieldErrors{}
	n := in.Normalize(f, "")
	if err := f.Err(); err != nil {
		return nil, err
	}
	var changes []Change
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		old, err := getCustomer(ctx, tx, in.ID)
		if err != nil {
			return err
		}
		if old.Erased() {
			return consentdesk.Errorf(consentdesk.Conflict, "err.customer_erased")
		}
		if in.UpdatedAt != "" && in.UpdatedAt != old.UpdatedAt {
			return &StaleEdit{Current: old, Yours: n}
		}
		for _, name := range CustomerFields {
			if o, v := old.field(name), n.field(name); o != v {
				changes = append(changes, Change{CustomerID: old.ID, StaffID: staffID, Field: name, OldValue: o, NewValue: v, CreatedAt: Stamp(now)})
			}
		}
		if len(changes) == 0 {
			return nil
		}
		n.UpdatedAt = Stamp(now)
		if _, err := tx.ExecContext(ctx, `UPDATE customers SET salutation = ?, first_name = ?, last_name = ?, street = ?, postal_code = ?, city = ?,
			email = ?, mobile = ?, phone = ?, lang = ?, search = ?, birth_date = ?, updated_at = ? WHERE id = ?`,
			n.Salutation, n.FirstName, n.LastName, n.Street, n.PostalCode, n.City, n.Email, n.Mobile, n.Phone, n.Lang, n.SearchKey(), n.BirthDate, n.UpdatedAt, old.ID); err != nil {
			return fmt.Errorf("update customer: %w", err)
		}
		// A contact changed to one on the blocking list is closed at once.
		var changed []consent.Channel
		for _, c := range consent.Channels {
			if old.blockContact(c) != n.blockContact(c) {
				changed = append(changed, c)
			}
		}
		if len(changed) > 0 {
			n.ID = old.ID
			// Any topic given for the old contact ends with it.
			states, err := pendingAnyTopic(ctx, tx, old.ID)
			if err != nil {
				return err
			}
			ctrl, err := consent.LoadSettings(ctx, tx)
			if err != nil {
				return err
			}
			for _, c := range changed {
				st := states[c].State
				// Letters follow the person who moved; a message or a call
				// reaches whoever has the number or address now.
				if c == consent.Post || (st != consent.Granted && st != consent.Pending) {
					continue
				}
				e := consent.Event{CustomerID: old.ID, Channel: c, Action: consent.Close, LegalBasis: ctrl.BasisOf(c), Source: consent.BackOffice,
					Actor: consent.ByStaff, StaffID: staffID, CreatedAt: Stamp(now), Contact: old.Contact(c), Note: "contact changed", Topic: consent.AllTopics}
				if apiToken != "" {
					e.Source, e.Actor, e.APIToken = consent.API, consent.ByAPI, apiToken
				}
				if err := consent.Append(ctx, tx, &e); err != nil {
					return err
				}
				states[c] = consent.Derive([]consent.Event{e})[c]
			}
			if _, err := db.applyBlocks(ctx, tx, n, changed, states, Stamp(now)); err != nil {
				return err
			}
		}
		for i := range changes {
			if err := tx.QueryRowContext(ctx, `INSERT INTO customer_changes (customer_id, staff_id, field, old_value, new_value, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
				old.ID, nullID(staffID), changes[i].Field, changes[i].OldValue, changes[i].NewValue, changes[i].CreatedAt).Scan(&changes[i].ID); err != nil {
				return fmt.Errorf("log change: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return changes, nil
}

// Changes returns the change log of a customer, oldest first.
func (db *DB) Changes(ctx context.Context, customerID int64) ([]Change, error) {
	return changesIn(ctx, db.sql, customerID)
}

func changesIn(ctx context.Context, q consent.Querier, customerID int64) ([]Change, error) {
	rows, err := q.QueryContext(ctx, `SELECT c.id, c.customer_id, COALESCE(c.staff_id, 0), COALESCE(s.name, ''), c.field, c.old_value, c.new_value, c.created_at
		FROM customer_changes c LEFT JOIN staff s ON s.id = c.staff_id WHERE c.customer_id = ? ORDER BY c.id`, customerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Change{}
	for rows.Next() {
		var c Change
		if err := rows.Scan(&c.ID, &c.CustomerID, &c.StaffID, &c.StaffName, &c.Field, &c.OldValue, &c.NewValue, &c.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Audit actions: what somebody did with a customer's data.
const (
	AuditView         = "view"          // opened the customer page
	AuditViewOrder    = "view_order"    // opened an order (with its prescription)
	AuditEdit         = "edit"          // corrected details
	AuditExport       = "export"        // access export, JSON (Art. 15/20)
	AuditExportPDF    = "export_pdf"    // access export, PDF
	AuditProof        = "proof"         // proof of consent PDF
	AuditReceipt      = "receipt"       // consent receipt JSON
	AuditErase        = "erase"         // erasure (Art. 17)
	AuditContactable  = "contactable"   // contactable export of one channel
	AuditConsent      = "consent"       // recorded a consent change for the customer
	AuditStaff        = "staff_change"  // added, disabled or reset a staff member
	AuditUse          = "use"           // recorded an advertising use of a channel (§7a UWG)
	AuditBreachLetter = "breach_letter" // a breach notification letter handed out (Art. 34)
	AuditSearch       = "search"        // searched customers; the detail names the numbers found
	AuditStore        = "store"         // added or changed a store ("add 3", "update 3")
	// AuditViewRestricted is an access to what an erasure kept (§35(3)
	// BDSG): a locked order, the proof of a phone consent, a kept mail;
	// AuditRestrictedDenied an attempt by somebody who may not.
	AuditViewRestricted   = "view_restricted"
	AuditRestrictedDenied = "restricted_denied"
)

// Access is one entry of the audit log. It holds numbers only.
type Access struct {
	ID         int64  `json:"id"`
	StaffID    int64  `json:"staff_id,omitempty"`
	StaffName  string `json:"staff_name,omitempty"`
	TokenID    int64  `json:"api_token_id,omitempty"`
	TokenName  string `json:"api_token_name,omitempty"`
	Action     string `json:"action"`
	CustomerID int64  `json:"customer_id,omitempty"`
	Detail     string `json:"detail,omitempty"`
	CreatedAt  string `json:"created_at"`
	StoreID    int64  `json:"store_id"`   // where the access happened
	StoreName  string `json:"store_name"` // that store's name
}

// LogAccess writes an audit entry. It is called after the access
// succeeded; a failure to log is returned so that the caller can refuse
// to hand out data it could not account for.
func (db *DB) LogAccess(ctx context.Context, a Access) error {
	err := db.Tx(consent.InStore(ctx), func(ctx context.Context, tx consent.Tx, now time.Time) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (staff_id, api_token_id, action, customer_id, detail, created_at, store_id) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			nullID(a.StaffID), nullID(a.TokenID), a.Action, nullID(a.CustomerID), a.Detail, Stamp(now), consent.StoreOf(ctx))
		return err
	})
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// AuditFilter narrows AuditLog.
type AuditFilter struct {
	CustomerID int64
	StaffID    int64
	Limit      int
}

// AuditLog returns audit entries, newest first.
func (db *DB) AuditLog(ctx context.Context, f AuditFilter) ([]Access, error) {
	return auditLogIn(ctx, db.sql, f)
}

func auditLogIn(ctx context.Context, q consent.Querier, f AuditFilter) ([]Access, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 200
	}
	// CAST: PostgreSQL types a parameter compared with the literal 0 as
	// int4, and refused an id above 2,147,483,647 (an error page for
	// /audit?customer=2147483648) instead of finding nothing.
	// Where each store is its own controller, a store's staff read its
	// own log only (franchise.go).
	scope, args, err := storeScope(ctx, q, "a.store_id")
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT a.id, COALESCE(a.staff_id, 0), COALESCE(s.name, ''), COALESCE(a.api_token_id, 0), COALESCE(t.name, ''),
			a.action, COALESCE(a.customer_id, 0), a.detail, a.created_at, a.store_id, st.name
		FROM audit_log a LEFT JOIN staff s ON s.id = a.staff_id LEFT JOIN api_tokens t ON t.id = a.api_token_id JOIN stores st ON st.id = a.store_id
		WHERE (CAST(? AS BIGINT) = 0 OR a.customer_id = ?) AND (CAST(? AS BIGINT) = 0 OR a.staff_id = ?)`+scope+` ORDER BY a.id DESC LIMIT ?`,
		append(append([]any{f.CustomerID, f.CustomerID, f.StaffID, f.StaffID}, args...), f.Limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Access{}
	for rows.Next() {
		var a Access
		if err := rows.Scan(&a.ID, &a.StaffID, &a.StaffName, &a.TokenID, &a.TokenName, &a.Action, &a.CustomerID, &a.Detail, &a.CreatedAt, &a.StoreID, &a.StoreName); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Document is a signature image or a scanned paper form.
type Document struct {
	ID          int64  `json:"id"`
	CustomerID  int64  `json:"customer_id"`
	OrderID     int64  `json:"order_id,omitempty"`
	OrderNumber string `json:"order_number,omitempty"`
	Kind        string `json:"kind"`
	MIME        string `json:"mime"`
	SHA256      string `json:"sha256"`
	CreatedAt   string `json:"created_at"`
	Data        []byte `json:"data,omitempty"` // base64 in JSON
}

// Documents returns a customer's documents; withData loads the bytes.
func (db *DB) Documents(ctx context.Context, customerID int64, withData bool) ([]Document, error) {
	return documentsIn(ctx, db.sql, customerID, withData)
}

func documentsIn(ctx context.Context, q consent.Querier, customerID int64, withData bool) ([]Document, error) {
	rows, err := q.QueryContext(ctx, `SELECT d.id, d.customer_id, COALESCE(d.order_id, 0), COALESCE(o.number, ''), d.kind, d.mime, d.sha256, d.created_at,
			CASE WHEN ? = 1 THEN d.data END
		FROM documents d LEFT JOIN orders o ON o.id = d.order_id WHERE d.customer_id = ? ORDER BY d.id`, withData, customerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Document{}
	for rows.Next() {
		var d Document
		if err := rows.Scan(&d.ID, &d.CustomerID, &d.OrderID, &d.OrderNumber, &d.Kind, &d.MIME, &d.SHA256, &d.CreatedAt, &d.Data); err != nil {
			return nil, err
		}
		if d.Data == nil {
			d.Data = []byte{} // not loaded; both engines' empty blob literals differ, so it is made here
		}
		if len(d.Data) == 0 {
			d.Data = nil
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Document returns one document with its bytes.
func (db *DB) Document(ctx context.Context, id int64) (Document, error) {
	var d Document
	err := db.sql.QueryRowContext(ctx, `SELECT d.id, d.customer_id, COALESCE(d.order_id, 0), COALESCE(o.number, ''), d.kind, d.mime, d.sha256, d.created_at, d.data
		FROM documents d LEFT JOIN orders o ON o.id = d.order_id WHERE d.id = ?`, id).
		Scan(&d.ID, &d.CustomerID, &d.OrderID, &d.OrderNumber, &d.Kind, &d.MIME, &d.SHA256, &d.CreatedAt, &d.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return Document{}, consentdesk.Errorf(consentdesk.NotFound, "err.document_not_found")
	}
	return d, err
}

// CustomerOrders returns a customer's orders, newest first.
func (db *DB) CustomerOrders(ctx context.Context, customerID int64) ([]Order, error) {
	return customerOrdersIn(ctx, db.sql, customerID)
}

func customerOrdersIn(ctx context.Context, q consent.Querier, customerID int64) ([]Order, error) {
	ids, err := consent.IDs(ctx, q, `SELECT id FROM orders WHERE customer_id = ? ORDER BY id DESC`, customerID)
	if err != nil {
		return nil, err
	}
	out := make([]Order, 0, len(ids))
	for _, id := range ids {
		o, err := getOrder(ctx, q, id)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// StaffNames maps every staff member's id to their name, disabled ones
// included, for timelines and logs.
func (db *DB) StaffNames(ctx context.Context) (map[int64]string, error) {
	return db.names(ctx, `SELECT id, name FROM staff`)
}

// StoreNames maps every store's id to its name, for timelines and the
// proof.
func (db *DB) StoreNames(ctx context.Context) (map[int64]string, error) {
	return db.names(ctx, `SELECT id, name FROM stores`)
}

// OrderNumbers maps the ids of a customer's orders to their numbers.
func (db *DB) OrderNumbers(ctx context.Context, customerID int64) (map[int64]string, error) {
	return db.names(ctx, `SELECT id, number FROM orders WHERE customer_id = ?`, customerID)
}

// names reads (id, text) rows into a map.
func (db *DB) names(ctx context.Context, query string, args ...any) (map[int64]string, error) {
	rows, err := db.sql.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		out[id] = name
	}
	return out, rows.Err()
}

// EmailChanged reports whether a customer's e-mail address was ever
// corrected: a confirmation link from before links were bound to their
// address is honoured only where it cannot have gone to another one.
func (db *DB) EmailChanged(ctx context.Context, customerID int64) (bool, error) {
	var n int
	err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM customer_changes WHERE customer_id = ? AND field = 'email'`, customerID).Scan(&n)
	return n > 0, err
}

// StaleEdit is the answer to a save of a customer's details that started
// from an older version: a colleague saved in between. Nothing was saved;
// Current is what is stored, Yours what was sent.
type StaleEdit struct {
	Current Customer
	Yours   Customer
}

func (e *StaleEdit) Error() string { return "conflict: err.customer_changed_meanwhile" }

// Unwrap makes a StaleEdit a conflict for the web layer's status.
func (e *StaleEdit) Unwrap() error {
	return consentdesk.Errorf(consentdesk.Conflict, "err.customer_changed_meanwhile")
}
