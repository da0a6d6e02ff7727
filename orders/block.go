package orders

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
)

// The blocking list (§35(3) BDSG, Art. 17(3), Art. 21(3) GDPR; OLG
// Frankfurt 6 U 54/19): an objection or an erasure puts the contact of
// each channel on it, as a keyed hash; a new record that matches starts
// withdrawn on that channel, and only a fresh explicit consent of the
// customer lifts it.

// blockContact is the contact of a channel, normalised so that the same
// person written a little differently still matches: e-mail lower-cased,
// numbers in E.164 (as stored), and for post the name with the postal
// address, folded to letters and digits ("Hauptstraße 1" and "Hauptstr. 1"
// alike). "" when the customer has no contact for the channel.
func (c Customer) blockContact(ch consent.Channel) string {
	switch ch {
	case consent.Email:
		return strings.ToLower(strings.TrimSpace(c.Email))
	case consent.SMS, consent.Phone:
		return c.Contact(ch)
	case consent.Post:
		if !c.HasPostalAddress() || c.LastName == "" {
			return ""
		}
		return foldText(c.FirstName+" "+c.LastName) + "|" + foldText(c.Street) + "|" + foldText(c.PostalCode) + "|" + foldText(c.City)
	}
	return ""
}

var umlauts = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "é", "e", "è", "e", "á", "a", "à", "a", "ó", "o", "ç", "c")

// foldText keeps lower-case letters and digits, with German umlauts
// spelt out and "strasse" shortened to "str".
func foldText(s string) string {
	s = umlauts.Replace(strings.ToLower(s))
	s = strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, s)
	return strings.ReplaceAll(s, "strasse", "str")
}

// listContact is the customer's contact for ch as the blocking list
// holds it: where each store is its own controller, each keeps its own
// list (§35(3) BDSG binds the controller the objection was made to), so
// the contact is hashed with the customer's store.
func listContact(ctx context.Context, q consent.Querier, c Customer, ch consent.Channel) (string, error) {
	contact := c.blockContact(ch)
	if contact == "" {
		return "", nil
	}
	on, err := IsFranchise(ctx, q)
	if err != nil || !on {
		return contact, err
	}
	return "store:" + strconv.FormatInt(c.StoreID, 10) + "|" + contact, nil
}

// block puts the customer's contact for ch on the blocking list.
func (db *DB) block(ctx context.Context, tx consent.Tx, c Customer, ch consent.Channel, reason consent.BlockReason, now string) error {
	contact, err := listContact(ctx, tx, c, ch)
	if err != nil {
		return err
	}
	return db.blocks.Block(ctx, tx, ch, contact, reason, now)
}

// blocked reports whether the customer's contact for ch is on the list.
func (db *DB) blocked(ctx context.Context, q consent.Querier, c Customer, ch consent.Channel) (bool, error) {
	contact, err := listContact(ctx, q, c, ch)
	if err != nil {
		return false, err
	}
	return db.blocks.Blocked(ctx, q, ch, contact)
}

// BlockedChannels says, per marketing channel, whether the customer's
// contact is on the blocking list, for the customer page.
func (db *DB) BlockedChannels(ctx context.Context, c Customer) (map[consent.Channel]bool, error) {
	out := map[consent.Channel]bool{}
	for _, ch := range consent.Channels {
		b, err := db.blocked(ctx, db.sql, c, ch)
		if err != nil {
			return nil, err
		}
		out[ch] = b
	}
	return out, nil
}

