package orders

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
)

// Eye holds the refraction values of one eye. Nil means not measured.
type Eye struct {
	Sph   *float64 `json:"sph,omitempty"`   // sphere, dpt
	Cyl   *float64 `json:"cyl,omitempty"`   // cylinder, dpt
	Axis  *float64 `json:"axis,omitempty"`  // degrees
	Add   *float64 `json:"add,omitempty"`   // addition, dpt
	Prism *float64 `json:"prism,omitempty"` // prism dioptres
	Base  string   `json:"base,omitempty"`  // prism base: in, out, up, down
	PD    *float64 `json:"pd,omitempty"`    // monocular pupillary distance, mm
}

func (e Eye) empty() bool {
	return e.Sph == nil && e.Cyl == nil && e.Axis == nil && e.Add == nil && e.Prism == nil && e.PD == nil && e.Base == ""
}

// Prescription is the spectacle prescription: health data (GDPR Art. 9).
type Prescription struct {
	Right Eye `json:"right"`
	Left  Eye `json:"left"`
	// MeasuredOn is the day the values were measured (YYYY-MM-DD); the
	// eye test recall is due a number of months after it. Empty: the
	// order's day.
	MeasuredOn string `json:"measured_on,omitempty"`
	// External: measured elsewhere (an ophthalmologist's prescription, or
	// another optician's). It is no eye test with this store, so the eye
	// test recall never counts from it.
	External bool `json:"external,omitempty"`
}

// Empty reports whether no value was entered.
func (p Prescription) Empty() bool { return p.Right.empty() && p.Left.empty() }

type valueRange struct {
	min, max, step float64
}

var rxRanges = map[string]valueRange{
	"sph":   {-30, 30, 0.25},
	"cyl":   {-15, 15, 0.25},
	"axis":  {0, 180, 1},
	"add":   {0, 4, 0.25},
	"prism": {0, 20, 0.25},
	"pd":    {20, 45, 0.5},
}

func checkValue(f consentdesk.FieldErrors, field, name string, v *float64) {
	if v == nil {
		return
	}
	r := rxRanges[name]
	if math.IsNaN(*v) || *v < r.min || *v > r.max {
		f.Add(field, "err.rx_range_"+name)
		return
	}
	if steps := *v / r.step; math.Abs(steps-math.Round(steps)) > 1e-9 {
		f.Add(field, "err.rx_step_"+name)
	}
}

// Validate checks every value against the usual ranges and steps.
func (p Prescription) Validate(f consentdesk.FieldErrors) {
	for side, e := range map[string]Eye{"right": p.Right, "left": p.Left} {
		pre := "prescription." + side + "."
		checkValue(f, pre+"sph", "sph", e.Sph)
		checkValue(f, pre+"cyl", "cyl", e.Cyl)
		checkValue(f, pre+"axis", "axis", e.Axis)
		checkValue(f, pre+"add", "add", e.Add)
		checkValue(f, pre+"prism", "prism", e.Prism)
		checkValue(f, pre+"pd", "pd", e.PD)
		if e.Cyl != nil && *e.Cyl != 0 && e.Axis == nil {
			f.Add(pre+"axis", "err.rx_axis_required")
		}
		switch e.Base {
		case "", "in", "out", "up", "down":
		default:
			f.Add(pre+"base", "err.choice_invalid")
		}
		if e.Base != "" && e.Prism == nil {
			f.Add(pre+"prism", "err.required")
		}
	}
	if p.MeasuredOn != "" {
		d, err := time.ParseInLocation("2006-01-02", p.MeasuredOn, Berlin)
		if err != nil || d.After(time.Now()) || d.Before(time.Now().AddDate(-10, 0, 0)) {
			f.Add("prescription.measured_on", "err.measured_on")
		}
	}
}

// PrescriptionAAD binds a ciphertext to its row, so that it cannot be copied to
// another order and decrypted there.
func PrescriptionAAD(orderID, customerID int64) []byte {
	return []byte(fmt.Sprintf("prescription/%d/%d", orderID, customerID))
}

