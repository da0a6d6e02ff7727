package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/store"
)

// nextBackup is the next time of day at (HH:MM, store time) after now.
func nextBackup(now time.Time, at string) (time.Time, error) {
	h, m, ok := strings.Cut(at, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return time.Time{}, fmt.Errorf("--backup-at %q: give a time of day as HH:MM", at)
	}
	local := now.In(orders.Berlin)
	next := time.Date(local.Year(), local.Month(), local.Day(), hh, mm, 0, 0, orders.Berlin)
	if !next.After(local) {
		next = next.AddDate(0, 0, 1)
	}
	return next, nil
}

// backupLoop writes a backup into dir every night at the given time and
// keeps the newest keep copies (GDPR Art. 32(1)(c): restore availability).
func backupLoop(ctx context.Context, db *orders.DB, dir string, keep int, at string) {
	for {
		next, err := nextBackup(time.Now(), at)
		if err != nil {
			slog.Error("nightly backup", "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		// Once a night for the database, whichever server of a chain
		// asks first (orders.OncePer).
		var path string
		ran, err := db.OncePer(ctx, "nightly backup", 20*time.Hour, func(ctx context.Context) error {
			var err error
			path, err = db.BackupInto(ctx, dir, keep)
			return err
		})
		switch {
		case err != nil:
			slog.Error("nightly backup failed", "err", err)
		case ran:
			slog.Info("nightly backup written", "file", path)
		default:
			slog.Info("nightly backup: another server of the chain made tonight's")
		}
	}
}

// restore puts a backup in place of the database. Before anything is
// changed: the backup's ledger is checked, and so is what it must agree
// with (the heads recorded beside the database, and the key file's
// fingerprint); the withdrawal journal is brought up to date from the
// current database. Then the current database is moved aside rather than
// overwritten, and the result is opened (bringing an older backup's
// schema up to date) and checked again; the erasures and withdrawals
// made since the backup are applied again.
func restore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, flags := newFlags("restore", stderr)
	from := fs.String("from", "", "the backup file to restore")
	force := fs.Bool("force", false, "restore even though the database looks in use (only after a crash)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	base, err := flags.base()
	if err != nil {
		return err
	}
	if *from == "" {
		return errors.New("restore needs --from FILE")
	}
	// The key file the restored database will be opened with: the one in
	// place, else the one beside the backup (copied in place below).
	keyFile := base + ".key"
	if _, err := os.Stat(keyFile); err != nil {
		keyFile = *from + ".key"
		if _, err := os.Stat(keyFile); err != nil {
			return fmt.Errorf("restore: keine Schlüsseldatei unter %s.key oder %s.key; nichts wurde geändert / no key file at %s.key or %s.key: "+
				"put the store's key file (backed up apart from the backups) in place first; nothing was changed", base, *from, base, *from)
		}
	}
	keys, err := store.LoadOrCreateKeys(keyFile)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	anchors, err := store.ReadHeads(base)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	check := func(ctx context.Context, q consent.Querier, headSeq int64) error {
		return store.CheckBackup(ctx, q, headSeq, anchors, keys.Fingerprint())
	}
	var (
		v                   consent.Verification
		headSeq             int64
		headHash, aside, db string
		opts                orders.Options
	)
	if store.IsPostgres(*flags.db) {
		db, opts.Files = *flags.db, base
		// pg_restore into a new database, checked, then renamed into
		// place (store.RestorePostgres); the journal first, from the
		// database it replaces.
		journalBeforeRestore(ctx, db, orders.Options{Files: base}, stdout)
		if v, headSeq, headHash, aside, err = store.RestorePostgres(ctx, db, *from, *force, time.Now(), check); err != nil {
			return err
		}
	} else {
		if v, headSeq, headHash, err = store.VerifyFile(ctx, *from); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if !v.OK {
			return fmt.Errorf("restore: the backup's consent ledger is broken at event %d (%s); nothing was changed", v.Broken, v.Reason)
		}
		if err := store.CheckBackupFile(ctx, *from, headSeq, anchors, keys.Fingerprint()); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		db = *flags.db
		// A running server keeps the shared-memory file of WAL mode open; a
		// clean stop removes it.
		if _, err := os.Stat(db + "-shm"); err == nil && !*force {
			return fmt.Errorf("restore: %s looks in use (%s-shm exists): stop the server first; after a crash, use --force", db, db)
		}
		if _, err := os.Stat(db); err == nil {
			journalBeforeRestore(ctx, db, orders.Options{ReadOnly: true}, stdout)
			aside = fmt.Sprintf("%s.before-restore-%s", db, time.Now().UTC().Format("20060102-150405"))
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Rename(db+suffix, aside+suffix); err != nil && !os.IsNotExist(err) {
					return fmt.Errorf("restore: moving the current database aside: %w", err)
				}
				// Kept a while with personal data in it: its owner's only.
				if err := os.Chmod(aside+suffix, 0o600); err != nil && !os.IsNotExist(err) {
					return fmt.Errorf("restore: %w", err)
				}
			}
		}
		if err := copyFile(*from, db); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	if keyFile != base+".key" {
		if err := copyFile(keyFile, base+".key"); err != nil {
			return fmt.Errorf("restore: key file: %w", err)
		}
	}
	restored, err := orders.Open(ctx, db, assets.Migrations(), opts)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer restored.Close()
	v, err = restored.Verify(ctx)
	if err != nil || !v.OK {
		return fmt.Errorf("restore: the restored ledger does not verify: %+v %v", v, err)
	}
	// Going back to an older backup is on purpose: the heads file records
	// it, and heads above the backup's own are set aside from here on.
	if err := store.AppendHead(base, "restore", headSeq, headHash, *from, time.Now(), v.Chains...); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// The backup may hold customers erased after it was made: the
	// erasure list, kept apart from the backups, erases them again before
	// anything is served (GDPR Art. 17).
	again, err := restored.ReapplyErasures(ctx)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// And consents withdrawn, contacts blocked after it (Art. 7(3),
	// Art. 21(3)): the withdrawal journal.
	re, err := restored.ReapplyWithdrawals(ctx)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stdout, "restored %s from %s: consent ledger intact, %d events\n", restored.Name(), *from, v.Events)
	fmt.Fprintf(stdout, "erasure list applied: %d customer(s) erased again\n", len(again))
	fmt.Fprintf(stdout, "withdrawal journal applied: %d withdrawal(s) recorded again, %d contact(s) put back on the blocking list\n", re.Withdrawals, re.Blocks)
	if len(re.NotApplied) > 0 {
		fmt.Fprintf(stdout, "not applied again (%d):\n", len(re.NotApplied))
		for _, n := range re.NotApplied {
			fmt.Fprintf(stdout, "  %s\n", n)
		}
	}
	if aside != "" {
		fmt.Fprintf(stdout, "the previous database is kept as %s until %s, then deleted by the server\n", aside, time.Now().Add(store.AsideKeep).Format("2006-01-02"))
	}
	return nil
}

// journalBeforeRestore brings the withdrawal journal up to date from the
// database a restore is about to replace (another chain server's
// withdrawals, a line a full disk kept out). A database that cannot be
// opened any more (the reason for many a restore) is left alone: the
// journal holds what was written at each commit.
func journalBeforeRestore(ctx context.Context, location string, opts orders.Options, stdout io.Writer) {
	cur, err := orders.Open(ctx, location, assets.Migrations(), opts)
	if err == nil {
		_, err = cur.SyncWithdrawalJournal(ctx)
		cur.Close()
	}
	if err != nil {
		fmt.Fprintf(stdout, "warning: the withdrawal journal was not brought up to date from the current database (%v); it holds what was written at each commit\n", err)
	}
}

// copyFile copies atomically: a crash leaves the old file or the new.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".restore-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
