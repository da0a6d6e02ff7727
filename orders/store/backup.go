package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/consentdesk/consentdesk/consent"
)

// BackupPrefix starts the name of every backup the nightly job writes.
const BackupPrefix = "consentdesk-"

// BackupInto writes a consistent copy of the live database into dir,
// named by the time, and beside it a .head file with the ledger's head as
// found in the copy: kept apart from the database, the heads anchor the
// chain, so that events cut from its end would show. It then deletes all
// but the newest keep copies. It returns the copy's path.
func (db *DB) BackupInto(ctx context.Context, dir string, keep int) (string, error) {
	if keep < 1 {
		keep = 1
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	name := filepath.Join(dir, BackupPrefix+db.Now().UTC().Format("20060102-150405")+db.backupExt())
	if _, err := os.Stat(name); err == nil {
		return "", fmt.Errorf("backup: %s exists already", name)
	}
	part := name + ".part"
	os.Remove(part)
	v, seq, hash, err := db.BackupChecked(ctx, part)
	if err != nil {
		os.Remove(part)
		return "", err
	}
	if !v.OK {
		os.Remove(part)
		return "", fmt.Errorf("backup: the copy does not verify: ledger broken at event %d: %s", v.Broken, v.Reason)
	}
	if err := os.Rename(part, name); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	head := fmt.Sprintf("file: %s\nevents: %d\nhead_seq: %d\nhead_hash: %s\n", filepath.Base(name), v.Events, seq, hash)
	for _, c := range v.Chains {
		head += fmt.Sprintf("store_%d: %d events, head %d %s\n", c.Store, c.Events, c.Seq, c.Hash)
	}
	if err := os.WriteFile(name+".head", []byte(head), 0o600); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	// And into the heads file beside the database, which is never
	// rotated: the .head files go with their backups.
	if err := AppendHead(db.Path, "head", seq, hash, name, db.Now(), v.Chains...); err != nil {
		return "", fmt.Errorf("backup: %w", err)
	}
	return name, rotate(dir, keep, db.backupExt())
}

// BackupChecked writes a consistent copy of the live database to file
// and checks the copy's ledger: the verification, and the head it
// reaches, to be recorded apart from the database. On SQLite the copy
// is a database file; on PostgreSQL a pg_dump archive (dialect.go).
func (db *DB) BackupChecked(ctx context.Context, file string) (consent.Verification, int64, string, error) {
	if db.pg {
		return db.dump(ctx, file)
	}
	if err := db.Backup(ctx, file); err != nil {
		os.Remove(file)
		return consent.Verification{}, 0, "", err
	}
	v, seq, hash, err := VerifyFile(ctx, file)
	if err != nil {
		err = fmt.Errorf("backup: the copy does not verify: %w", err)
	}
	return v, seq, hash, err
}

// rotate deletes all but the newest keep backups (names sort by time).
func rotate(dir string, keep int, ext string) error {
	list, err := filepath.Glob(filepath.Join(dir, BackupPrefix+"*"+ext))
	if err != nil {
		return err
	}
	sort.Strings(list)
	for len(list) > keep {
		old := list[0]
		list = list[1:]
		for _, f := range []string{old, old + ".head"} {
			if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("rotate backups: %w", err)
			}
		}
	}
	return nil
}

// VerifyFile checks the ledger of a database file without changing it:
// it is opened as immutable (no lock, no -shm file, no migration, no key
// file), which is right for a backup and for a database no server has
// open, and wrong for a live one: that has its newest pages in its log.
func VerifyFile(ctx context.Context, file string) (consent.Verification, int64, string, error) {
	if _, err := os.Stat(file); err != nil {
		return consent.Verification{}, 0, "", err
	}
	uri := fileURI(file, "mode=ro&immutable=1")
	sdb, err := sql.Open("sqlite", uri)
	if err != nil {
		return consent.Verification{}, 0, "", err
	}
	defer sdb.Close()
	v, err := consent.VerifyReading(ctx, sdb, false, sqliteHashed(uri))
	if err != nil {
		return v, 0, "", fmt.Errorf("%s is not a ConsentDesk database: %w", file, err)
	}
	seq, hash, err := consent.Head(ctx, sdb)
	return v, seq, hash, err
}
