package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
)

// Breach is one entry of the breach register (GDPR Art. 33(5)): the
// facts, the effects and the remedial action, whether or not the
// authority had to be told.
type Breach struct {
	ID           int64         `json:"id"`
	OccurredAt   string        `json:"occurred_at"` // RFC 3339
	NoticedAt    string        `json:"noticed_at"`  // RFC 3339; the 72 hours run from here
	Facts        string        `json:"facts"`
	Categories   string        `json:"categories"`
	People       int64         `json:"people"`
	Records      int64         `json:"records"`
	HealthData   bool          `json:"health_data"`
	Consequences string        `json:"consequences"`
	Measures     string        `json:"measures"`
	CreatedAt    string        `json:"created_at"`
	Events       []BreachEvent `json:"events"`
	// AuthorityNotifiedAt is set once the authority was told (Art. 33(1)).
	AuthorityNotifiedAt string `json:"authority_notified_at,omitempty"`
	// Deadline is NoticedAt plus 72 hours.
	Deadline string `json:"deadline"`
	StaffID  int64  `json:"-"`
	TokenID  int64  `json:"-"`
}

// BreachEvent is what happened after a breach was recorded.
type BreachEvent struct {
	ID         int64  `json:"id"`
	Kind       string `json:"kind"` // authority_notified, customer_notified, note
	At         string `json:"at"`
	CustomerID int64  `json:"customer_id,omitempty"`
	Detail     string `json:"detail,omitempty"`
	CreatedAt  string `json:"created_at"`
}

// BreachDeadline is how long the store has to tell the authority (Art.
// 33(1)): 72 hours after becoming aware.
const BreachDeadline = 72 * time.Hour

// RecordBreach adds a breach to the register, checked field by field; an
// authority notification given with it is recorded as its first event.
func (db *DB) RecordBreach(ctx context.Context, b Breach) (Breach, error) {
	f := consentdesk.FieldErrors{}
	occurred, noticed := parseTime(f, "occurred_at", b.OccurredAt), parseTime(f, "noticed_at", b.NoticedAt)
	b.Facts = cleanLongText(f, "facts", b.Facts, true)
	b.Categories = cleanLongText(f, "categories", b.Categories, true)
	b.Consequences = cleanLongText(f, "consequences", b.Consequences, true)
	b.Measures = cleanLongText(f, "measures", b.Measures, true)
	if b.People < 0 {
		f.Add("people", "err.number_invalid")
	}
	if b.Records < 0 {
		f.Add("records", "err.number_invalid")
	}
	var notified time.Time
	if b.AuthorityNotifiedAt != "" {
		notified = parseTime(f, "authority_notified_at", b.AuthorityNotifiedAt)
	}
	now := db.Now()
	if !noticed.IsZero() && !occurred.IsZero() && noticed.Before(occurred) {
		f.Add("noticed_at", "err.breach_noticed_before")
	}
	if noticed.After(now.Add(time.Minute)) {
		f.Add("noticed_at", "err.breach_future")
	}
	if err := f.Err(); err != nil {
		return Breach{}, err
	}
	err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO breaches (occurred_at, noticed_at, facts, categories, people, records, health_data, consequences, measures,
			staff_id, api_token_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			Stamp(occurred), Stamp(noticed), b.Facts, b.Categories, b.People, b.Records, b.HealthData, b.Consequences, b.Measures,
			nullID(b.StaffID), nullID(b.TokenID), Stamp(now)).Scan(&b.ID); err != nil {
			return fmt.Errorf("record breach: %w", err)
		}
		if !notified.IsZero() {
			return addBreachEvent(ctx, tx, b.ID, "authority_notified", notified, 0, "", b.StaffID, now)
		}
		return nil
	})
	if err != nil {
		return Breach{}, err
	}
	slog.Warn("data breach recorded", "breach_id", b.ID, "health_data", b.HealthData)
	return db.Breach(ctx, b.ID)
}