// applyBlocks closes each of channels whose contact is on the blocking
// list and that is not withdrawn already: a withdraw event by the system
// with source block_list. It is called for every new record (an order's
// new customer, an import) and for a changed contact.
func (db *DB) applyBlocks(ctx context.Context, tx consent.Tx, c Customer, channels []consent.Channel, states map[consent.Channel]consent.ChannelState, now string) ([]consent.Event, error) {
	var out []consent.Event
	for _, ch := range channels {
		if states[ch].State == consent.Withdrawn {
			continue
		}
		b, err := db.blocked(ctx, tx, c, ch)
		if err != nil || !b {
			if err != nil {
				return nil, err
			}
			continue
		}
		e := consent.Event{CustomerID: c.ID, Channel: ch, Action: consent.Withdraw, LegalBasis: consent.BasisConsent,
			Source: consent.FromBlockList, Actor: consent.BySystem, CreatedAt: now, Contact: c.Contact(ch), Topic: consent.AllTopics}
		if err := consent.Append(ctx, tx, &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// liftBlock is called before a grant on ch. Where the contact is on the
// blocking list, a fresh explicit consent of the customer (may) lifts it,
// recorded as an unblock event from base; anything else (a grant typed
// in by staff or sent by another program) is refused with a field error
// under field.
func (db *DB) liftBlock(ctx context.Context, tx consent.Tx, c Customer, ch consent.Channel, base consent.Event, may bool, field string) (*consent.Event, error) {
	b, err := db.blocked(ctx, tx, c, ch)
	if err != nil || !b {
		return nil, err
	}
	if !may {
		return nil, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{field: "err.channel_blocked"}}
	}
	e := base
	e.Channel, e.Action, e.OptInLevel, e.LegalBasis, e.Contact, e.Topic = ch, consent.Unblock, "", consent.BasisConsent, c.Contact(ch), consent.AllTopics
	if err := consent.Append(ctx, tx, &e); err != nil {
		return nil, err
	}
	contact, err := listContact(ctx, tx, c, ch)
	if err != nil {
		return nil, err
	}
	if err := db.blocks.Lift(ctx, tx, ch, contact, base.CreatedAt); err != nil {
		return nil, err
	}
	return &e, nil
}

// createCustomer inserts a new record and closes the channels the
// blocking list names for it.
func (db *DB) createCustomer(ctx context.Context, tx consent.Tx, c *Customer, now time.Time) ([]consent.Event, error) {
	if err := insertCustomer(ctx, tx, c, now); err != nil {
		return nil, err
	}
	return db.applyBlocks(ctx, tx, *c, consent.Channels, nil, Stamp(now))
}

// backfillBlocks puts the contacts of every withdrawn channel on the
// blocking list when the list is empty but the ledger holds withdrawals:
// a database from before the list existed. An erased customer's contacts
// are gone and cannot be added. It runs once, at open.
func (db *DB) backfillBlocks(ctx context.Context) error {
	// Reads of consent's tables (block_list, consent_events): asking
	// both at once is the honest query; the writes go through consent.
	// EXISTS, not COUNT: this runs at every start, and counting the
	// withdrawals of a chain's 10,000,000 events read them all.
	var filled, withdrawals bool
	if err := db.sql.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM block_list), EXISTS (SELECT 1 FROM consent_events WHERE action = 'withdraw')`).
		Scan(&filled, &withdrawals); err != nil {
		return err
	}
	if filled || !withdrawals {
		return nil
	}
	// Only the withdrawn channels are kept while the ledger is folded.
	withdrawn := map[int64][]consent.Channel{}
	err := consent.EachState(ctx, db.sql, consent.TopicOffers, func(id int64, states map[consent.Channel]consent.ChannelState) error {
		for _, ch := range consent.Channels {
			if states[ch].State == consent.Withdrawn {
				withdrawn[id] = append(withdrawn[id], ch)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	n := 0
	err = db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		for id, channels := range withdrawn {
			cust, err := getCustomer(ctx, tx, id)
			if err != nil || cust.Erased() {
				if consentdesk.ErrorCode(err) == consentdesk.NotFound {
					continue
				}
				if err != nil {
					return err
				}
				continue
			}
			for _, ch := range channels {
				if err := db.block(ctx, tx, cust, ch, consent.BlockedByObjection, Stamp(now)); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err == nil && n > 0 {
		slog.Info("blocking list filled from earlier withdrawals", "entries", n)
	}
	return err
}
