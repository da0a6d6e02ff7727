package orders

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/consentdesk/consentdesk/consent"
)

// ConsentChange is a change recorded by staff: ticks transcribed from a
// signed paper form, or a customer's wish by phone or in person.
type ConsentChange struct {
	CustomerID int64
	OrderID    int64 // the paper form's order; found when left out
	Channels   map[consent.Channel]bool
	Source     consent.Source
	Note       string
	StaffID    int64
	Scan       []byte // the signed form, PDF, JPEG or PNG
	// ByCustomer marks a change the customer made themself, on the
	// preference page, from a mail's link or the printed QR code.
	ByCustomer bool
}

// MaxScanBytes limits an uploaded scan.
const MaxScanBytes = 10 << 20

// ScanMIME returns the type of a scan judged by its content, or "".
func ScanMIME(b []byte) string {
	switch http.DetectContentType(b) {
	case "application/pdf":
		return "application/pdf"
	case "image/jpeg":
		return "image/jpeg"
	case "image/png":
		return "image/png"
	}
	return ""
}

// RecordConsents appends the events for a change. A tick (true) grants;
// on a paper form an empty box (false) is no decision, while from a call
// or at the counter false withdraws (GDPR Art. 7(3)) and is recorded even
// without an earlier grant, as an objection (Art. 21(3)).
func (db *DB) RecordConsents(ctx context.Context, ch ConsentChange) ([]consent.Event, error) {
	f := consent.FieldErrors{}
	actor := consent.ByStaff
	switch ch.Source {
	case consent.PaperForm, consent.PhoneRequest, consent.InPerson:
		if ch.ByCustomer {
			f.Add("source", "err.source_invalid")
		}
	case consent.EmailLink, consent.QRCode, consent.PreferencePage:
		if !ch.ByCustomer {
			f.Add("source", "err.source_invalid")
		}
		actor = consent.ByCustomer
	default:
		f.Add("source", "err.source_invalid")
	}
	if len(ch.Channels) == 0 {
		f.Add("channels", "err.required")
	}
	for c := range ch.Channels {
		if !c.Valid() {
			f.Add("channels."+string(c), "err.channel_unknown")
		}
	}
	ch.Note = cleanText(f, "note", ch.Note, 500)
	mime := ""
	if len(ch.Scan) > 0 {
		if ch.Source != consent.PaperForm {
			f.Add("scan", "err.scan_only_paper")
		}
		if len(ch.Scan) > MaxScanBytes {
			f.Add("scan", "err.scan_too_large")
		} else if mime = ScanMIME(ch.Scan); mime == "" {
			f.Add("scan", "err.scan_type")
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	var events []consent.Event
	err := db.Tx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		cust, err := getCustomer(ctx, tx, ch.CustomerID)
		if err != nil {
			return err
		}
		if cust.Erased() {
			return consent.Errorf(consent.Conflict, "err.customer_erased")
		}
		ctrl, err := consent.LoadSettings(ctx, tx)
		if err != nil {
			return err
		}
		notice, err := consent.CurrentNotice(ctx, tx, cust.Lang)
		if err != nil {
			return err
		}
		if ch.Source == consent.PaperForm {
			// The ticks refer to the sheet printed for a paper-mode order,
			// with the notice version printed on it.
			o, err := paperOrder(ctx, tx, cust.ID, ch.OrderID)
			if err != nil {
				return err
			}
			ch.OrderID = o.ID
			if notice, err = consent.Notice(ctx, tx, o.NoticeVersionID); err != nil {
				return err
			}
		}
		evidence := ""
		if len(ch.Scan) > 0 {
			evidence = SHA256Hex(ch.Scan)
			if err := insertDocument(ctx, tx, cust.ID, ch.OrderID, "scan", mime, ch.Scan, now); err != nil {
				return err
			}
		}
		if err := checkContacts(cust, ConsentInput{Channels: ch.Channels}); err != nil {
			return err
		}
		states, err := consent.CurrentState(ctx, tx, cust.ID)
		if err != nil {
			return err
		}
		for _, c := range consent.Channels {
			want, ok := ch.Channels[c]
			if !ok {
				continue
			}
			cur := states[c].State
			e := consent.Event{CustomerID: cust.ID, Channel: c, LegalBasis: consent.BasisConsent, Source: ch.Source, Actor: actor,
				NoticeVersionID: notice.ID, NoticeSHA256: notice.SHA256, OrderID: ch.OrderID, StaffID: ch.StaffID,
				EvidenceSHA256: evidence, CreatedAt: Stamp(now), Contact: cust.Contact(c), Note: ch.Note}
			switch {
			case want && cur != consent.Granted && cur != consent.Pending:
				e.Action, e.OptInLevel = consent.Grant, consent.SingleOptIn
				if c == consent.Email && ctrl.DoubleOptIn {
					e.OptInLevel = consent.ConfirmedOptIn
				}
			case !want && ch.Source != consent.PaperForm && cur != consent.Withdrawn && !(ch.ByCustomer && cur == consent.None):
				// A switch the customer left off records nothing; staff
				// recording "no" by phone records an objection.
				e.Action = consent.Withdraw
			default:
				continue
			}
			if err := consent.Append(ctx, tx, &e); err != nil {
				return err
			}
			events = append(events, e)
		}
		return queueConfirmations(ctx, tx, ctrl, cust.ID, events, now)
	})
	if err != nil {
		return nil, err
	}
	db.mailQueued()
	slog.Info("consents recorded", "customer_id", ch.CustomerID, "source", ch.Source, "events", len(events))
	return events, nil
}

