package orders

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/orders/store"
)

// SmallInvoiceCents is the limit of a small-amount invoice (§33 UStDV):
// up to 250 euros an invoice need not name the recipient, so an erased
// customer's order at or under it keeps no name at all.
const SmallInvoiceCents = 25000

// Kept is an order record an erasure had to keep, and until when.
type Kept struct {
	OrderID     int64    `json:"order_id"`
	Number      string   `json:"number"`
	DeleteAfter string   `json:"delete_after"` // YYYY-MM-DD, the last day it is kept
	Reason      string   `json:"reason"`
	Fields      []string `json:"fields"`
	// Years and FromYear say the same as Reason, for a page in one
	// language: kept Years from the end of FromYear.
	Years    int `json:"years"`
	FromYear int `json:"from_end_of_year"`
}

// PhoneProof is the proof of a phone consent an erasure kept (§7a UWG):
// the events' numbers and the signature or scan, until five years after
// the last grant or use.
type PhoneProof struct {
	Events      int    `json:"events"`    // ledger events whose number is kept
	Documents   int    `json:"documents"` // signatures or scans kept
	LastGrantOr string `json:"last_grant_or_use"`
	DeleteAfter string `json:"delete_after"` // YYYY-MM-DD
	Reason      string `json:"reason"`
}

// Erasure says what an erasure removed and what the law made it keep.
type Erasure struct {
	CustomerID int64  `json:"customer_id"`
	ErasedAt   string `json:"erased_at"`
	Removed    struct {
		ContactDetails bool `json:"contact_details"`
		Prescriptions  int  `json:"prescriptions"`
		Documents      int  `json:"documents"`
		Mails          int  `json:"mails"`
		EventDetails   int  `json:"consent_event_details"`
		Changes        int  `json:"change_log"`
		Orders         int  `json:"orders_past_retention"`
	} `json:"removed"`
	Kept []Kept `json:"kept"`
	// KeptMails are the sent order mails, copies of commercial letters
	// (§257(1) Nr. 3 HGB), kept restricted until their date.
	KeptMails []followup.Retained `json:"kept_mails"`
	// PhoneProof is set when a phone consent was ever given (§7a UWG).
	PhoneProof *PhoneProof `json:"phone_consent_proof,omitempty"`
	// Blocked lists the channels whose contact went on the blocking list,
	// so that a re-import cannot contact the person again (§35(3) BDSG).
	Blocked []consent.Channel `json:"blocked_channels"`
	// LedgerEvents is how many of the customer's consent events stay in
	// the hash chain: pseudonymous, with the customer's number only.
	LedgerEvents int `json:"ledger_events_kept"`
	// Checkpointed reports that the write-ahead log was folded into the
	// database file and truncated, so that no old copy is left in it.
	Checkpointed bool `json:"wal_checkpointed"`
	// Backups says how long backups still hold the erased data, and that
	// a restore erases the customer again (the erasure list).
	Backups BackupsHold `json:"backups"`
}

// BackupsHold is what the erasure's answer says about backups.
type BackupsHold struct {
	// HeldUntil is the day by which the last nightly backup made before
	// the erasure is rotated out (YYYY-MM-DD); empty without nightly
	// backups.
	HeldUntil string `json:"held_until,omitempty"`
	// Listed reports that the customer's number is on the erasure list,
	// which every restore applies again.
	Listed bool   `json:"on_erasure_list"`
	Note   string `json:"note"`
}

// keptReason is the rule that keeps an order record.
const keptReason = "§147 AO, §257 HGB"

// PhoneProofYears is how long the proof of a phone consent is kept after
// the grant and after each use (§7a UWG).
const PhoneProofYears = 5

// Erase erases a customer (GDPR Art. 17) in one transaction:
//
//   - the contact of every channel goes on the blocking list first
//     (§35(3) BDSG, Art. 17(3)(e)), as a keyed hash;
//   - contact details, prescriptions, signatures, scans, mails that are
//     no commercial letters (the stored messages and .eml files), the
//     change log and the personal details of consent events are removed;
//   - order records are kept as §147 AO and §257 HGB require (Art.
//     17(3)(b)), cut to number, date, items, amounts and, over the
//     small-invoice limit, the invoice recipient's name and address; each
//     is restricted (locked) until the date after which the retention job
//     deletes it; orders already past that date go at once;
//   - the sent order mails are kept, restricted, for six years (§257(1)
//     Nr. 3 HGB);
//   - the proof of a phone consent (the number, the signature or scan) is
//     kept, restricted, five years from the last grant or use (§7a UWG);
//   - the ledger gets an erase event per channel, so that its pseudonymous
//     trace shows the erasure, and its hash chain still verifies: the
//     hashed columns never held personal data.
//
// The database is opened with secure_delete, so removed content is
// overwritten in the file; a WAL checkpoint afterwards leaves no copy in
// the log.
func (db *DB) Erase(ctx context.Context, customerID, staffID int64) (Erasure, error) {
	return db.erase(ctx, customerID, staffID, true)
}

