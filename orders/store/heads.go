package store

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk/consent"
)

// The heads file (`consentdesk.db.heads` beside the database, outside the
// backups folder) is the ledger's memory of itself. Every backup appends
// the head it found, one line per backup, and nothing ever rewrites or
// rotates it. Removing the newest events from the end of the ledger
// leaves a chain that verifies on its own; it no longer reaches a head in
// this file, and `consentdesk verify` says so.
//
// Lines, space separated:
//
//	head    TIME SEQ HASH FILE [store:ID:SEQ:HASH …]    a backup found this head
//	restore TIME SEQ HASH FILE [store:ID:SEQ:HASH …]    the database was restored from FILE, whose head this is
//
// SEQ HASH is the ledger's newest event; each store:… field is the head
// of one store's chain: every chain's head is recorded, so that a cut
// in any of them shows.
//
// A restore goes back in time on purpose: heads recorded before it with a
// higher SEQ are set aside by it, and the line says so for ever.

// HeadsPath is where the heads of the database at path are kept.
func HeadsPath(dbPath string) string { return dbPath + ".heads" }

// AppendHead adds a line to the heads file, creating it (mode 0600), and
// syncs it to the disk: the ledger's head and the head of every store's
// chain.
func AppendHead(dbPath, kind string, seq int64, hash, file string, now time.Time, chains ...consent.ChainHead) error {
	if kind != "head" && kind != "restore" {
		return fmt.Errorf("heads: unknown kind %q", kind)
	}
	f, err := os.OpenFile(HeadsPath(dbPath), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("heads: %w", err)
	}
	name := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return '_'
		}
		return r
	}, file)
	line := fmt.Sprintf("%s %s %d %s %s", kind, now.UTC().Format(time.RFC3339), seq, hash, name)
	for _, c := range chains {
		line += fmt.Sprintf(" store:%d:%d:%s", c.Store, c.Seq, c.Hash)
	}
	_, err = fmt.Fprintln(f, line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("heads: %w", err)
	}
	return nil
}

// Anchor is a head the chain must reach.
type Anchor struct {
	Seq  int64
	Hash string
	From string // where it was recorded, for the message
	// Store is the store whose chain's head this is; 0 for the head of
	// the whole ledger.
	Store int64
}

// ParseAnchor reads SEQ:HASH.
func ParseAnchor(s string) (Anchor, error) {
	seqText, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if !ok || err != nil || seq < 1 || len(hash) != 64 || strings.Trim(hash, "0123456789abcdef") != "" {
		return Anchor{}, fmt.Errorf("--anchor %q: give SEQ:HASH, as backup prints it (e.g. 42:%s)", s, strings.Repeat("ab", 32))
	}
	return Anchor{Seq: seq, Hash: hash, From: "--anchor"}, nil
}

// ReadHeads returns the anchors of the heads file that still stand (a
// restore sets aside those above its own head); none when there is no
// file.
func ReadHeads(dbPath string) ([]Anchor, error) {
	f, err := os.Open(HeadsPath(dbPath))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("heads: %w", err)
	}
	defer f.Close()
	var out []Anchor
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		parts := strings.Fields(sc.Text())
		if len(parts) == 0 {
			continue
		}
		if len(parts) < 4 || (parts[0] != "head" && parts[0] != "restore") {
			return nil, fmt.Errorf("heads: %s line %d is not a head: the file was changed by hand", HeadsPath(dbPath), n)
		}
		a, err := ParseAnchor(parts[2] + ":" + parts[3])
		if err != nil {
			return nil, fmt.Errorf("heads: %s line %d: %w", HeadsPath(dbPath), n, err)
		}
		a.From = fmt.Sprintf("%s line %d (%s %s)", HeadsPath(dbPath), n, parts[0], parts[1])
		if parts[0] == "restore" {
			kept := out[:0]
			for _, h := range out {
				if h.Seq <= a.Seq {
					kept = append(kept, h)
				}
			}
			out = kept
		}
		out = append(out, a)
		for _, field := range parts[min(5, len(parts)):] {
			rest, ok := strings.CutPrefix(field, "store:")
			store, anchor, _ := strings.Cut(rest, ":")
			id, err := strconv.ParseInt(store, 10, 64)
			if !ok || err != nil || id < 1 {
				return nil, fmt.Errorf("heads: %s line %d: %q is not a store's head: the file was changed by hand", HeadsPath(dbPath), n, field)
			}
			c, err := ParseAnchor(anchor)
			if err != nil {
				return nil, fmt.Errorf("heads: %s line %d: %w", HeadsPath(dbPath), n, err)
			}
			c.From, c.Store = fmt.Sprintf("%s line %d (%s %s, store %d)", HeadsPath(dbPath), n, parts[0], parts[1], id), id
			out = append(out, c)
		}
	}
	return out, sc.Err()
}

