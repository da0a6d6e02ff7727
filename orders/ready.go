package orders

import (
	"context"
	"log/slog"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
)

// MarkReady records that an open order can be collected and queues the
// pickup mail in the same transaction. An order that is not open is
// refused with a conflict and nothing changes.
func (db *DB) MarkReady(ctx context.Context, orderID int64) (Order, error) {
	o, err := db.advance(ctx, orderID, "open", "ready", "err.order_not_open", func(ctx context.Context, tx consent.Tx, o Order, now time.Time) error {
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET ready_at = ? WHERE id = ?`, Stamp(now), o.ID); err != nil {
			return err
		}
		cust, err := getCustomer(ctx, tx, o.CustomerID)
		if err != nil || cust.Email == "" {
			return err
		}
		sale, err := saleAddress(ctx, tx, cust)
		if err != nil {
			return err
		}
		_, err = followup.Enqueue(ctx, tx, followup.Job{Kind: followup.Pickup, CustomerID: o.CustomerID, OrderID: o.ID, SaleAddress: sale, StoreID: o.StoreID, Child: cust.Child(now)}, now)
		return err
	})
	if err != nil {
		return Order{}, err
	}
	db.mailQueued()
	slog.Info("order ready", "order_id", o.ID)
	return o, nil
}

// MarkCollected records that a ready order was picked up: the last step
// of the counter's day. Only a ready order can be collected.
func (db *DB) MarkCollected(ctx context.Context, orderID int64) (Order, error) {
	o, err := db.advance(ctx, orderID, "ready", "collected", "err.order_not_ready", nil)
	if err != nil {
		return Order{}, err
	}
	slog.Info("order collected", "order_id", o.ID)
	return o, nil
}

// advance moves an order from one status to the next in one transaction,
// with then's writes; any other status is a conflict (notKey), and an
// order kept only for the law after an erasure is locked (§35(3) BDSG).
func (db *DB) advance(ctx context.Context, orderID int64, from, to, notKey string, then func(ctx context.Context, tx consent.Tx, o Order, now time.Time) error) (Order, error) {
	var o Order
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		var err error
		if o, err = getOrder(ctx, tx, orderID); err != nil {
			return err
		}
		if o.Restricted() {
			return consentdesk.Errorf(consentdesk.Conflict, "err.order_restricted")
		}
		if o.Status != from {
			return consentdesk.Errorf(consentdesk.Conflict, notKey)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET status = ? WHERE id = ? AND status = ?`, to, o.ID, from); err != nil {
			return err
		}
		o.Status = to
		if then != nil {
			return then(ctx, tx, o, now)
		}
		return nil
	})
	return o, err
}

// ExpireUnconfirmed records an expiry for every e-mail consent that has
// waited longer than the store's confirmation window: without the
// customer's confirmation it never became a consent (BGH I ZR 164/09),
// and the ledger says so instead of leaving it pending for ever.
func (db *DB) ExpireUnconfirmed(ctx context.Context) (int, error) {
	n := 0
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		ctrl, err := consent.LoadController(ctx, tx)
		if err != nil {
			return err
		}
		cutoff := Stamp(now.AddDate(0, 0, -ctrl.ConfirmWindow()))
		// Candidates: customers whose latest e-mail event (a decline of
		// another topic changes nothing) is a grant
		// waiting for confirmation, made before the cutoff (a read of
		// consent's ledger; the expiry is appended through consent).
		rows, err := tx.QueryContext(ctx, `SELECT e.customer_id, e.notice_version_id, e.notice_sha256 FROM consent_events e
			WHERE e.channel = 'email' AND e.seq = (SELECT MAX(seq) FROM consent_events x WHERE x.customer_id = e.customer_id AND x.channel = 'email' AND x.action <> 'decline')
			  AND e.action = 'grant' AND e.opt_in_level = 'confirmed' AND e.created_at < ?`, cutoff)
		if err != nil {
			return err
		}
		var due []consent.Event
		for rows.Next() {
			e := consent.Event{Channel: consent.Email, Action: consent.Expire, LegalBasis: consent.BasisConsent, Source: consent.System,
				Actor: consent.BySystem, CreatedAt: Stamp(now), Topic: consent.AllTopics}
			if err := rows.Scan(&e.CustomerID, &e.NoticeVersionID, &e.NoticeSHA256); err != nil {
				rows.Close()
				return err
			}
			due = append(due, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range due {
			if err := consent.Append(ctx, tx, &due[i]); err != nil {
				return err
			}
		}
		n = len(due)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if n > 0 {
		slog.Info("unconfirmed e-mail consents expired", "count", n)
	}
	return n, nil
}
