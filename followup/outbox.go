// Package followup holds the outbox, the mail templates and the sender:
// the thank-you mail after an order, the pickup mail when it is ready and
// the double opt-in mail for e-mail consent given at the counter.
//
// A mail is queued by Enqueue inside the transaction of the event that
// causes it, and delivered later by a Sender over SMTP (go-mail), or
// written to a folder when no SMTP server is configured. It reads the
// customer and the order through the small Store interface, so that it
// does not import the orders package (which imports this one).
package followup

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
)

// Kind is what a mail is for.
type Kind string

const (
	ThankYou    Kind = "thank_you"     // after the order: summary and pickup appointment
	Pickup      Kind = "pickup"        // the order is ready to collect
	DoubleOptIn Kind = "double_opt_in" // asks to confirm e-mail consent; never advertising
	Recall      Kind = "recall"        // an eye test or contact lens reminder, for the topic the customer chose
)

// Status of a mail in the outbox.
type Status string

const (
	Queued     Status = "queued"     // waiting for its (next) attempt
	Sending    Status = "sending"    // handed to the server; cleared at the end of the attempt
	Sent       Status = "sent"       // accepted by the SMTP server
	Held       Status = "held"       // no SMTP configured: kept here and written as .eml
	Failed     Status = "failed"     // refused for good, or retried until the limit
	Suppressed Status = "suppressed" // not sent: consent withdrawn, or nothing left to confirm
)

// Job is a mail to queue.
type Job struct {
	Kind       Kind
	CustomerID int64
	OrderID    int64 // 0 for the double opt-in mail
	// SaleAddress: the customer's e-mail address was obtained with a
	// sale (§7(3) Nr. 1 UWG), not added later by a correction.
	SaleAddress bool
	// Topic is a recall's topic.
	Topic string
	// Child: the customer is marked under 16; nothing advertises to them
	// without consent (recital 38).
	Child bool
	// StoreID is the store the mail comes from (its letterhead); 0: the
	// store of the request that queues it (consent.StoreOf).
	StoreID int64
}

