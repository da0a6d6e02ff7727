package orders

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
)

// MailRecipient is the customer a mail goes to, and whether their
// address was obtained with a sale (§7(3) Nr. 1 UWG), for the sender's
// last check (followup/send). Read whatever store the request is in: the
// mail comes from the customer's.
func (db *DB) MailRecipient(ctx context.Context, customerID int64) (Customer, bool, error) {
	c, err := getCustomer(ctx, db.sql, customerID)
	if err != nil {
		return Customer{}, false, err
	}
	sale, err := saleAddress(ctx, db.sql, c)
	return c, sale, err
}

// saleAddress reports whether the customer's e-mail address was obtained
// with a sale (§7(3) Nr. 1 UWG): an order was placed while it was their
// address. One added later by a correction, or taken over by an import,
// was not, until the next order.
func saleAddress(ctx context.Context, q consent.Querier, c Customer) (bool, error) {
	if c.Email == "" {
		return false, nil
	}
	since := c.CreatedAt
	var changed string
	err := q.QueryRowContext(ctx, `SELECT created_at FROM customer_changes WHERE customer_id = ? AND field = 'email' ORDER BY id DESC LIMIT 1`, c.ID).Scan(&changed)
	if err == nil {
		since = changed
	} else if !errors.Is(err, sql.ErrNoRows) {
		return false, err
	}
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders WHERE customer_id = ? AND created_at >= ?`, c.ID, since).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

// MailOrder is the order a mail is about, whatever store the request is
// in (MailRecipient).
func (db *DB) MailOrder(ctx context.Context, orderID int64) (Order, error) {
	return getOrder(ctx, db.sql, orderID)
}

// queueConfirmations queues the double opt-in mail when events include
// an e-mail consent that waits for its confirmation (such a consent
// always has an address: checkContacts refused it otherwise).
func queueConfirmations(ctx context.Context, tx consent.Tx, ctrl consent.Controller, customerID int64, events []consent.Event, now time.Time) error {
	for _, e := range events {
		if e.Channel == consent.Email && e.Action == consent.Grant && e.OptInLevel == consent.ConfirmedOptIn {
			_, err := followup.EnqueueWith(ctx, tx, ctrl, consent.ChannelState{}, followup.Job{Kind: followup.DoubleOptIn, CustomerID: customerID}, now)
			return err
		}
	}
	return nil
}

// Mails lists mails for the back office, newest first, without their
// bodies. The outbox is followup's table; the web layer asks here and
// never holds the database.
// Where each store is its own controller, a store's staff see its mails
// only (franchise.go).
func (db *DB) Mails(ctx context.Context, f followup.Filter) ([]followup.Mail, error) {
	store, _, err := ownStore(ctx, db.sql)
	if err != nil {
		return nil, err
	}
	f.Store = store
	return followup.List(ctx, db.sql, f)
}

// Mail returns one mail with its message, for the mailbox page; another
// store's mail is not found where each store is its own controller.
func (db *DB) Mail(ctx context.Context, id int64) (followup.Mail, error) {
	m, err := followup.Get(ctx, db.sql, id)
	if err != nil {
		return m, err
	}
	if store, ok, err := ownStore(ctx, db.sql); err != nil {
		return followup.Mail{}, err
	} else if ok && m.StoreID != store {
		return followup.Mail{}, consentdesk.Errorf(consentdesk.NotFound, "err.mail_not_found")
	}
	return m, nil
}

// MailCounts counts the mails by status, for the mailbox's tabs: of ctx's
// own store where each store is its own controller.
func (db *DB) MailCounts(ctx context.Context) (map[followup.Status]int, error) {
	store, _, err := ownStore(ctx, db.sql)
	if err != nil {
		return nil, err
	}
	return followup.Counts(ctx, db.sql, store)
}

// EmailConsent is a customer's e-mail consent, for the sender's last
// check before a mail goes out (followup.Store): for offers (what
// advertising in a thank-you mail needs) and for each topic (a recall's,
// a double opt-in's).
func (db *DB) EmailConsent(ctx context.Context, customerID int64) (consent.ChannelState, map[string]consent.ChannelState, error) {
	events, err := consent.Events(ctx, db.sql, customerID)
	if err != nil {
		return consent.ChannelState{}, nil, err
	}
	return consent.Derive(events)[consent.Email], consent.DeriveTopics(events, consent.EventTopics(events, nil))[consent.Email], nil
}