func paperOrder(ctx context.Context, tx *sql.Tx, customerID, orderID int64) (Order, error) {
	var id int64
	var err error
	if orderID != 0 {
		err = tx.QueryRowContext(ctx, `SELECT id FROM orders WHERE id = ? AND customer_id = ? AND consent_mode = 'paper'`, orderID, customerID).Scan(&id)
	} else {
		err = tx.QueryRowContext(ctx, `SELECT id FROM orders WHERE customer_id = ? AND consent_mode = 'paper' ORDER BY id DESC LIMIT 1`, customerID).Scan(&id)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, &consent.Error{Code: consent.Invalid, Key: "err.invalid_input", Fields: map[string]string{"order_id": "err.no_paper_order"}}
	}
	if err != nil {
		return Order{}, err
	}
	return getOrder(ctx, tx, id)
}

// Consents returns a customer's state per channel and every event.
func (db *DB) Consents(ctx context.Context, customerID int64) (map[consent.Channel]consent.ChannelState, []consent.Event, error) {
	if _, err := db.Customer(ctx, customerID); err != nil {
		return nil, nil, err
	}
	events, err := consent.Events(ctx, db.sql, customerID)
	if err != nil {
		return nil, nil, err
	}
	return consent.Derive(events), events, nil
}

// ConfirmEmail records the customer's confirmation of a pending e-mail
// consent (double opt-in, BGH I ZR 164/09). It reports false, and records
// nothing, when nothing was pending: a stale link changes nothing.
func (db *DB) ConfirmEmail(ctx context.Context, customerID int64) (bool, error) {
	confirmed := false
	err := db.Tx(ctx, func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		cust, err := getCustomer(ctx, tx, customerID)
		if err != nil {
			return err
		}
		states, err := consent.CurrentState(ctx, tx, cust.ID)
		if err != nil {
			return err
		}
		st := states[consent.Email]
		if st.State != consent.Pending {
			return nil
		}
		notice, err := consent.Notice(ctx, tx, st.NoticeVersion)
		if err != nil {
			return err
		}
		e := consent.Event{CustomerID: cust.ID, Channel: consent.Email, Action: consent.Confirm, OptInLevel: consent.ConfirmedOptIn,
			LegalBasis: consent.BasisConsent, Source: consent.DoubleOptIn, Actor: consent.ByCustomer, NoticeVersionID: notice.ID,
			NoticeSHA256: notice.SHA256, CreatedAt: Stamp(now), Contact: cust.Email}
		confirmed = true
		return consent.Append(ctx, tx, &e)
	})
	if err == nil && confirmed {
		slog.Info("e-mail consent confirmed", "customer_id", customerID)
	}
	return confirmed, err
}
