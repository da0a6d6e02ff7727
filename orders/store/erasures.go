package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The erasure list (`consentdesk.db.erased`, beside the database and
// outside the backups folder) names every erased customer by number, one
// line per erasure: `erased TIME CUSTOMER_ID`. Backups hold what was
// erased after they were made, so restoring one would bring those
// customers back today (GDPR Art. 17). After every restore the list is
// applied again: each customer on it who is back in the restored database
// is erased once more, before the server serves. The list holds customer
// numbers only, never a name or an address.

// ErasedPath is where the erasure list of the database at path is kept.
func ErasedPath(dbPath string) string { return dbPath + ".erased" }

// AppendErased adds customers to the erasure list, synced to the disk
// before it returns.
func AppendErased(dbPath string, ids []int64, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	f, err := os.OpenFile(ErasedPath(dbPath), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("erasure list: %w", err)
	}
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "erased %s %d\n", now.UTC().Format(time.RFC3339), id)
	}
	_, err = f.WriteString(b.String())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("erasure list: %w", err)
	}
	return nil
}

// ReadErased returns the customer numbers on the erasure list, in the
// order they were erased; none when there is no list.
func ReadErased(dbPath string) ([]int64, error) {
	f, err := os.Open(ErasedPath(dbPath))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("erasure list: %w", err)
	}
	defer f.Close()
	var ids []int64
	seen := map[int64]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		parts := strings.Fields(sc.Text())
		if len(parts) == 0 {
			continue
		}
		id, err := strconv.ParseInt(parts[len(parts)-1], 10, 64)
		if len(parts) != 3 || parts[0] != "erased" || err != nil || id < 1 {
			return nil, fmt.Errorf("erasure list: %s line %d is not an erasure", ErasedPath(dbPath), n)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, sc.Err()
}

// AsideKeep is how long `restore` keeps the database it moved aside
// (`….before-restore-…`) before it is deleted: it holds everything up to
// the restore, erased customers' data included once the list is applied
// to the restored database.
const AsideKeep = 14 * 24 * time.Hour

// RemoveAside deletes what restore moved aside (RemoveOldAside) longer
// ago than keep: files beside a SQLite database, databases beside a
// PostgreSQL one.
func (db *DB) RemoveAside(ctx context.Context, keep time.Duration, now time.Time) ([]string, error) {
	if db.pg {
		return db.removeOldAsideDatabases(ctx, keep, now)
	}
	return RemoveOldAside(db.Path, keep, now)
}

// RemoveOldAside deletes the copies `restore` moved aside beside the
// database that are older than keep, by the time in their name. It
// returns the files it deleted.
func RemoveOldAside(dbPath string, keep time.Duration, now time.Time) ([]string, error) {
	list, err := filepath.Glob(dbPath + ".before-restore-*")
	if err != nil {
		return nil, err
	}
	var gone []string
	for _, f := range list {
		stamp := strings.TrimPrefix(f, dbPath+".before-restore-")
		stamp = strings.TrimSuffix(strings.TrimSuffix(stamp, "-wal"), "-shm")
		t, err := time.Parse("20060102-150405", stamp)
		if err != nil || now.Sub(t) < keep {
			continue
		}
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return gone, fmt.Errorf("remove %s: %w", f, err)
		}
		gone = append(gone, f)
	}
	if len(gone) > 0 {
		slog.Info("old copies from before a restore deleted", "files", len(gone))
	}
	return gone, nil
}
