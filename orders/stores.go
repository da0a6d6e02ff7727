package orders

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
)

// Store is one of the chain's stores: where orders are taken, consent is
// given and mails come from. The company behind them (the controller,
// its data protection officer, the privacy notice) is the chain's
// (consent.Controller); a store has its own address, phone and opening
// hours for the letterhead, each falling back to the company's when
// empty. Every database has the first store (consent.FirstStore).
type Store struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	Street       string `json:"street,omitempty"`
	PostalCode   string `json:"postal_code,omitempty"`
	City         string `json:"city,omitempty"`
	Phone        string `json:"phone,omitempty"`
	Email        string `json:"email,omitempty"`
	OpeningHours string `json:"opening_hours,omitempty"`
	// Company is the store's own company, the controller of its
	// customers where each store is its own (consent.Controller's
	// Franchise); unused otherwise.
	Company   consent.Company `json:"company,omitempty"`
	CreatedAt string          `json:"created_at,omitempty"`
}

const storeColumns = `id, name, street, postal_code, city, phone, email, opening_hours, company, created_at`

func scanStore(row interface{ Scan(...any) error }) (Store, error) {
	var s Store
	var company string
	err := row.Scan(&s.ID, &s.Name, &s.Street, &s.PostalCode, &s.City, &s.Phone, &s.Email, &s.OpeningHours, &company, &s.CreatedAt)
	if err == nil && company != "" {
		if err := json.Unmarshal([]byte(company), &s.Company); err != nil {
			return s, fmt.Errorf("store %d: its company: %w", s.ID, err)
		}
	}
	return s, err
}

// Stores lists the chain's stores, the first store first.
func (db *DB) Stores(ctx context.Context) ([]Store, error) { return StoresIn(ctx, db.sql) }

// StoresIn lists the stores as q reads them, the first store first.
func StoresIn(ctx context.Context, q consent.Querier) ([]Store, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+storeColumns+` FROM stores ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Store{}
	for rows.Next() {
		s, err := scanStore(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Store returns the store with id.
func (db *DB) Store(ctx context.Context, id int64) (Store, error) {
	return StoreWhere(ctx, db.sql, `id = ?`, id)
}

// StoreByName returns the store of that name, in any case.
func (db *DB) StoreByName(ctx context.Context, name string) (Store, error) {
	return StoreWhere(ctx, db.sql, `name = ? COLLATE NOCASE`, strings.TrimSpace(name))
}

// StoreWhere reads the store the condition where (with one argument)
// names; NotFound where none.
func StoreWhere(ctx context.Context, q consent.Querier, where string, arg any) (Store, error) {
	s, err := scanStore(q.QueryRowContext(ctx, `SELECT `+storeColumns+` FROM stores WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Store{}, consentdesk.Errorf(consentdesk.NotFound, "err.store_not_found")
	}
	return s, err
}

// CleanStore checks a store's fields; the name is required and unique.
func CleanStore(in Store) (Store, error) {
	f := consentdesk.FieldErrors{}
	in.Name = cleanText(f, "name", in.Name, 80)
	if in.Name == "" {
		f.Add("name", "err.required")
	}
	in.Street = cleanText(f, "street", in.Street, 120)
	in.PostalCode = cleanText(f, "postal_code", in.PostalCode, 10)
	in.City = cleanText(f, "city", in.City, 80)
	in.Phone = cleanText(f, "phone", in.Phone, 40)
	in.Email = cleanText(f, "email", in.Email, 254)
	if in.Email != "" {
		if e, ok := NormalizeEmail(in.Email); ok {
			in.Email = e
		} else {
			f.Add("email", "err.email_invalid")
		}
	}
	// Opening hours are free text over a few lines ("Mo–Fr 9–18 Uhr").
	hours := strings.Split(strings.ReplaceAll(strings.TrimSpace(in.OpeningHours), "\r\n", "\n"), "\n")
	for i, h := range hours {
		hours[i] = cleanText(f, "opening_hours", h, 80)
	}
	if len(hours) > 7 {
		f.Add("opening_hours", "err.too_long")
	}
	in.OpeningHours = strings.TrimSpace(strings.Join(hours, "\n"))
	co := &in.Company
	co.Name = cleanText(f, "company_name", co.Name, 200)
	co.LegalForm = cleanText(f, "company_legal_form", co.LegalForm, 40)
	co.Seat = cleanText(f, "company_registered_seat", co.Seat, 80)
	co.RegCourt = cleanText(f, "company_register_court", co.RegCourt, 80)
	co.RegNumber = cleanText(f, "company_register_number", co.RegNumber, 40)
	co.Directors = cleanText(f, "company_managing_directors", co.Directors, 300)
	co.VATID = cleanText(f, "company_vat_id", co.VATID, 20)
	co.DPOContact = cleanText(f, "company_dpo_contact", co.DPOContact, 300)
	co.Authority = cleanText(f, "company_supervisory_authority", co.Authority, 300)
	co.Website = cleanText(f, "company_website", co.Website, 200)
	if co.Website != "" {
		if u, err := url.Parse(co.Website); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			f.Add("company_website", "err.url_invalid")
		}
	}
	return in, f.Err()
}

