package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders/store"
)

// journalMargin is how far before the newest "synced" line a sync reads
// the ledger again: a use case stamps its events when it starts and is
// journalled when it commits.
const journalMargin = time.Hour

// SyncWithdrawalJournal writes to the withdrawal journal what it lacks: a
// withdrawal committed whose line could not be written (a full disk),
// another chain server's withdrawals, and the blocking list as it stands.
// It reads the ledger from the newest "synced" line on (all of it the
// first time) and ends with a "synced" line. It returns how many entries
// it added.
func (db *DB) SyncWithdrawalJournal(ctx context.Context) (int, error) {
	now := db.Now()
	lines, synced, err := store.ReadJournal(db.Path)
	if err != nil {
		return 0, err
	}
	have := map[string]bool{}
	blocked := map[string]bool{} // channel + key hash → the last line was a block
	for _, l := range lines {
		switch l.Kind {
		case consent.JournalWithdraw:
			have[fmt.Sprintf("%d %s", l.Seq, l.Hash)] = true
		case consent.JournalBlock, consent.JournalLift:
			blocked[string(l.Channel)+" "+l.KeyHash] = l.Kind == consent.JournalBlock
		}
	}
	since := ""
	if !synced.IsZero() {
		since = Stamp(synced.Add(-journalMargin))
	}
	var add []consent.JournalEntry
	rows, err := db.sql.QueryContext(ctx, `SELECT seq, hash, customer_id, channel, topic FROM consent_events WHERE action = 'withdraw' AND created_at >= ? ORDER BY seq`, since)
	if err != nil {
		return 0, fmt.Errorf("withdrawal journal: %w", err)
	}
	for rows.Next() {
		var e consent.JournalEntry
		if err := rows.Scan(&e.Seq, &e.Hash, &e.Customer, &e.Channel, &e.Topic); err != nil {
			rows.Close()
			return 0, err
		}
		if !have[fmt.Sprintf("%d %s", e.Seq, e.Hash)] {
			e.Kind = consent.JournalWithdraw
			add = append(add, e)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for i := range add {
		// The customer's first event: the withdrawal's own where it is
		// the first.
		if add[i].Identity, err = firstEventBefore(ctx, db.sql, add[i].Customer, add[i].Seq); err != nil {
			return 0, err
		}
	}
	rows, err = db.sql.QueryContext(ctx, `SELECT channel, key_hash, reason, lifted_at FROM block_list ORDER BY channel, key_hash`)
	if err != nil {
		return 0, fmt.Errorf("withdrawal journal: %w", err)
	}
	for rows.Next() {
		var e consent.JournalEntry
		var lifted string
		if err := rows.Scan(&e.Channel, &e.KeyHash, &e.Reason, &lifted); err != nil {
			rows.Close()
			return 0, err
		}
		last, known := blocked[string(e.Channel)+" "+e.KeyHash]
		switch {
		case lifted == "" && !last:
			e.Kind = consent.JournalBlock
		case lifted != "" && known && last:
			e.Kind = consent.JournalLift
		default:
			continue
		}
		add = append(add, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if err := store.AppendJournal(db.Path, add, now, true); err != nil {
		return 0, err
	}
	if len(add) > 0 {
		slog.Warn("withdrawal journal: entries added that it lacked", "count", len(add))
	}
	return len(add), nil
}

// firstEventBefore is the hash of the customer's first event, "-" where
// the event seq is the first.
func firstEventBefore(ctx context.Context, q consent.Querier, customerID, seq int64) (string, error) {
	var h string
	err := q.QueryRowContext(ctx, `SELECT hash FROM consent_events WHERE customer_id = ? AND seq < ? ORDER BY seq LIMIT 1`, customerID, seq).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "-", nil
	}
	return h, err
}

// Reapplied is what ReapplyWithdrawals did after a restore.
type Reapplied struct {
	Withdrawals int // withdrawals recorded again in the ledger
	Blocks      int // contacts put back on the blocking list
	// NotApplied lists the withdrawals it could not record again, each
	// with the reason: the customer is not in the restored database (the
	// contact's block, where there was an objection, is back all the
	// same), or the number belongs to somebody else there.
	NotApplied []string
}

// ReapplyWithdrawals records again, after a restore of an older backup,
// every withdrawal of the journal that the restored ledger lacks and
// whose cell is not withdrawn there, and puts back every contact whose
// last journal line is a block (GDPR Art. 7(3), Art. 21(3); §35(3)
// BDSG). Each is an event by the system, saying so. A withdrawal the
// restored ledger holds (made before the backup) is left as it is, with
// whatever followed it there.
func (db *DB) ReapplyWithdrawals(ctx context.Context) (Reapplied, error) {
	var out Reapplied
	lines, _, err := store.ReadJournal(db.Path)
	if err != nil {
		return out, err
	}
	ctrl, err := consent.LoadSettings(ctx, db.sql)
	if err != nil {
		return out, err
	}
	last := map[string]store.JournalLine{}
	var order []string
	done := map[string]bool{}
	for _, l := range lines {
		if l.Kind == consent.JournalBlock || l.Kind == consent.JournalLift {
			k := string(l.Channel) + " " + l.KeyHash
			if _, ok := last[k]; !ok {
				order = append(order, k)
			}
			last[k] = l
			continue
		}
		var got string
		err := db.sql.QueryRowContext(ctx, `SELECT hash FROM consent_events WHERE seq = ?`, l.Seq).Scan(&got)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return out, err
		}
		if got == l.Hash {
			continue // in the backup: its history there stands
		}
		cell := fmt.Sprintf("%d %s %s", l.Customer, l.Channel, l.Topic)
		if done[cell] {
			continue
		}
		done[cell] = true
		n, why, err := db.reapplyWithdrawal(ctx, ctrl, l)
		if err != nil {
			return out, fmt.Errorf("withdrawal journal line %d: %w", l.Line, err)
		}
		out.Withdrawals += n
		if why != "" {
			out.NotApplied = append(out.NotApplied, fmt.Sprintf("customer %d, %s/%s, withdrawn %s: %s", l.Customer, l.Channel, topicWord(l.Topic), l.At.Format(time.RFC3339), why))
		}
	}
	for _, k := range order {
		l := last[k]
		if l.Kind != consent.JournalBlock {
			continue
		}
		on, err := consent.BlockedHash(ctx, db.sql, l.Channel, l.KeyHash)
		if err != nil {
			return out, err
		}
		if on {
			continue
		}
		reason := l.Reason
		if reason == "" {
			reason = consent.BlockedByObjection
		}
		if err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
			return consent.BlockHash(ctx, tx, l.Channel, l.KeyHash, reason, Stamp(now))
		}); err != nil {
			return out, err
		}
		out.Blocks++
	}
	if out.Withdrawals > 0 || out.Blocks > 0 || len(out.NotApplied) > 0 {
		slog.Warn("withdrawals applied again after a restore", "withdrawals", out.Withdrawals, "blocks", out.Blocks, "not_applied", len(out.NotApplied))
	}
	return out, nil
}