// erase erases; list puts the customer on the erasure list (not when the
// list itself is applied again after a restore). staffID 0 is the
// system.
func (db *DB) erase(ctx context.Context, customerID, staffID int64, list bool) (Erasure, error) {
	out := Erasure{CustomerID: customerID, Kept: []Kept{}, KeptMails: []followup.Retained{}, Blocked: []consent.Channel{}}
	var mailIDs []int64
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		cust, err := getCustomer(ctx, tx, customerID)
		if err != nil {
			return err
		}
		if cust.Erased() {
			return consentdesk.Errorf(consentdesk.Conflict, "err.customer_erased")
		}
		ctrl, err := consent.LoadController(ctx, tx)
		if err != nil {
			return err
		}
		out.ErasedAt = Stamp(now)
		for _, ch := range consent.Channels {
			if cust.blockContact(ch) == "" {
				continue
			}
			if err := db.block(ctx, tx, cust, ch, consent.BlockedByErasure, Stamp(now)); err != nil {
				return err
			}
			out.Blocked = append(out.Blocked, ch)
		}
		events, err := consent.Events(ctx, tx, customerID)
		if err != nil {
			return err
		}
		if out.PhoneProof, err = keepPhoneProof(ctx, tx, customerID, events); err != nil {
			return err
		}

		rows, err := tx.QueryContext(ctx, `SELECT id, number, total_cents, deposit_cents, created_at FROM orders WHERE customer_id = ? ORDER BY id`, customerID)
		if err != nil {
			return err
		}
		type ord struct {
			id      int64
			number  string
			total   int64
			deposit int64
			created time.Time
		}
		var list []ord
		for rows.Next() {
			var o ord
			var created string
			if err := rows.Scan(&o.id, &o.number, &o.total, &o.deposit, &created); err != nil {
				rows.Close()
				return err
			}
			if o.created, err = storedTime(time.RFC3339Nano, created, "order", "created_at", o.id); err != nil {
				rows.Close()
				return err
			}
			list = append(list, o)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, o := range list {
			years := ctrl.OrderRetentionFor(o.deposit)
			until := consent.RetainUntil(o.created, years)
			if now.After(until.AddDate(0, 0, 1)) {
				ids, err := deleteOrder(ctx, tx, o.id, false)
				if err != nil {
					return err
				}
				mailIDs = append(mailIDs, ids...)
				out.Removed.Orders++
				continue
			}
			k := Kept{OrderID: o.id, Number: o.number, DeleteAfter: until.Format("2006-01-02"),
				Reason: fmt.Sprintf("%s: %d Jahre ab Ende %d / %d years from the end of %d", keptReason, years, o.created.Year(), years, o.created.Year()),
				Fields: []string{"number", "date", "items", "amounts", "vat", "deposit", "status", "staff"}, Years: years, FromYear: o.created.Year()}
			name, addr := "", ""
			if o.total > SmallInvoiceCents {
				name = strings.TrimSpace(cust.Salutation + " " + cust.Name())
				if cust.HasPostalAddress() {
					addr = cust.Street + ", " + cust.PostalCode + " " + cust.City
				}
				k.Fields = append(k.Fields, "billing_name", "billing_address")
			}
			// §35(3) BDSG: kept, but locked until its date.
			if _, err := tx.ExecContext(ctx, `UPDATE orders SET billing_name = ?, billing_address = ?, pickup_start = '', pickup_end = '', restricted_until = ? WHERE id = ?`,
				name, addr, k.DeleteAfter, o.id); err != nil {
				return err
			}
			out.Kept = append(out.Kept, k)
		}

		exec := func(n *int, query string, args ...any) error {
			res, err := tx.ExecContext(ctx, query, args...)
			if err != nil {
				return fmt.Errorf("erase: %w", err)
			}
			if n != nil {
				c, _ := res.RowsAffected()
				*n += int(c)
			}
			return nil
		}
		if err := exec(&out.Removed.Prescriptions, `DELETE FROM prescriptions WHERE customer_id = ?`, customerID); err != nil {
			return err
		}
		if err := exec(&out.Removed.Documents, `DELETE FROM documents WHERE customer_id = ? AND retained_until = ''`, customerID); err != nil {
			return err
		}
		if err := exec(&out.Removed.Changes, `DELETE FROM customer_changes WHERE customer_id = ?`, customerID); err != nil {
			return err
		}
		if out.Removed.EventDetails, err = consent.EraseEventDetails(ctx, tx, customerID); err != nil {
			return err
		}
		emptied, kept, ids, err := followup.EraseCustomer(ctx, tx, customerID, ctrl.LetterRetention(), now)
		if err != nil {
			return err
		}
		out.Removed.Mails, out.KeptMails = emptied, append(out.KeptMails, kept...)
		mailIDs = append(mailIDs, ids...)
		if err := exec(nil, `UPDATE customers SET salutation = '', first_name = '', last_name = '', street = '', postal_code = '', city = '',
			email = '', mobile = '', phone = '', lang = 'de', search = '', birth_date = '', under_16 = 0, erased_at = ?, updated_at = ? WHERE id = ?`, Stamp(now), Stamp(now), customerID); err != nil {
			return err
		}
		out.Removed.ContactDetails = true

		channels := append([]consent.Channel{}, consent.Channels...)
		for _, e := range events {
			if e.Channel == consent.HealthData {
				channels = append(channels, consent.HealthData)
				break
			}
		}
		for _, ch := range channels {
			e := consent.Event{CustomerID: customerID, Channel: ch, Action: consent.Erase, LegalBasis: consent.BasisConsent,
				Source: consent.ErasureRequest, Actor: consent.ByStaff, StaffID: staffID, CreatedAt: Stamp(now), Topic: consent.AllTopics}
			if staffID == 0 {
				e.Actor = consent.BySystem // applied again after a restore
			}
			if ch == consent.HealthData {
				e.LegalBasis = ctrl.HealthLegalBasis()
			}
			if err := consent.Append(ctx, tx, &e); err != nil {
				return err
			}
		}
		out.LedgerEvents = len(events) + len(channels)
		return nil
	})
	if err != nil {
		return Erasure{}, err
	}
	db.removeMailFiles(mailIDs)
	out.Checkpointed = db.Checkpoint(ctx)
	out.Backups.Listed = !list
	if list {
		// After the commit: a line for an erasure that did not happen
		// would erase the customer after the next restore. A line that
		// could not be written is added by SyncErasureList at the next
		// start or nightly backup.
		if err := store.AppendErased(db.Path, []int64{customerID}, db.Now()); err != nil {
			slog.Error("erasure not written to the erasure list; added at the next start or backup", "customer_id", customerID, "err", err)
		} else {
			out.Backups.Listed = true
		}
	}
	out.Backups.HeldUntil, out.Backups.Note = db.backupsHold(db.Now())
	slog.Info("customer erased", "customer_id", customerID, "staff_id", staffID, "orders_kept", len(out.Kept), "mails_kept", len(out.KeptMails),
		"phone_proof_kept", out.PhoneProof != nil, "wal_checkpointed", out.Checkpointed)
	return out, nil
}

