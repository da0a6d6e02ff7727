package followup

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/consentdesk/consentdesk/consent"
)

// The outbox's side of a delivery attempt: the rows the sender
// (followup/send) claims, defers and finishes, in the transactions it
// runs. The sender decides; the outbox's SQL stays here, with its owner.

// RequeueSending queues again the mails "sending" since at least age
// ago, with why as their last error, and says how many.
func RequeueSending(ctx context.Context, tx consent.Tx, age time.Duration, why string, now time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'queued', updated_at = ?, last_error = ? WHERE status = 'sending' AND updated_at <= ?`,
		stamp(now), why, stamp(now.Add(-age)))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ClaimShared takes the oldest due mail of an outbox several server
// processes send from (a chain's PostgreSQL database) and marks it
// "sending", counting the attempt, in one statement of its own: a row
// another sender has locked is skipped, not waited for, and the status is
// checked again on the row itself. done reports that none was due.
func ClaimShared(ctx context.Context, q *sql.DB, now time.Time) (m Mail, done bool, err error) {
	err = scanMail(q.QueryRowContext(ctx, `UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = ?
		WHERE status = 'queued' AND id = (SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= ?
			ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+mailColumns, stamp(now), stamp(now)), &m)
	if errors.Is(err, sql.ErrNoRows) {
		return m, true, nil
	}
	return m, false, err
}

// Claim is ClaimShared for one store's database, inside a write
// transaction, so that no other writer sees the mail queued between the
// read and the update.
func Claim(ctx context.Context, tx consent.Tx, now time.Time) (m Mail, done bool, err error) {
	err = scanMail(tx.QueryRowContext(ctx, `SELECT `+mailColumns+` FROM outbox WHERE status = 'queued' AND next_attempt_at <= ?
	ORDER BY next_attempt_at, id LIMIT 1`, stamp(now)), &m)
	if errors.Is(err, sql.ErrNoRows) {
		return m, true, nil
	}
	if err != nil {
		return m, false, err
	}
	if _, err = tx.ExecContext(ctx, `UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ?`, stamp(now), m.ID); err != nil {
		return m, false, err
	}
	m.Attempts++
	return m, false, nil
}

// Defer queues a mail that is still "sending" again, for next.
func Defer(ctx context.Context, tx consent.Tx, id int64, next time.Time, lastError, subject string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'queued', next_attempt_at = ?, last_error = ?, subject = ?, updated_at = ? WHERE id = ? AND status = 'sending'`,
		stamp(next), lastError, subject, stamp(now), id)
	return err
}

// Suppress marks a mail not sent, for reason. A thank-you or pickup mail
// that carried advertising is queued again without it when withAddress
// (the customer objected to advertising, not to hearing when the glasses
// are ready: GDPR Art. 6(1)(b)); it returns that mail's id.
func Suppress(ctx context.Context, tx consent.Tx, m Mail, reason string, withAddress bool, now time.Time) (int64, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'suppressed', last_error = ?, updated_at = ? WHERE id = ? AND status = 'sending'`, reason, stamp(now), m.ID); err != nil {
		return 0, err
	}
	if !m.Marketing || m.Kind == DoubleOptIn || !withAddress {
		return 0, nil
	}
	ctrl, err := consent.LoadSettings(ctx, tx)
	if err != nil {
		return 0, err
	}
	return insert(ctx, tx, ctrl, Job{Kind: m.Kind, CustomerID: m.CustomerID, OrderID: m.OrderID}, false, now)
}

// Finish records an attempt's end: status, the message as sent (raw, or
// nil to keep what the row holds), its subject and the last error. Only
// a mail still marked "sending" is recorded: an erasure (GDPR Art. 17)
// during the attempt has emptied the row, which must not get the message
// back. It reports whether the row was recorded.
func Finish(ctx context.Context, tx consent.Tx, id int64, status Status, raw []byte, subject, lastError string, now time.Time) (bool, error) {
	var rawArg any
	if raw != nil {
		rawArg = raw
	}
	sentAt := ""
	if status == Sent || status == Held {
		sentAt = stamp(now)
	}
	res, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, raw = COALESCE(?, raw), subject = ?, last_error = ?, sent_at = ?, updated_at = ?
	WHERE id = ? AND status = 'sending'`, status, rawArg, subject, lastError, sentAt, stamp(now), id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
