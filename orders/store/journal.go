package store

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk/consent"
)

// The withdrawal journal (`consentdesk.db.withdrawals`, beside the
// database and outside the backups folder) lists every withdrawal the
// ledger received and every change of the blocking list, one line each,
// synced to the disk before the customer hears "done". A restore of an
// older backup applies it again (orders, journal.go): a withdrawal or an
// objection made after the backup stands (GDPR Art. 7(3), Art. 21(3),
// §7 UWG). It holds numbers and hashes, never a contact:
//
//	withdraw TIME SEQ HASH CUSTOMER IDENTITY CHANNEL TOPIC
//	block    TIME CHANNEL KEYHASH REASON
//	lift     TIME CHANNEL KEYHASH
//	synced   TIME          every withdrawal the ledger held at TIME is above
//
// IDENTITY is the hash of the customer's first event ("-" for none): a
// customer number a restored database gave to somebody else is not taken
// for the customer who withdrew.

// JournalPath is where the withdrawal journal of the database at path is
// kept.
func JournalPath(dbPath string) string { return dbPath + ".withdrawals" }

// JournalLine is one line of the journal.
type JournalLine struct {
	consent.JournalEntry
	At   time.Time
	Line int
}

// journalSynced marks a "synced" line.
const journalSynced consent.JournalKind = "synced"

// AppendJournal adds entries to the journal, synced to the disk before it
// returns; a "synced" line where synced is set.
func AppendJournal(dbPath string, entries []consent.JournalEntry, now time.Time, synced bool) error {
	if len(entries) == 0 && !synced {
		return nil
	}
	var b strings.Builder
	at := now.UTC().Format(time.RFC3339Nano)
	for _, e := range entries {
		switch e.Kind {
		case consent.JournalWithdraw:
			fmt.Fprintf(&b, "withdraw %s %d %s %d %s %s %s\n", at, e.Seq, e.Hash, e.Customer, e.Identity, e.Channel, word(e.Topic))
		case consent.JournalBlock:
			fmt.Fprintf(&b, "block %s %s %s %s\n", at, e.Channel, e.KeyHash, word(string(e.Reason)))
		case consent.JournalLift:
			fmt.Fprintf(&b, "lift %s %s %s\n", at, e.Channel, e.KeyHash)
		default:
			return fmt.Errorf("withdrawal journal: unknown entry %q", e.Kind)
		}
	}
	if synced {
		fmt.Fprintf(&b, "synced %s\n", at)
	}
	f, err := os.OpenFile(JournalPath(dbPath), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("withdrawal journal: %w", err)
	}
	_, err = f.WriteString(b.String())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("withdrawal journal: %w", err)
	}
	return nil
}

// word keeps a field one word: an empty one is "-".
func word(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\r") {
		return "-"
	}
	return s
}

func unword(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// ReadJournal returns the journal's lines in order, and the time of its
// newest "synced" line (zero for none); none when there is no journal.
func ReadJournal(dbPath string) ([]JournalLine, time.Time, error) {
	var synced time.Time
	f, err := os.Open(JournalPath(dbPath))
	if errors.Is(err, os.ErrNotExist) {
		return nil, synced, nil
	}
	if err != nil {
		return nil, synced, fmt.Errorf("withdrawal journal: %w", err)
	}
	defer f.Close()
	var out []JournalLine
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		p := strings.Fields(sc.Text())
		if len(p) == 0 {
			continue
		}
		bad := fmt.Errorf("withdrawal journal: %s line %d is not an entry: the file was changed by hand", JournalPath(dbPath), n)
		if len(p) < 2 {
			return nil, synced, bad
		}
		at, err := time.Parse(time.RFC3339Nano, p[1])
		if err != nil {
			return nil, synced, bad
		}
		l := JournalLine{At: at, Line: n}
		l.Kind = consent.JournalKind(p[0])
		switch {
		case l.Kind == journalSynced && len(p) == 2:
			synced = at
			continue
		case l.Kind == consent.JournalWithdraw && len(p) == 8:
			l.Seq, err = strconv.ParseInt(p[2], 10, 64)
			var cerr error
			l.Customer, cerr = strconv.ParseInt(p[4], 10, 64)
			l.Hash, l.Identity, l.Channel, l.Topic = p[3], p[5], consent.Channel(p[6]), unword(p[7])
			if err != nil || cerr != nil {
				return nil, synced, bad
			}
		case l.Kind == consent.JournalBlock && len(p) == 5:
			l.Channel, l.KeyHash, l.Reason = consent.Channel(p[2]), p[3], consent.BlockReason(unword(p[4]))
		case l.Kind == consent.JournalLift && len(p) == 4:
			l.Channel, l.KeyHash = consent.Channel(p[2]), p[3]
		default:
			return nil, synced, bad
		}
		out = append(out, l)
	}
	return out, synced, sc.Err()
}