func topicWord(t string) string {
	if t == "" || t == consent.AllTopics {
		return "all topics"
	}
	return t
}

// reapplyWithdrawal records the journal's withdrawal l again where the
// restored ledger does not show that cell withdrawn. It returns the
// events it appended, or why it could not.
func (db *DB) reapplyWithdrawal(ctx context.Context, ctrl consent.Controller, l store.JournalLine) (int, string, error) {
	n, why := 0, ""
	ctx = db.publicStore(ctx, l.Customer)
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		n, why = 0, ""
		ctx = db.customersStoreIn(ctx, tx, l.Customer)
		cust, err := getCustomer(ctx, tx, l.Customer)
		if consentdesk.ErrorCode(err) == consentdesk.NotFound {
			why = "not in the restored database"
			return nil
		}
		if err != nil {
			return err
		}
		if cust.Erased() {
			return nil // erased again: nothing of theirs is used
		}
		if identity, err := consent.CustomerIdentity(ctx, tx, cust.ID); err != nil {
			return err
		} else if identity != l.Identity {
			why = "the number belongs to another record in the restored database"
			return nil
		}
		events, err := consent.Events(ctx, tx, cust.ID)
		if err != nil {
			return err
		}
		var st consent.State
		switch {
		case l.Channel == consent.HealthData:
			st = consent.Derive(events)[consent.HealthData].State
		case l.Topic == consent.AllTopics:
			st = consent.Summary(consent.DeriveTopics(events, consent.EventTopics(events, ctrl.TopicKeys()))[l.Channel]).State
		default:
			st = consent.DeriveTopic(events, l.Topic)[l.Channel].State
		}
		if st == consent.Withdrawn {
			return nil
		}
		notice, err := currentNoticeRef(ctx, tx, cust.Lang)
		if err != nil {
			return err
		}
		e := consent.Event{CustomerID: cust.ID, Channel: l.Channel, Topic: l.Topic, Action: consent.Withdraw, LegalBasis: ctrl.BasisOf(l.Channel),
			Source: consent.System, Actor: consent.BySystem, NoticeVersionID: notice.ID, NoticeSHA256: notice.SHA256, CreatedAt: Stamp(now),
			Contact: cust.Contact(l.Channel),
			Note:    fmt.Sprintf("restore: the withdrawal of %s (event %d, lost with the restore) recorded again from the withdrawal journal", l.At.Format(time.RFC3339), l.Seq)}
		if l.Channel == consent.HealthData {
			got, _, err := withdrawHealthData(ctx, tx, cust, consent.Derive(events)[consent.HealthData], e)
			if got != nil {
				n = 1
			}
			return err
		}
		if err := consent.Append(ctx, tx, &e); err != nil {
			return err
		}
		n = 1
		return nil
	})
	return n, why, err
}
