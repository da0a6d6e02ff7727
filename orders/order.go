package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
)

// Item is one line of an order. Prices are gross (VAT included), as
// shown to consumers (PAngV).
type Item struct {
	Description    string `json:"description"`
	Quantity       int64  `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	VATRatePercent int64  `json:"vat_rate_percent"`
	// SupplyDays is how long the item lasts (contact lenses, in days): the
	// reorder recall counts from it. 0 for everything else.
	SupplyDays int64 `json:"supply_days,omitempty"`
}

// LineCents is quantity times unit price.
func (i Item) LineCents() int64 { return i.Quantity * i.UnitPriceCents }

// Pickup is the appointment to collect the order.
type Pickup struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// IsZero reports whether no appointment was made.
func (p Pickup) IsZero() bool { return p.Start.IsZero() }

// Order as stored.
type Order struct {
	ID              int64     `json:"id"`
	Number          string    `json:"number"`
	CustomerID      int64     `json:"customer_id"`
	StaffID         int64     `json:"staff_id,omitempty"`
	StaffName       string    `json:"staff_name,omitempty"`
	StoreID         int64     `json:"store_id"`   // where the order was taken
	StoreName       string    `json:"store_name"` // that store's name
	ConsentMode     string    `json:"consent_mode"`
	Items           []Item    `json:"items"`
	TotalCents      int64     `json:"total_cents"`
	DepositCents    int64     `json:"deposit_cents"`
	Pickup          *Pickup   `json:"pickup,omitempty"`
	NoticeVersionID string    `json:"notice_version"`
	Status          string    `json:"status"`
	CreatedAt       time.Time `json:"created_at"`
	HasPrescription bool      `json:"has_prescription"`
	SignatureSHA256 string    `json:"signature_sha256,omitempty"`
	// RestrictedUntil is set on an order kept after its customer's
	// erasure for §147 AO / §257 HGB: locked until that day (§35(3)
	// BDSG, Art. 18 GDPR), shown to a manager only, never mailed.
	RestrictedUntil string `json:"restricted_until,omitempty"`
}

// Restricted reports whether the order is kept only because the law
// says so, and locked.
func (o Order) Restricted() bool { return o.RestrictedUntil != "" }

// BalanceCents is what is left to pay at pickup.
func (o Order) BalanceCents() int64 { return o.TotalCents - o.DepositCents }

// VATLine is the VAT contained in the total for one rate.
type VATLine struct {
	RatePercent int64
	GrossCents  int64
	VATCents    int64
}

// VAT splits the total by rate. VAT contained in a gross amount is
// gross × rate / (100 + rate), rounded half up, once per rate.
func VAT(items []Item) []VATLine {
	byRate := map[int64]int64{}
	for _, it := range items {
		byRate[it.VATRatePercent] += it.LineCents()
	}
	var out []VATLine
	for rate, gross := range byRate {
		out = append(out, VATLine{RatePercent: rate, GrossCents: gross, VATCents: (gross*rate*2 + (100 + rate)) / (2 * (100 + rate))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RatePercent > out[j].RatePercent })
	return out
}

// Total is the sum of the lines.
func Total(items []Item) int64 {
	var t int64
	for _, it := range items {
		t += it.LineCents()
	}
	return t
}

const (
	maxItems     = 50
	maxQuantity  = 999
	maxUnitCents = 10_000_000 // 100,000 €
)

func validateItems(f consentdesk.FieldErrors, items []Item) []Item {
	if len(items) == 0 {
		f.Add("items", "err.items_required")
	}
	if len(items) > maxItems {
		f.Add("items", "err.too_many_items")
		return nil
	}
	out := make([]Item, 0, len(items))
	for i, it := range items {
		p := fmt.Sprintf("items.%d.", i)
		it.Description = cleanText(f, p+"description", it.Description, maxText)
		if it.Description == "" {
			f.Add(p+"description", "err.required")
		}
		if it.Quantity < 1 || it.Quantity > maxQuantity {
			f.Add(p+"quantity", "err.quantity_range")
		}
		if it.UnitPriceCents < 0 || it.UnitPriceCents > maxUnitCents {
			f.Add(p+"unit_price_cents", "err.price_range")
		}
		if it.VATRatePercent != 19 && it.VATRatePercent != 7 {
			f.Add(p+"vat_rate_percent", "err.vat_rate")
		}
		if it.SupplyDays < 0 || it.SupplyDays > 730 {
			f.Add(p+"supply_days", "err.supply_days_range")
		}
		out = append(out, it)
	}
	return out
}

func validatePickup(f consentdesk.FieldErrors, p *Pickup, now time.Time) {
	if p == nil {
		return
	}
	switch {
	case p.Start.IsZero():
		f.Add("pickup.start", "err.required")
	case p.End.IsZero():
		f.Add("pickup.end", "err.required")
	case !p.End.After(p.Start):
		f.Add("pickup.end", "err.pickup_end_before_start")
	case p.End.Sub(p.Start) > 12*time.Hour:
		f.Add("pickup.end", "err.pickup_too_long")
	case p.Start.Before(now.Add(-24 * time.Hour)):
		f.Add("pickup.start", "err.pickup_in_past")
	case p.Start.After(now.AddDate(2, 0, 0)):
		f.Add("pickup.start", "err.pickup_too_far")
	}
}

func nextOrderNumber(ctx context.Context, tx consent.Tx, now time.Time) (string, error) {
	// Each store numbers its own orders ("2026-000042" in the first
	// store, "S2-2026-000042" in store 2): its orders take turns, but
	// stores take orders at the same time, and two stores
	// counting one series would hand out the same number.
	store := ""
	if s := consent.StoreOf(ctx); s != consent.FirstStore {
		store = fmt.Sprintf("S%d-", s)
	}
	prefix := fmt.Sprintf("%s%d-", store, now.Year())
	var last string
	err := tx.QueryRowContext(ctx, `SELECT number FROM orders WHERE number >= ? AND number < ? ORDER BY number DESC LIMIT 1`,
		prefix, fmt.Sprintf("%s%d-", store, now.Year()+1)).Scan(&last)
	var n int
	if err == nil {
		fmt.Sscanf(last[len(prefix):], "%d", &n)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	return fmt.Sprintf("%s%06d", prefix, n+1), nil
}

// Order loads one order with its items.
func (db *DB) Order(ctx context.Context, id int64) (Order, error) {
	return getOrder(ctx, db.sql, id)
}

func getOrder(ctx context.Context, q consent.Querier, id int64) (Order, error) {
	var o Order
	var start, end, created string
	var hasRx bool
	err := q.QueryRowContext(ctx, `SELECT o.id, o.number, o.customer_id, COALESCE(o.staff_id, 0), COALESCE(s.name, ''), o.store_id, st.name, o.consent_mode,
			o.total_cents, o.deposit_cents, o.pickup_start, o.pickup_end, o.notice_version_id, o.status, o.created_at, o.restricted_until,
			EXISTS (SELECT 1 FROM prescriptions p WHERE p.order_id = o.id),
			COALESCE((SELECT d.sha256 FROM documents d WHERE d.order_id = o.id AND d.kind = 'signature'), '')
		FROM orders o LEFT JOIN staff s ON s.id = o.staff_id JOIN stores st ON st.id = o.store_id WHERE o.id = ?`, id).
		Scan(&o.ID, &o.Number, &o.CustomerID, &o.StaffID, &o.StaffName, &o.StoreID, &o.StoreName, &o.ConsentMode, &o.TotalCents, &o.DepositCents,
			&start, &end, &o.NoticeVersionID, &o.Status, &created, &o.RestrictedUntil, &hasRx, &o.SignatureSHA256)
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, consentdesk.Errorf(consentdesk.NotFound, "err.order_not_found")
	}
	if err != nil {
		return Order{}, fmt.Errorf("load order: %w", err)
	}
	// Another store's order is not found where each store is its own
	// controller (franchise.go).
	if store, ok, err := ownStore(ctx, q); err != nil {
		return Order{}, err
	} else if ok && o.StoreID != store {
		return Order{}, consentdesk.Errorf(consentdesk.NotFound, "err.order_not_found")
	}
	o.HasPrescription = hasRx
	if o.CreatedAt, err = storedTime(time.RFC3339Nano, created, "order", "created_at", o.ID); err != nil {
		return Order{}, err
	}
	if start != "" {
		p := Pickup{}
		if p.Start, err = storedTime(time.RFC3339, start, "order", "pickup_start", o.ID); err != nil {
			return Order{}, err
		}
		if p.End, err = storedTime(time.RFC3339, end, "order", "pickup_end", o.ID); err != nil {
			return Order{}, err
		}
		o.Pickup = &p
	}
	rows, err := q.QueryContext(ctx, `SELECT description, quantity, unit_price_cents, vat_rate_percent, supply_days FROM order_items WHERE order_id = ? ORDER BY position`, id)
	if err != nil {
		return Order{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.Description, &it.Quantity, &it.UnitPriceCents, &it.VATRatePercent, &it.SupplyDays); err != nil {
			return Order{}, err
		}
		o.Items = append(o.Items, it)
	}
	return o, rows.Err()
}

// Signature returns the flat PNG the customer signed an order with.
func (db *DB) Signature(ctx context.Context, orderID int64) ([]byte, error) {
	var png []byte
	err := db.sql.QueryRowContext(ctx, `SELECT data FROM documents WHERE order_id = ? AND kind = 'signature'`, orderID).Scan(&png)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return png, err
}