func (db *DB) insertPrescription(ctx context.Context, tx consent.Tx, orderID, customerID int64, p Prescription, basis consent.LegalBasis, now time.Time) error {
	plain, err := json.Marshal(p)
	if err != nil {
		return err
	}
	aead := db.Keys.Prescription
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	sealed := aead.Seal(nil, nonce, plain, PrescriptionAAD(orderID, customerID))
	// The key version goes with the ciphertext: a rotated secret must
	// not make older prescriptions unreadable (keys.go).
	// The measuring day is kept beside the ciphertext (it is a date, not a
	// value): the eye test recall reads it for customers who chose that
	// topic, and never the values.
	measured := p.MeasuredOn
	if measured == "" {
		measured = now.In(Berlin).Format("2006-01-02")
	}
	if p.External {
		// Not "your last eye test with us": no day for the recall.
		measured = ""
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO prescriptions (order_id, customer_id, legal_basis, nonce, ciphertext, created_at, key_version, measured_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		orderID, customerID, basis, nonce, sealed, Stamp(now), db.Keys.PrescriptionVersion, measured)
	if err != nil {
		return fmt.Errorf("insert prescription: %w", err)
	}
	return nil
}

// Prescription decrypts the prescription of an order. The caller is a
// signed-in staff member; the web layer logs the access.
func (db *DB) Prescription(ctx context.Context, orderID int64) (*Prescription, error) {
	return db.prescriptionIn(ctx, db.sql, orderID)
}

func (db *DB) prescriptionIn(ctx context.Context, q consent.Querier, orderID int64) (*Prescription, error) {
	var customerID int64
	var version int
	var nonce, sealed []byte
	err := q.QueryRowContext(ctx, `SELECT customer_id, nonce, ciphertext, key_version FROM prescriptions WHERE order_id = ?`, orderID).Scan(&customerID, &nonce, &sealed, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// cipher.AEAD.Open panics on a nonce of the wrong length; a damaged
	// or hand-edited row is an error, not a crash of the order page.
	aead, ok := db.Keys.PrescriptionKey(version)
	if !ok {
		return nil, fmt.Errorf("prescription of order %d was sealed with key version %d, which the key file %s.key does not hold", orderID, version, db.Path)
	}
	if len(nonce) != aead.NonceSize() {
		return nil, fmt.Errorf("prescription of order %d is damaged: nonce of %d bytes", orderID, len(nonce))
	}
	plain, err := aead.Open(nil, nonce, sealed, PrescriptionAAD(orderID, customerID))
	if err != nil {
		return nil, fmt.Errorf("prescription of order %d cannot be decrypted: wrong key file?", orderID)
	}
	var p Prescription
	if err := json.Unmarshal(plain, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// AddPrescription stores a prescription for an order after the customer
// gave the explicit consent on a fresh consent screen (GDPR Art. 9(2)(a)):
// the consent event and the encrypted values commit together. Staff asked
// again from the order page because the customer had left the switch off.
func (db *DB) AddPrescription(ctx context.Context, orderID, staffID int64, p Prescription) error {
	f := consentdesk.FieldErrors{}
	if p.Empty() {
		f.Add("prescription", "err.required")
	}
	p.Validate(f)
	if err := f.Err(); err != nil {
		return err
	}
	return db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		o, err := getOrder(ctx, tx, orderID)
		if err != nil {
			return err
		}
		if o.HasPrescription {
			return consentdesk.Errorf(consentdesk.Conflict, "err.prescription_exists")
		}
		if o.Restricted() {
			return consentdesk.Errorf(consentdesk.Conflict, "err.order_restricted")
		}
		cust, err := getCustomer(ctx, tx, o.CustomerID)
		if err != nil {
			return err
		}
		ctrl, err := consent.LoadSettings(ctx, tx)
		if err != nil {
			return err
		}
		basis := ctrl.HealthLegalBasis()
		if basis == consent.BasisExplicitConsent {
			notice, err := currentNoticeRef(ctx, tx, cust.Lang)
			if err != nil {
				return err
			}
			e := consent.Event{CustomerID: cust.ID, Channel: consent.HealthData, Action: consent.Grant, OptInLevel: consent.SingleOptIn,
				LegalBasis: basis, Source: consent.CounterTablet, Actor: consent.ByCustomer, NoticeVersionID: notice.ID, NoticeSHA256: notice.SHA256,
				OrderID: o.ID, StaffID: staffID, CreatedAt: Stamp(now)}
			if err := consent.Append(ctx, tx, &e); err != nil {
				return err
			}
		}
		return db.insertPrescription(ctx, tx, o.ID, cust.ID, p, basis, now)
	})
}