// Letterhead is the store settings as the customers of store see them
// at the top of a confirmation and in a mail: see StoreLetterhead.
func (db *DB) Letterhead(ctx context.Context, store int64) (consent.Controller, error) {
	ctrl, err := db.Controller(ctx)
	if err != nil {
		return ctrl, err
	}
	return letterhead(ctx, db.sql, ctrl, store)
}

// letterhead is Letterhead with the settings read already. Where each
// store is its own controller, the store's company replaces the chain's.
func letterhead(ctx context.Context, q consent.Querier, ctrl consent.Controller, store int64) (consent.Controller, error) {
	if store == 0 {
		return ctrl, nil
	}
	s, err := StoreWhere(ctx, q, `id = ?`, store)
	if err != nil {
		return ctrl, err
	}
	var stores int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM stores`).Scan(&stores); err != nil {
		return ctrl, err
	}
	ctrl = StoreLetterhead(ctrl, s)
	if ctrl.Franchise {
		ctrl = ctrl.AsCompany(s.Company)
	}
	if stores == 1 {
		ctrl.Branch = "" // one store: the company's name says it
	}
	return ctrl, nil
}

// StoreLetterhead is the controller as a store's customers see it at the
// top of a confirmation and in a mail: the company's name and register
// details (§37a HGB names the seat, which stays), with the store's
// address, phone and e-mail where the store has them. The privacy notice
// names the controller itself (Art. 13(1)(a) GDPR), not this.
func StoreLetterhead(ctrl consent.Controller, s Store) consent.Controller {
	if s.Street != "" || s.City != "" {
		ctrl.Street, ctrl.PostalCode, ctrl.City = s.Street, s.PostalCode, s.City
	}
	if s.Phone != "" {
		ctrl.Phone = s.Phone
	}
	if s.Email != "" {
		ctrl.Email = s.Email
	}
	ctrl.Branch, ctrl.OpeningHours = s.Name, s.OpeningHours
	return ctrl
}

// customerStore is the store of the customer's newest order; the first
// store for a customer without orders. Where each store is its own
// controller, the customer's own store.
func customerStore(ctx context.Context, q consent.Querier, customerID int64) (int64, error) {
	store := consent.FirstStore
	query := `SELECT store_id FROM orders WHERE customer_id = ? ORDER BY id DESC LIMIT 1`
	if on, err := IsFranchise(ctx, q); err != nil {
		return 0, err
	} else if on {
		query = `SELECT store_id FROM customers WHERE id = ?`
	}
	err := q.QueryRowContext(ctx, query, customerID).Scan(&store)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	return store, nil
}

// publicStore readies ctx for a use case of the public pages on the
// customer (an unsubscribe link, the preference page), and the use case
// places itself in the customer's store with customersStoreIn, in its
// transaction: the engine says which of the two finds the store
// (store.DB.StoreBeforeTx).
func (db *DB) publicStore(ctx context.Context, customerID int64) context.Context {
	return db.StoreBeforeTx(ctx, func(ctx context.Context, q consent.Querier) context.Context {
		return inCustomersStore(ctx, q, customerID)
	})
}

// customersStoreIn is publicStore's other half, inside the use case's
// transaction: on SQLite the customer's store; on PostgreSQL ctx as
// publicStore left it, the store whose chain the batch has locked.
func (db *DB) customersStoreIn(ctx context.Context, tx consent.Tx, customerID int64) context.Context {
	return db.StoreInTx(ctx, tx, func(ctx context.Context, q consent.Querier) context.Context {
		return inCustomersStore(ctx, q, customerID)
	})
}

// inCustomersStore returns ctx in the store of the customer's newest
// order, where ctx names no store of its own: what a customer does on
// the public pages (an unsubscribe link, the preference page) is recorded
// in the store they know. The first store for a customer without orders.
func inCustomersStore(ctx context.Context, q consent.Querier, customerID int64) context.Context {
	if _, ok := consent.StoreIn(ctx); ok {
		return ctx
	}
	store, err := customerStore(ctx, q, customerID)
	if err != nil {
		return ctx // the first store, as the ledger takes it without one
	}
	return consent.WithStore(ctx, store)
}
