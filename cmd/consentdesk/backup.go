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

// restore puts a backup in place of the database. The backup's ledger is
// checked first, the current database is moved aside rather than
// overwritten, and the result is opened (bringing an older backup's
// schema up to date) and checked again.
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
	var (
		v                   consent.Verification
		headSeq             int64
		headHash, aside, db string
		opts                orders.Options
	)
	if store.IsPostgres(*flags.db) {
		// pg_restore into a new database, checked, then renamed into
		// place (store.RestorePostgres).
		db, opts.Files = *flags.db, base
		if v, headSeq, headHash, aside, err = store.RestorePostgres(ctx, db, *from, *force, time.Now()); err != nil {
			return err
		}
	} else {
		if v, headSeq, headHash, err = store.VerifyFile(ctx, *from); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if !v.OK {
			return fmt.Errorf("restore: the backup's consent ledger is broken at event %d (%s); nothing was changed", v.Broken, v.Reason)
		}
		db = *flags.db
		// A running server keeps the shared-memory file of WAL mode open; a
		// clean stop removes it.
		if _, err := os.Stat(db + "-shm"); err == nil && !*force {
			return fmt.Errorf("restore: %s looks in use (%s-shm exists): stop the server first; after a crash, use --force", db, db)
		}
		if _, err := os.Stat(db); err == nil {
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
	if _, err := os.Stat(base + ".key"); os.IsNotExist(err) {
		if _, err := os.Stat(*from + ".key"); err == nil {
			if err := copyFile(*from+".key", base+".key"); err != nil {
				return fmt.Errorf("restore: key file: %w", err)
			}
		} else {
			fmt.Fprintf(stdout, "warning: no key file beside %s or %s: prescriptions in the backup cannot be read and printed QR codes stop working\n", base, *from)
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
	fmt.Fprintf(stdout, "restored %s from %s: consent ledger intact, %d events\n", restored.Name(), *from, v.Events)
	fmt.Fprintf(stdout, "erasure list applied: %d customer(s) erased again\n", len(again))
	if aside != "" {
		fmt.Fprintf(stdout, "the previous database is kept as %s until %s, then deleted by the server\n", aside, time.Now().Add(store.AsideKeep).Format("2006-01-02"))
	}
	return nil
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
