package orders

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/consentdesk/consentdesk/consent"
)

// Franchise groups: a setting makes each store its
// own controller. Then
//   - a customer belongs to the store that first recorded them
//     (customers.store_id); staff and API tokens of a store find, open
//     and change only its customers and orders, and see only its mails
//     and figures: another store's customer is "not found", as a stranger
//     would be (GDPR Art. 5(1)(f), Art. 6: no store may read another
//     controller's data);
//   - the same person in two stores is two customers, each with their own
//     consents; an objection in one store blocks in that store only
//     (each controller keeps its own blocking list, §35(3) BDSG);
//   - each store's letterhead, mails and privacy notice name its own
//     company (Store.Company) and address (Art. 13(1)(a)), with notice
//     versions of its own ("de-S2-1").
// The public pages (links and QR codes) answer for the customer's own
// store. Jobs without a store (the sender, retention, recalls) work on
// every store's data, each record with its store's letterhead.
//
// The switch: on, only while no customer has orders or consent events in
// a store other than their own (who would be whose controller?), and
// every store names its company; off, only while at most one store has
// customers: making the stores one controller would hand each store's
// customers to the others, which needs a legal basis and telling the
// customers (Art. 13, 14), not a setting.

// IsFranchise reports whether each store is its own controller. It is
// asked on every customer read and blocking-list check of a store's
// request, so it reads the flag without decoding the settings (an order
// asked five times; decoding the whole JSON each time cost a fifth of
// the orders per second in consentdesk-bench load): encoding/json writes the
// field as "franchise":true when set, and a quote inside any text
// field is escaped, so no text can spell it.
//
// A use case that has read the settings and changes none says so
// (settingsRead), and then the helpers it calls do not ask again.
func IsFranchise(ctx context.Context, q consent.Querier) (bool, error) {
	if on, ok := ctx.Value(franchiseKey{}).(bool); ok {
		return on, nil
	}
	var on bool
	err := q.QueryRowContext(ctx, `SELECT data LIKE '%"franchise":true%' FROM store_settings WHERE id = 1`).Scan(&on)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // not set up yet
	}
	return on, err
}

type franchiseKey struct{}

// settingsRead returns ctx for the rest of a use case that has read c
// in its transaction and changes no setting: whether each store is its
// own controller is then known, and the customer's store, the notice and
// the blocking list do not read the settings again (three queries of
// each one-click withdrawal, in the one writer).
func settingsRead(ctx context.Context, c consent.Controller) context.Context {
	return context.WithValue(ctx, franchiseKey{}, c.Franchise)
}

// Franchise reports whether each store is its own controller.
func (db *DB) Franchise(ctx context.Context) (bool, error) {
	return IsFranchise(ctx, db.sql)
}

// ownStore is the store whose data ctx may see where each store is its
// own controller: the store of the signed-in staff or the API token.
// ok is false where every store's data is visible: a chain with one
// controller, or a caller without a store (the public pages, which
// answer for the customer of their token; the jobs).
func ownStore(ctx context.Context, q consent.Querier) (store int64, ok bool, err error) {
	store, in := consent.StoreIn(ctx)
	if !in {
		return 0, false, nil
	}
	on, err := IsFranchise(ctx, q)
	if err != nil || !on {
		return 0, false, err
	}
	return store, true, nil
}

// storeScope is the condition that keeps a list to ctx's own store
// (ownStore) on column, with its argument; "" where every store's data
// is visible.
func storeScope(ctx context.Context, q consent.Querier, column string) (string, []any, error) {
	store, ok, err := ownStore(ctx, q)
	if err != nil || !ok {
		return "", nil, err
	}
	return ` AND ` + column + ` = ?`, []any{store}, nil
}

// noticeStore is the store whose own notice applies in ctx: its store
// where each store is its own controller, else 0 (the chain's).
func noticeStore(ctx context.Context, q consent.Querier) (int64, error) {
	on, err := IsFranchise(ctx, q)
	if err != nil || !on {
		return 0, err
	}
	return consent.StoreOf(ctx), nil
}

// currentNotice is the notice in force for ctx's store and lang.
func currentNotice(ctx context.Context, q consent.Querier, lang string) (consent.NoticeVersion, error) {
	store, err := noticeStore(ctx, q)
	if err != nil {
		return consent.NoticeVersion{}, err
	}
	return consent.CurrentNoticeIn(ctx, q, store, lang)
}

// currentNoticeRef is currentNotice as an event cites it, without the
// texts.
func currentNoticeRef(ctx context.Context, q consent.Querier, lang string) (consent.NoticeRef, error) {
	store, err := noticeStore(ctx, q)
	if err != nil {
		return consent.NoticeRef{}, err
	}
	return consent.CurrentNoticeRefIn(ctx, q, store, lang)
}

// PublishStoreNotices publishes the own notice of store (every store
// for 0) where each store is its own controller: the chain's text with
// the store's company and address. Nothing otherwise.
func PublishStoreNotices(ctx context.Context, tx consent.Tx, store, staffID int64, now time.Time) error {
	if on, err := IsFranchise(ctx, tx); err != nil || !on {
		return err
	}
	ctrl, err := consent.LoadController(ctx, tx)
	if err != nil {
		return err
	}
	stores := []int64{store}
	if store == 0 {
		if stores, err = consent.IDs(ctx, tx, `SELECT id FROM stores ORDER BY id`); err != nil {
			return err
		}
	}
	for _, s := range stores {
		lh, err := letterhead(ctx, tx, ctrl, s)
		if err != nil {
			return err
		}
		if _, err := consent.PublishStore(ctx, tx, s, lh, staffID, Stamp(now)); err != nil {
			return err
		}
	}
	return nil
}

// ControllerOf is the controller a customer deals with, for what the
// customer is shown or given (the consent screen, the public pages, the
// proof, the receipt, the export): the company in the settings, or,
// where each store is its own controller, the customer's store's company
// with its address (its letterhead). customerID 0: a customer of ctx's
// store (a new one at the counter); the chain's where ctx has no store. The settings page edits Controller,
// never this.
func (db *DB) ControllerOf(ctx context.Context, customerID int64) (consent.Controller, error) {
	ctrl, err := db.Controller(ctx)
	if err != nil || !ctrl.Franchise {
		return ctrl, err
	}
	store, in := consent.StoreIn(ctx)
	if customerID == 0 && !in {
		return ctrl, nil // a public page about no customer: the chain's
	}
	if customerID != 0 {
		if store, err = customerStore(ctx, db.sql, customerID); err != nil {
			return ctrl, err
		}
	}
	return letterhead(ctx, db.sql, ctrl, store)
}

// VerifyForCaller is VerifyReach as ctx's caller may read it: where each
// store is its own controller, a store's staff and tokens see their own
// chain's head and count, and the joined ledgers of their store only;
// whether the ledger verifies is everyone's answer.
func (db *DB) VerifyForCaller(ctx context.Context) (consent.Verification, error) {
	v, err := db.VerifyReach(ctx)
	if err != nil {
		return v, err
	}
	store, scoped, err := ownStore(ctx, db.sql)
	if err != nil || !scoped {
		return v, err
	}
	var own []consent.ChainHead
	v.Events = 0
	for _, c := range v.Chains {
		if c.Store == store {
			own = append(own, c)
			v.Events += c.Events
		}
	}
	var joined []consent.JoinedLedger
	for _, j := range v.Joined {
		if j.Store == store {
			joined = append(joined, j)
		}
	}
	v.Chains, v.Joined = own, joined
	return v, nil
}
