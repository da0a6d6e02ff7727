package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/consentdesk/consentdesk/consent"
)

// OncePer runs fn if the job called name has not begun a run within
// every, and records this run's start first. Several server processes
// on one chain's database ask at the same hour (retention, expiry and
// backups run once per chain): the claim is a write
// transaction, which they take in turn (on PostgreSQL through the
// writers' advisory lock, lockWriters), so exactly one of them runs the
// job and the others find it claimed. A failed run gives its claim back,
// so that the next asking runs it again. It reports whether fn ran.
func (db *DB) OncePer(ctx context.Context, name string, every time.Duration, fn func(context.Context) error) (bool, error) {
	var prev, claimed string
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		err := tx.QueryRowContext(ctx, `SELECT last_run FROM chain_jobs WHERE name = ?`, name).Scan(&prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if last, err := time.Parse(time.RFC3339Nano, prev); err == nil && now.Sub(last) < every {
			return nil
		}
		claimed = Stamp(now)
		_, err = tx.ExecContext(ctx, `INSERT INTO chain_jobs (name, last_run) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET last_run = excluded.last_run`, name, claimed)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("%s: claim: %w", name, err)
	}
	if claimed == "" {
		return false, nil
	}
	if err := fn(ctx); err != nil {
		if uerr := db.Tx(context.WithoutCancel(ctx), func(ctx context.Context, tx consent.Tx, _ time.Time) error {
			if prev == "" {
				_, err := tx.ExecContext(ctx, `DELETE FROM chain_jobs WHERE name = ? AND last_run = ?`, name, claimed)
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE chain_jobs SET last_run = ? WHERE name = ? AND last_run = ?`, prev, name, claimed)
			return err
		}); uerr != nil {
			return true, fmt.Errorf("%w (and its claim stays: %v)", err, uerr)
		}
		return true, err
	}
	return true, nil
}
