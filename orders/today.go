package orders

import (
	"context"
	"fmt"
	"time"
)

// DayOrder is one line of the counter's start page.
type DayOrder struct {
	ID           int64
	Number       string
	CustomerName string
	Status       string
	Pickup       *Pickup
	BalanceCents int64
	// CallInstead is the number to call about a ready order whose
	// customer gets no pickup mail (no e-mail address): the call stays
	// owed until the order is collected. "" otherwise.
	CallInstead string
	// NoContact is a ready order whose customer has neither an e-mail
	// address nor a number.
	NoContact bool
}

// CounterDay is what the counter sees first on a working day: today's
// pickups, the orders ready to be collected, and the orders still open.
type CounterDay struct {
	Pickups []DayOrder // pickup appointment today, any status but collected
	Ready   []DayOrder
	Open    []DayOrder
}

// Today gathers the counter's start page for the store's day (Berlin).
// Orders kept only for the law after an erasure are left out.
func (db *DB) Today(ctx context.Context) (CounterDay, error) {
	now := db.Now().In(Berlin)
	start := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, Berlin)
	end := start.AddDate(0, 0, 1)
	// Where each store is its own controller, its counter sees its own
	// orders (franchise.go).
	scope, args, err := storeScope(ctx, db.sql, "o.store_id")
	if err != nil {
		return CounterDay{}, err
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT o.id, o.number, TRIM(c.first_name || ' ' || c.last_name), o.status, o.pickup_start, o.pickup_end,
			o.total_cents - o.deposit_cents, c.email, c.phone, c.mobile
		FROM orders o JOIN customers c ON c.id = o.customer_id
		WHERE o.restricted_until = '' AND o.status IN ('open', 'ready')`+scope+`
		ORDER BY o.pickup_start = '', o.pickup_start, o.id`, args...)
	if err != nil {
		return CounterDay{}, fmt.Errorf("counter day: %w", err)
	}
	defer rows.Close()
	var d CounterDay
	for rows.Next() {
		var o DayOrder
		var ps, pe, email, phone, mobile string
		if err := rows.Scan(&o.ID, &o.Number, &o.CustomerName, &o.Status, &ps, &pe, &o.BalanceCents, &email, &phone, &mobile); err != nil {
			return CounterDay{}, err
		}
		if o.Status == "ready" && email == "" {
			o.CallInstead = CallNumber(Customer{Phone: phone, Mobile: mobile})
			o.NoContact = o.CallInstead == ""
		}
		if ps != "" {
			p := Pickup{}
			var err error
			if p.Start, err = storedTime(time.RFC3339, ps, "order", "pickup_start", o.ID); err != nil {
				return CounterDay{}, err
			}
			if p.End, err = storedTime(time.RFC3339, pe, "order", "pickup_end", o.ID); err != nil {
				return CounterDay{}, err
			}
			o.Pickup = &p
			if !p.Start.Before(start) && p.Start.Before(end) {
				d.Pickups = append(d.Pickups, o)
			}
		}
		if o.Status == "ready" {
			d.Ready = append(d.Ready, o)
		} else {
			d.Open = append(d.Open, o)
		}
	}
	return d, rows.Err()
}