// keepPhoneProof marks what proves a phone consent as kept until five
// years after the last grant or use (§7a UWG): the details (the number) of
// every phone event and the documents a phone grant names as evidence. It
// returns nil when no phone consent was ever given.
func keepPhoneProof(ctx context.Context, tx consent.Tx, customerID int64, events []consent.Event) (*PhoneProof, error) {
	var last time.Time
	var seqs []int64
	docs := map[string]bool{}
	for _, e := range events {
		if e.Channel != consent.Phone || e.Action == consent.Decline {
			continue // a phone cell left off proves no consent
		}
		seqs = append(seqs, e.Seq)
		if e.Action != consent.Grant && e.Action != consent.Use {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, e.CreatedAt); err == nil && t.After(last) {
			last = t
		}
		if e.Action == consent.Grant && e.EvidenceSHA256 != "" {
			docs[e.EvidenceSHA256] = true
		}
	}
	if last.IsZero() {
		return nil, nil
	}
	until := last.In(Berlin).AddDate(PhoneProofYears, 0, 0).Format("2006-01-02")
	p := &PhoneProof{LastGrantOr: Stamp(last), DeleteAfter: until,
		Reason: "§7a UWG: 5 Jahre ab Erteilung und jeder Verwendung / 5 years from the grant and from each use"}
	var err error
	if p.Events, err = consent.RetainEventDetails(ctx, tx, seqs, until); err != nil {
		return nil, fmt.Errorf("keep phone proof: %w", err)
	}
	for sum := range docs {
		res, err := tx.ExecContext(ctx, `UPDATE documents SET retained_until = ? WHERE customer_id = ? AND sha256 = ?`, until, customerID, sum)
		if err != nil {
			return nil, fmt.Errorf("keep phone proof: %w", err)
		}
		n, _ := res.RowsAffected()
		p.Documents += int(n)
	}
	return p, nil
}

