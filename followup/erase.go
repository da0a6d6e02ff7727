package followup

import (
	"context"
	"fmt"
	"time"

	"github.com/consentdesk/consentdesk/consent"
)

// Retained is a sent mail an erasure kept, restricted, and until when.
type Retained struct {
	MailID      int64  `json:"mail_id"`
	Kind        Kind   `json:"kind"`
	SentAt      string `json:"sent_at"`
	DeleteAfter string `json:"delete_after"` // YYYY-MM-DD, the last day it is kept
}

// EraseCustomer empties a customer's mails for an erasure (GDPR Art. 17)
// inside the erasure's transaction. The order mails that were sent (the
// thank-you mail with the order, the pickup notice) are copies of
// commercial letters (§257 HGB): they are kept, restricted, until their
// period ends (Art. 17(3)(b)). Every other mail loses its message; a mail
// not yet sent never will be. The server's answer, which may name the
// address, goes from all of them. It returns how many mails were emptied,
// what was kept, and the ids of all the customer's mails (for their .eml
// files).
//
// letterYears is how long a sent order mail is kept: a copy of a
// commercial letter sent (§257(1) Nr. 3, (4) HGB as amended by BEG IV),
// counted from the end of the calendar year it was sent in.
func EraseCustomer(ctx context.Context, tx consent.Tx, customerID int64, letterYears int, now time.Time) (emptied int, kept []Retained, ids []int64, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, kind, status, sent_at FROM outbox WHERE customer_id = ? ORDER BY id`, customerID)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("erase mails: %w", err)
	}
	type row struct {
		id     int64
		kind   Kind
		status Status
		sent   string
	}
	var list []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.kind, &r.status, &r.sent); err != nil {
			rows.Close()
			return 0, nil, nil, err
		}
		list = append(list, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, nil, nil, err
	}
	for _, r := range list {
		ids = append(ids, r.id)
		sent, perr := time.Parse(time.RFC3339Nano, r.sent)
		if r.status == Sent && (r.kind == ThankYou || r.kind == Pickup) && perr == nil {
			until := consent.RetainUntil(sent, letterYears).Format("2006-01-02")
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET last_error = '', retained_until = ?, updated_at = ? WHERE id = ?`, until, stamp(now), r.id); err != nil {
				return 0, nil, nil, fmt.Errorf("erase mails: %w", err)
			}
			kept = append(kept, Retained{MailID: r.id, Kind: r.kind, SentAt: r.sent, DeleteAfter: until})
			continue
		}
		// A mail row stays as a bare trace (kind, status, times).
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET raw = NULL, last_error = '', retained_until = '',
			status = CASE WHEN status IN ('queued', 'sending') THEN 'suppressed' ELSE status END, updated_at = ? WHERE id = ?`, stamp(now), r.id); err != nil {
			return 0, nil, nil, fmt.Errorf("erase mails: %w", err)
		}
		emptied++
	}
	return emptied, kept, ids, nil
}

// ExpireRetained empties the kept mails whose period ended before today
// (YYYY-MM-DD, the store's day), for the retention job.
func ExpireRetained(ctx context.Context, tx consent.Tx, today string, now time.Time) (int, error) {
	res, err := tx.ExecContext(ctx, `UPDATE outbox SET raw = NULL, retained_until = '', updated_at = ? WHERE retained_until <> '' AND retained_until < ?`, stamp(now), today)
	if err != nil {
		return 0, fmt.Errorf("expire kept mails: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// DeleteOrderMails removes the mails of an order that is deleted (its
// retention ended) inside that transaction, and returns their ids, for
// their .eml files.
func DeleteOrderMails(ctx context.Context, tx consent.Tx, orderID int64) ([]int64, error) {
	ids, err := consent.IDs(ctx, tx, `SELECT id FROM outbox WHERE order_id = ?`, orderID)
	if err != nil {
		return nil, fmt.Errorf("delete order mails: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE order_id = ?`, orderID); err != nil {
		return nil, fmt.Errorf("delete order mails: %w", err)
	}
	return ids, nil
}
