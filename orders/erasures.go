package orders

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders/store"
)

// SyncErasureList adds every customer the database shows as erased but
// the list does not name: an erasure whose line could not be written (a
// full disk) is listed at the next start or nightly backup.
func (db *DB) SyncErasureList(ctx context.Context) (int, error) {
	listed, err := store.ReadErased(db.Path)
	if err != nil {
		return 0, err
	}
	on := map[int64]bool{}
	for _, id := range listed {
		on[id] = true
	}
	erased, err := consent.IDs(ctx, db.sql, `SELECT id FROM customers WHERE erased_at <> '' ORDER BY id`)
	if err != nil {
		return 0, err
	}
	var missing []int64
	for _, id := range erased {
		if !on[id] {
			missing = append(missing, id)
		}
	}
	if err := store.AppendErased(db.Path, missing, db.Now()); err != nil {
		return 0, err
	}
	if len(missing) > 0 {
		slog.Warn("erasure list: erased customers added that it did not name", "count", len(missing))
	}
	return len(missing), nil
}

// ReapplyErasures erases again every customer on the erasure list whose
// data a restored backup brought back, and returns their numbers. A
// customer the backup does not have (created after it) is skipped. The
// ledger shows each as an erasure by the system.
func (db *DB) ReapplyErasures(ctx context.Context) ([]int64, error) {
	ids, err := store.ReadErased(db.Path)
	if err != nil {
		return nil, err
	}
	var again []int64
	for _, id := range ids {
		var erasedAt string
		err := db.sql.QueryRowContext(ctx, `SELECT erased_at FROM customers WHERE id = ?`, id).Scan(&erasedAt)
		if err != nil || erasedAt != "" {
			continue // not in this backup, or erased in it already
		}
		if _, err := db.erase(ctx, id, 0, false); err != nil {
			return again, fmt.Errorf("erasure list: customer %d: %w", id, err)
		}
		again = append(again, id)
	}
	if len(again) > 0 {
		slog.Warn("erasures applied again after a restore", "count", len(again))
	}
	return again, nil
}

// backupsHold says how long backups hold an erasure's data: the newest
// nightly backup made before it is rotated out after BackupKeep more
// nights.
func (db *DB) backupsHold(now time.Time) (string, string) {
	if db.Options().BackupKeep <= 0 {
		return "", "ConsentDesk makes no nightly backups here; copies made otherwise hold the data until they are deleted. " +
			"Wird eine Sicherung zurückgespielt, wird die Person erneut gelöscht (Löschliste). / If a backup is restored, the person is erased again (erasure list)."
	}
	until := now.In(Berlin).AddDate(0, 0, db.Options().BackupKeep).Format("2006-01-02")
	return until, fmt.Sprintf("Nächtliche Sicherungen enthalten die Daten noch bis %s (es werden %d Nächte aufbewahrt); wird eine davon zurückgespielt, wird die Person sofort erneut gelöscht (Löschliste). "+
		"/ Nightly backups still hold the data until %s (%d nights are kept); if one is restored, the person is erased again at once (erasure list).", until, db.Options().BackupKeep, until, db.Options().BackupKeep)
}