// deleteOrder removes an order and what hangs on it. The documents of a
// customer who was not erased stay, loosened from the order: a signature
// is the evidence of a consent (GDPR Art. 7(1)) that may outlive the
// order record. It returns the ids of the mails removed.
func deleteOrder(ctx context.Context, tx consent.Tx, orderID int64, keepDocuments bool) ([]int64, error) {
	// The mails are followup's: it removes them (one owner per table).
	ids, err := followup.DeleteOrderMails(ctx, tx, orderID)
	if err != nil {
		return nil, err
	}
	docs := `DELETE FROM documents WHERE order_id = ?`
	if keepDocuments {
		docs = `UPDATE documents SET order_id = NULL WHERE order_id = ?`
	}
	// A document kept as the proof of a phone consent (§7a UWG) outlives
	// its order; it is loosened from it first.
	for _, q := range []string{`UPDATE documents SET order_id = NULL WHERE order_id = ? AND retained_until <> ''`,
		`DELETE FROM prescriptions WHERE order_id = ?`, docs,
		`DELETE FROM order_items WHERE order_id = ?`, `DELETE FROM orders WHERE id = ?`} {
		if _, err := tx.ExecContext(ctx, q, orderID); err != nil {
			return nil, fmt.Errorf("delete order %d: %w", orderID, err)
		}
	}
	return ids, nil
}

// removeMailFiles deletes the .eml files of removed mails. A file that
// cannot be removed is logged by id, for the store to delete by hand.
func (db *DB) removeMailFiles(ids []int64) {
	if db.Options().MailDir == "" {
		return
	}
	f := followup.Folder{Dir: db.Options().MailDir}
	for _, id := range ids {
		if err := f.Remove(id); err != nil {
			slog.Error("mail file not removed", "mail_id", id, "err", err)
		}
	}
}

// Retention is what one run of the retention job deleted.
type Retention struct {
	Orders        int `json:"orders"`
	Prescriptions int `json:"prescriptions"`
	// What an erasure kept until a date: the proof of phone consents
	// (§7a UWG) and the copies of sent order mails (§257 HGB).
	PhoneProofDetails   int `json:"phone_proof_details"`
	PhoneProofDocuments int `json:"phone_proof_documents"`
	Mails               int `json:"mails"`
}

// ApplyRetention deletes whatever has outlived its period (GDPR Art.
// 5(1)(e), Art. 17(1)(a)): order records past the order retention (§147
// AO, §257 HGB; for erased customers the records kept at the erasure),
// and prescriptions past theirs. Periods run from the end of the calendar
// year.
func (db *DB) ApplyRetention(ctx context.Context) (Retention, error) {
	var out Retention
	var mailIDs []int64
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		ctrl, err := consent.LoadController(ctx, tx)
		if err != nil {
			return err
		}
		// A record of year Y with N years is kept until the end of Y+N:
		// everything made before 1 January of (this year - N) is due.
		cut := func(years int) string { return fmt.Sprintf("%04d-01-01", now.Year()-years) }
		// An order with a deposit is an accounting voucher, one without a
		// commercial letter (OrderRetentionFor).
		rows, err := tx.QueryContext(ctx, `SELECT o.id, c.erased_at <> '' FROM orders o JOIN customers c ON c.id = o.customer_id
			WHERE (o.deposit_cents > 0 AND o.created_at < ?) OR (o.deposit_cents = 0 AND o.created_at < ?)`,
			cut(ctrl.OrderRetention()), cut(ctrl.LetterRetention()))
		if err != nil {
			return err
		}
		type due struct {
			id     int64
			erased bool
		}
		var list []due
		for rows.Next() {
			var d due
			if err := rows.Scan(&d.id, &d.erased); err != nil {
				rows.Close()
				return err
			}
			list = append(list, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range list {
			ids, err := deleteOrder(ctx, tx, d.id, !d.erased)
			if err != nil {
				return err
			}
			mailIDs = append(mailIDs, ids...)
			out.Orders++
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM prescriptions WHERE created_at < ?`, cut(ctrl.RxRetention()))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		out.Prescriptions = int(n)
		// Kept "until" a day means deleted from the day after it.
		today := now.In(Berlin).Format("2006-01-02")
		if out.PhoneProofDetails, err = consent.ExpireEventDetails(ctx, tx, today); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `DELETE FROM documents WHERE retained_until <> '' AND retained_until < ?`, today)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		out.PhoneProofDocuments = int(n)
		out.Mails, err = followup.ExpireRetained(ctx, tx, today, now)
		return err
	})
	if err != nil {
		return Retention{}, err
	}
	db.removeMailFiles(mailIDs)
	if out.Orders+out.Prescriptions+out.PhoneProofDetails+out.PhoneProofDocuments+out.Mails > 0 {
		db.Checkpoint(ctx)
		slog.Info("retention applied", "orders", out.Orders, "prescriptions", out.Prescriptions,
			"phone_proof_details", out.PhoneProofDetails, "phone_proof_documents", out.PhoneProofDocuments, "mails", out.Mails)
	}
	return out, nil
}