// Mail is one row of the outbox.
type Mail struct {
	ID            int64  `json:"id"`
	Kind          Kind   `json:"kind"`
	CustomerID    int64  `json:"customer_id"`
	OrderID       int64  `json:"order_id,omitempty"`
	MessageID     string `json:"message_id"`
	Marketing     bool   `json:"marketing"`
	Topic         string `json:"topic,omitempty"` // a recall's topic
	StoreID       int64  `json:"store_id"`        // the store it comes from
	Status        Status `json:"status"`
	Attempts      int    `json:"attempts"`
	NextAttemptAt string `json:"next_attempt_at,omitempty"`
	LastError     string `json:"last_error,omitempty"`
	Subject       string `json:"subject,omitempty"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
	SentAt        string `json:"sent_at,omitempty"`
	// RetainedUntil is set on a sent order mail an erasure kept as a
	// commercial letter (§257 HGB): restricted, shown to a manager only.
	RetainedUntil string `json:"retained_until,omitempty"`
	// Recipient is the customer's address now, for the mailbox list
	// (List only); the sent message's own To is in Raw.
	Recipient string `json:"recipient,omitempty"`
	Raw       []byte `json:"-"`
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Enqueue queues a mail inside tx, the transaction of the event that
// causes it; the caller queues only for a customer with an e-mail
// address. It decides here whether the mail may carry advertising; the
// sender checks that again before it sends.
func Enqueue(ctx context.Context, tx consent.Tx, job Job, now time.Time) (int64, error) {
	ctrl, err := consent.LoadSettings(ctx, tx)
	if err != nil {
		return 0, err
	}
	var email consent.ChannelState
	if job.Kind != DoubleOptIn {
		states, err := consent.CurrentState(ctx, tx, job.CustomerID)
		if err != nil {
			return 0, err
		}
		email = states[consent.Email]
	}
	return EnqueueWith(ctx, tx, ctrl, email, job, now)
}

// EnqueueWith is Enqueue for a use case that has the store settings and
// the customer's e-mail state at hand, as of the writes it made in tx
// (placing an order), so that they are not read again.
func EnqueueWith(ctx context.Context, tx consent.Tx, ctrl consent.Controller, email consent.ChannelState, job Job, now time.Time) (int64, error) {
	// A recall is itself the advertising, checked for its topic by the
	// sender; it carries no further offers.
	marketing := job.Kind != DoubleOptIn && job.Kind != Recall && ctrl.MayAdvertiseByEmail(email, job.SaleAddress, job.Child)
	return insert(ctx, tx, ctrl, job, marketing, now)
}

func insert(ctx context.Context, tx consent.Tx, ctrl consent.Controller, job Job, marketing bool, now time.Time) (int64, error) {
	mid, err := newMessageID(ctrl.Email)
	if err != nil {
		return 0, err
	}
	var order any
	if job.OrderID != 0 {
		order = job.OrderID
	}
	store := job.StoreID
	if store == 0 {
		store = consent.StoreOf(ctx)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO outbox (kind, customer_id, order_id, message_id, marketing, next_attempt_at, created_at, updated_at, topic, store_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, job.Kind, job.CustomerID, order, mid, marketing, stamp(now), stamp(now), stamp(now), job.Topic, store).Scan(&id); err != nil {
		return 0, fmt.Errorf("followup: enqueue: %w", err)
	}
	return id, nil
}

// newMessageID makes a Message-ID (RFC 5322 §3.6.4) in the domain of the
// store's own address: 128 random bits, so that it is unique everywhere.
func newMessageID(from string) (string, error) {
	domain := "consentdesk.invalid"
	if at := strings.LastIndexByte(from, '@'); at >= 0 && at < len(from)-1 {
		domain = from[at+1:]
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]) + "@" + domain, nil
}

const mailColumns = `id, kind, customer_id, COALESCE(order_id, 0), message_id, marketing, status, attempts, next_attempt_at,
	last_error, subject, created_at, updated_at, sent_at, retained_until, topic, store_id`

func scanMail(row interface{ Scan(...any) error }, m *Mail) error {
	return row.Scan(&m.ID, &m.Kind, &m.CustomerID, &m.OrderID, &m.MessageID, &m.Marketing, &m.Status, &m.Attempts,
		&m.NextAttemptAt, &m.LastError, &m.Subject, &m.CreatedAt, &m.UpdatedAt, &m.SentAt, &m.RetainedUntil, &m.Topic, &m.StoreID)
}

// Filter narrows List.
type Filter struct {
	Status     Status
	CustomerID int64
	OrderID    int64
	// Store keeps the list to one store's mails (0: every store's):
	// where each store is its own controller, no store sees another's.
	Store int64
	Limit int
}

// List returns mails, newest first, without their bodies.
func List(ctx context.Context, q consent.Querier, f Filter) ([]Mail, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 200
	}
	// The recipient is read from orders' customers table: a read join
	// where it is the honest query (the mailbox lists whom a mail is for).
	// CAST: PostgreSQL types a parameter compared with the literal 0 as
	// int4, and refused an id above 2,147,483,647 instead of finding
	// nothing (?customer_id=2147483648 was an error).
	query := `SELECT ` + mailColumns + `, COALESCE((SELECT c.email FROM customers c WHERE c.id = outbox.customer_id), '')
		FROM outbox WHERE (? = '' OR status = ?) AND (CAST(? AS BIGINT) = 0 OR customer_id = ?) AND (CAST(? AS BIGINT) = 0 OR order_id = ?) AND (CAST(? AS BIGINT) = 0 OR store_id = ?)
		ORDER BY id DESC LIMIT ?`
	rows, err := q.QueryContext(ctx, query, f.Status, f.Status, f.CustomerID, f.CustomerID, f.OrderID, f.OrderID, f.Store, f.Store, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("followup: list: %w", err)
	}
	defer rows.Close()
	out := []Mail{}
	for rows.Next() {
		var m Mail
		if err := rows.Scan(&m.ID, &m.Kind, &m.CustomerID, &m.OrderID, &m.MessageID, &m.Marketing, &m.Status, &m.Attempts,
			&m.NextAttemptAt, &m.LastError, &m.Subject, &m.CreatedAt, &m.UpdatedAt, &m.SentAt, &m.RetainedUntil, &m.Topic, &m.StoreID, &m.Recipient); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Get returns one mail with its raw message.
func Get(ctx context.Context, q consent.Querier, id int64) (Mail, error) {
	var m Mail
	err := scanMail(q.QueryRowContext(ctx, `SELECT `+mailColumns+` FROM outbox WHERE id = ?`, id), &m)
	if errors.Is(err, sql.ErrNoRows) {
		return Mail{}, consentdesk.Errorf(consentdesk.NotFound, "err.mail_not_found")
	}
	if err != nil {
		return Mail{}, fmt.Errorf("followup: get: %w", err)
	}
	err = q.QueryRowContext(ctx, `SELECT raw FROM outbox WHERE id = ?`, id).Scan(&m.Raw)
	if m.Raw == nil {
		m.Raw = []byte{} // not written yet (NULL)
	}
	return m, err
}

// Counts returns how many mails are in each status, for the back office:
// of one store (0: of every store).
func Counts(ctx context.Context, q consent.Querier, store int64) (map[Status]int, error) {
	rows, err := q.QueryContext(ctx, `SELECT status, COUNT(*) FROM outbox WHERE (CAST(? AS BIGINT) = 0 OR store_id = ?) GROUP BY status`, store, store)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[Status]int{}
	for rows.Next() {
		var s Status
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// TopicSubject is what a recall's unsubscribe token is bound to: the
// topic it withdraws.
func TopicSubject(topic string) string { return "topic:" + topic }