// NoteBreach records what happened after: the authority told, a
// customer notified (Art. 34), or a note. The register stays append-only.
func (db *DB) NoteBreach(ctx context.Context, breachID int64, kind string, at time.Time, customerID int64, detail string, staffID int64) error {
	f := consentdesk.FieldErrors{}
	switch kind {
	case "authority_notified", "customer_notified", "note":
	default:
		f.Add("kind", "err.choice_invalid")
	}
	detail = cleanLongText(f, "detail", detail, kind == "note")
	if kind == "customer_notified" && customerID <= 0 {
		f.Add("customer_id", "err.required")
	}
	if err := f.Err(); err != nil {
		return err
	}
	return db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM breaches WHERE id = ?`, breachID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return consentdesk.Errorf(consentdesk.NotFound, "err.breach_not_found")
		} else if err != nil {
			return err
		}
		if at.IsZero() {
			at = now
		}
		return addBreachEvent(ctx, tx, breachID, kind, at, customerID, detail, staffID, now)
	})
}

func addBreachEvent(ctx context.Context, tx consent.Tx, breachID int64, kind string, at time.Time, customerID int64, detail string, staffID int64, now time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO breach_events (breach_id, kind, at, customer_id, detail, staff_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		breachID, kind, Stamp(at), nullID(customerID), detail, nullID(staffID), Stamp(now))
	if err != nil {
		return fmt.Errorf("note breach: %w", err)
	}
	return nil
}

// Breaches lists the register, newest first.
func (db *DB) Breaches(ctx context.Context) ([]Breach, error) {
	ids, err := consent.IDs(ctx, db.sql, `SELECT id FROM breaches ORDER BY id DESC`)
	if err != nil {
		return nil, err
	}
	out := []Breach{}
	for _, id := range ids {
		b, err := db.Breach(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Breach returns one entry with its events.
func (db *DB) Breach(ctx context.Context, id int64) (Breach, error) {
	var b Breach
	err := db.sql.QueryRowContext(ctx, `SELECT id, occurred_at, noticed_at, facts, categories, people, records, health_data, consequences, measures, created_at
		FROM breaches WHERE id = ?`, id).Scan(&b.ID, &b.OccurredAt, &b.NoticedAt, &b.Facts, &b.Categories, &b.People, &b.Records, &b.HealthData,
		&b.Consequences, &b.Measures, &b.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Breach{}, consentdesk.Errorf(consentdesk.NotFound, "err.breach_not_found")
	}
	if err != nil {
		return Breach{}, err
	}
	if t, err := time.Parse(time.RFC3339Nano, b.NoticedAt); err == nil {
		b.Deadline = Stamp(t.Add(BreachDeadline))
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT id, kind, at, COALESCE(customer_id, 0), detail, created_at FROM breach_events WHERE breach_id = ? ORDER BY id`, id)
	if err != nil {
		return Breach{}, err
	}
	defer rows.Close()
	b.Events = []BreachEvent{}
	for rows.Next() {
		var e BreachEvent
		if err := rows.Scan(&e.ID, &e.Kind, &e.At, &e.CustomerID, &e.Detail, &e.CreatedAt); err != nil {
			return Breach{}, err
		}
		if e.Kind == "authority_notified" && b.AuthorityNotifiedAt == "" {
			b.AuthorityNotifiedAt = e.At
		}
		b.Events = append(b.Events, e)
	}
	return b, rows.Err()
}

// OpenBreaches are the breaches whose authority notification is not
// recorded yet, for the dashboard's countdown.
func (db *DB) OpenBreaches(ctx context.Context) ([]Breach, error) {
	all, err := db.Breaches(ctx)
	if err != nil {
		return nil, err
	}
	var out []Breach
	for _, b := range all {
		if b.AuthorityNotifiedAt == "" {
			out = append(out, b)
		}
	}
	return out, nil
}

func parseTime(f consentdesk.FieldErrors, field, v string) time.Time {
	if v == "" {
		f.Add(field, "err.required")
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		// The back office's datetime-local field: store time, no zone.
		if t, err = time.ParseInLocation("2006-01-02T15:04", v, Berlin); err != nil {
			f.Add(field, "err.time_format")
			return time.Time{}
		}
	}
	return t
}

// cleanLongText is cleanText for a paragraph: line breaks allowed.
func cleanLongText(f consentdesk.FieldErrors, field, v string, required bool) string {
	sub := consentdesk.FieldErrors{}
	out := cleanText(sub, field, strings.NewReplacer("\r\n", " ", "\n", " ", "\t", " ").Replace(v), 4000)
	for k, msg := range sub {
		f.Add(k, msg)
	}
	if required && out == "" {
		f.Add(field, "err.required")
	}
	return out
}