// CheckAnchors checks that the live ledger reaches every anchor; the
// error names the first one it does not reach and where it was recorded.
func (db *DB) CheckAnchors(ctx context.Context, anchors []Anchor) error {
	for _, a := range anchors {
		if err := consent.CheckAnchor(ctx, db.sql, a.Seq, a.Hash); err != nil {
			return &AnchorError{Anchor: a, Err: err}
		}
	}
	return nil
}

// AnchorError is a recorded head the ledger does not reach.
type AnchorError struct {
	Anchor Anchor
	Err    error
}

func (e *AnchorError) Error() string { return fmt.Sprintf("%v (head from %s)", e.Err, e.Anchor.From) }
func (e *AnchorError) Unwrap() error { return e.Err }

// VerifyReach verifies the chain and, when it is intact, that it reaches
// every head in the heads file: what GET /api/v1/ledger/verify answers,
// so that monitoring sees a cut as it sees a broken link.
func (db *DB) VerifyReach(ctx context.Context) (consent.Verification, error) {
	v, err := db.Verify(ctx)
	if err != nil || !v.OK {
		return v, err
	}
	anchors, err := ReadHeads(db.Path)
	if err != nil {
		return v, err
	}
	var cut *AnchorError
	if err := db.CheckAnchors(ctx, anchors); errors.As(err, &cut) {
		v.OK, v.Broken, v.Reason = false, cut.Anchor.Seq, cut.Error()
	} else if err != nil {
		return v, err
	}
	return v, nil
}

// CheckBackup checks a backup before it replaces the database, on q (the
// backup's database, read only), whose ledger ends at headSeq: every head
// recorded in the heads file that the backup's ledger should hold (a seq
// at or below its head) is there with the same hash, and the backup was
// set up with the key file given (fingerprint, Keys.Fingerprint). A
// backup older than a recorded head is a restore back in time, which the
// heads file then records; a backup that contradicts one is a rewritten
// ledger, and is refused before anything is changed.
func CheckBackup(ctx context.Context, q consent.Querier, headSeq int64, anchors []Anchor, fingerprint string) error {
	var migrated int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, keyFingerprintMigration).Scan(&migrated); err != nil {
		return err
	}
	if migrated > 0 {
		var want string
		err := q.QueryRowContext(ctx, `SELECT sha256 FROM key_fingerprint WHERE id = 1`).Scan(&want)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && want != fingerprint {
			return fmt.Errorf("die Sicherung gehört zu einer anderen Schlüsseldatei (Fingerabdruck %s, die vorhandene: %s); nichts wurde geändert / "+
				"the backup belongs to another key file (fingerprint %s, the one in place: %s); nothing was changed", short(want), short(fingerprint), short(want), short(fingerprint))
		}
	}
	for _, a := range anchors {
		if a.Seq > headSeq {
			continue
		}
		if err := consent.CheckAnchor(ctx, q, a.Seq, a.Hash); err != nil {
			return fmt.Errorf("die Sicherung widerspricht einem verzeichneten Stand des Protokolls; nichts wurde geändert / the backup contradicts a recorded head of the ledger; nothing was changed: %w", &AnchorError{Anchor: a, Err: err})
		}
	}
	return nil
}

// CheckBackupFile is CheckBackup on a SQLite backup file.
func CheckBackupFile(ctx context.Context, file string, headSeq int64, anchors []Anchor, fingerprint string) error {
	sdb, err := sql.Open("sqlite", fileURI(file, "mode=ro&immutable=1"))
	if err != nil {
		return err
	}
	defer sdb.Close()
	return CheckBackup(ctx, sdb, headSeq, anchors, fingerprint)
}
