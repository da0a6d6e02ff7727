// Package orders holds the counter's use cases, each one transaction:
// customers, orders, items, pickup appointments, prescriptions, staff,
// consents and their rights. The storage under them is orders/store.
package orders

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders/store"
)

// DB is the store's database, with the counter's use cases as its
// methods; the engine's own (Tx, Backup, Verify, …) come with store.DB.
type DB struct {
	*store.DB
	blocks *consent.BlockList
	sql    *consent.Prepared // the engine's readers (store.DB.Read)
}

// Options configure a DB at Open (store.Options).
type Options = store.Options

// Stamp formats a time as stored: RFC 3339 in UTC with nanoseconds.
func Stamp(t time.Time) string { return store.Stamp(t) }

// Open opens (and creates) the database at path, applies the migrations,
// loads or creates the key file beside it, and fills the blocking list
// once from earlier withdrawals where it is empty.
func Open(ctx context.Context, path string, migrations fs.FS, opts Options) (*DB, error) {
	s, err := store.Open(ctx, path, migrations, opts)
	if err != nil {
		return nil, err
	}
	db := wrap(s)
	if opts.ReadOnly {
		return db, nil
	}
	if err := db.backfillBlocks(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("blocking list: %w", err)
	}
	return db, nil
}

func wrap(s *store.DB) *DB {
	return &DB{DB: s, blocks: consent.NewBlockList(s.Keys.Block, s.Keys.BlockKeys()[1:]...), sql: s.Read()}
}

func (db *DB) mailQueued() { db.MailQueued() }

// BackupInto is the engine's backup into dir, with the erasure list and
// the withdrawal journal beside the database brought up to date first: a
// restore of the copy re-applies the erasures and withdrawals made since
// (erasures.go, journal.go).
func (db *DB) BackupInto(ctx context.Context, dir string, keep int) (string, error) {
	if _, err := db.SyncErasureList(ctx); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	if _, err := db.SyncWithdrawalJournal(ctx); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	return db.DB.BackupInto(ctx, dir, keep)
}
