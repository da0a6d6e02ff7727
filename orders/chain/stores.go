// Package chain is the chain's machinery above the counter's use cases:
// its stores, administered; franchise groups switched on and off; and a
// store's database joining the chain (Join).
package chain

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
)

// The chain's stores, administered: adding and changing a store, and
// making each store its own controller (franchise groups, orders'
// franchise.go) or the chain the one controller again. The stores table
// is this package's; orders reads it for every letterhead.

// companyJSON is what the stores table keeps of a store's company.
func companyJSON(c consent.Company) string {
	if c == (consent.Company{}) {
		return ""
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// checkCompany refuses a store without its own company's name where each
// store is its own controller: its letterhead and its privacy notice
// must name it (Art. 13(1)(a) GDPR).
func checkCompany(ctx context.Context, q consent.Querier, s orders.Store) error {
	on, err := orders.IsFranchise(ctx, q)
	if err != nil || !on || s.Company.Name != "" {
		return err
	}
	return &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"company_name": "err.franchise_company_required"}}
}

// AddStore adds a store to the chain.
func AddStore(ctx context.Context, db *orders.DB, in orders.Store) (orders.Store, error) {
	s, err := orders.CleanStore(in)
	if err != nil {
		return orders.Store{}, err
	}
	err = db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		if err := storeNameFree(ctx, tx, s.Name, 0); err != nil {
			return err
		}
		if err := checkCompany(ctx, tx, s); err != nil {
			return err
		}
		return insertStore(ctx, tx, &s, now)
	})
	if err != nil {
		return orders.Store{}, err
	}
	return s, nil
}

// insertStore adds a cleaned store and, where each store is its own
// controller, publishes its notice.
func insertStore(ctx context.Context, tx consent.Tx, s *orders.Store, now time.Time) error {
	s.CreatedAt = orders.Stamp(now)
	if err := tx.QueryRowContext(ctx, `INSERT INTO stores (name, street, postal_code, city, phone, email, opening_hours, company, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, s.Name, s.Street, s.PostalCode, s.City, s.Phone, s.Email, s.OpeningHours, companyJSON(s.Company), s.CreatedAt, s.CreatedAt).Scan(&s.ID); err != nil {
		return err
	}
	return orders.PublishStoreNotices(ctx, tx, s.ID, 0, now)
}

// UpdateStore changes a store's name, address, phone and opening hours.
func UpdateStore(ctx context.Context, db *orders.DB, in orders.Store) (orders.Store, error) {
	s, err := orders.CleanStore(in)
	if err != nil {
		return orders.Store{}, err
	}
	err = db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		if _, err := orders.StoreWhere(ctx, tx, `id = ?`, s.ID); err != nil {
			return err
		}
		if err := storeNameFree(ctx, tx, s.Name, s.ID); err != nil {
			return err
		}
		if err := checkCompany(ctx, tx, s); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE stores SET name = ?, street = ?, postal_code = ?, city = ?, phone = ?, email = ?, opening_hours = ?, company = ?, updated_at = ? WHERE id = ?`,
			s.Name, s.Street, s.PostalCode, s.City, s.Phone, s.Email, s.OpeningHours, companyJSON(s.Company), orders.Stamp(now), s.ID); err != nil {
			return err
		}
		// Where the store is its own controller, its notice names its
		// company and address: a change is a new version.
		return orders.PublishStoreNotices(ctx, tx, s.ID, 0, now)
	})
	if err != nil {
		return orders.Store{}, err
	}
	return db.Store(ctx, s.ID)
}

func storeNameFree(ctx context.Context, q consent.Querier, name string, except int64) error {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM stores WHERE name = ? COLLATE NOCASE AND id <> ?`, name, except).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return &consentdesk.Error{Code: consentdesk.Conflict, Key: "err.invalid_input", Fields: map[string]string{"name": "err.store_name_taken"}}
	}
	return nil
}

// SetFranchise makes each store its own controller (on) or the chain the
// one controller again, where the chain's data allows it (see above).
func SetFranchise(ctx context.Context, db *orders.DB, on bool, staffID int64) error {
	return db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		ctrl, err := consent.LoadSettings(ctx, tx)
		if err != nil {
			return err
		}
		if ctrl.Franchise == on {
			return nil
		}
		if on {
			var unnamed []string
			stores, err := orders.StoresIn(ctx, tx)
			if err != nil {
				return err
			}
			for _, s := range stores {
				if s.Company.Name == "" {
					unnamed = append(unnamed, s.Name)
				}
			}
			if len(unnamed) > 0 {
				return consentdesk.Errorf(consentdesk.Conflict, "err.franchise_company_missing", strings.Join(unnamed, ", "))
			}
			var shared int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM customers c WHERE
					EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.store_id <> c.store_id)
					OR EXISTS (SELECT 1 FROM consent_events e WHERE e.customer_id = c.id AND COALESCE(e.store_id, 1) <> c.store_id)`).Scan(&shared); err != nil {
				return err
			}
			if shared > 0 {
				return consentdesk.Errorf(consentdesk.Conflict, "err.franchise_shared_customers", shared)
			}
		} else {
			var stores int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(DISTINCT store_id) FROM customers`).Scan(&stores); err != nil {
				return err
			}
			if stores > 1 {
				return consentdesk.Errorf(consentdesk.Conflict, "err.franchise_off_customers", stores)
			}
		}
		if err := consent.SetFranchise(ctx, tx, on, orders.Stamp(now)); err != nil {
			return err
		}
		return orders.PublishStoreNotices(ctx, tx, 0, staffID, now)
	})
}
