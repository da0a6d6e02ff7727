package chain

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/consentdesk/consentdesk/orders"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders/store"
)

// A store joins the chain (consentdesk join-chain): its own
// SQLite database moves into the chain's database in one transaction —
// its staff, privacy notices, customers, orders with their items,
// prescriptions and documents, mails, customer changes, access log,
// breach register, blocking list and consent ledger. Nothing of it is
// changed in the store's file.
//
// The ledger keeps its hashes. Its events are kept as they were in
// joined_events, which verify checks as the store's own verify did, up
// to the head checked before the move; and each is recorded again in the
// store's chain of the chain's ledger, with the chain's numbers for its
// customer, order, staff member and notice, naming the hash of its
// original (joined_from, hashed). So the proof, the export, the counter
// and the mails read the store's history like any other.
//
// Customers the chain knows already (same e-mail address or mobile
// number, not erased) are merged: the store's customer becomes the
// chain's, the histories stand side by side in the ledger, and an event
// "merge" records it. The state of a consent is its newest event by
// sequence; a merged customer's older events from the store now come
// after the chain's newer ones. Where that would let an older consent
// of the store outlive a newer withdrawal (or closure) in the chain, the
// withdrawal is recorded again (GDPR Art. 7(3): a withdrawal holds). The
// other way round, an older withdrawal of the store before a newer
// consent in the chain, the consent stays withdrawn and the report counts
// it: when in doubt, no advertising (Art. 7(1): the store must prove
// consent, and a system cannot give it again).

// Report is what JoinChain did.
type Report struct {
	Join    int64        `json:"join_id"`
	Store   orders.Store `json:"store"`
	Already bool         `json:"already_joined"` // the same database joined before, unchanged: nothing was done
	Staff   int          `json:"staff"`
	// Customers moved, Merged of them into customers of the chain.
	Customers int `json:"customers"`
	Merged    int `json:"merged"`
	Orders    int `json:"orders"`
	Documents int `json:"documents"`
	Mails     int `json:"mails"`
	Events    int `json:"events"`
	// Rewithdrawn consents of merged customers whose newer withdrawal
	// was recorded again; KeptWithdrawn the other way round.
	Rewithdrawn   int `json:"withdrawals_recorded_again"`
	KeptWithdrawn int `json:"consents_kept_withdrawn"`
	// SourceHead is the store's ledger head, checked before the move.
	SourceHeadSeq  int64  `json:"source_head_seq"`
	SourceHeadHash string `json:"source_head_hash"`
}

// JoinChain moves the store database src into the chain's database db as
// the store named store (made from src's letterhead where the chain has
// no store of that name). fromName names src for people.
func Join(ctx context.Context, db, src *orders.DB, storeName, fromName string) (Report, error) {
	storeName = strings.TrimSpace(storeName)
	if storeName == "" {
		return Report{}, consentdesk.Errorf(consentdesk.Invalid, "err.join_no_store")
	}
	// The store's ledger is checked before anything moves: a broken one
	// is not carried into the chain.
	// The heads file beside it counts, as for verify: a ledger whose
	// newest events were cut off is refused.
	v, err := src.VerifyReach(ctx)
	if err != nil {
		return Report{}, err
	}
	if !v.OK {
		return Report{}, consentdesk.Errorf(consentdesk.Conflict, "err.join_source_broken", v.Broken, v.Reason)
	}
	if len(v.Chains) > 1 {
		return Report{}, consentdesk.Errorf(consentdesk.Conflict, "err.join_source_stores", len(v.Chains))
	}
	r := Report{Events: int(v.Events)}
	r.SourceHeadSeq, r.SourceHeadHash, err = consent.Head(ctx, src.Read())
	if err != nil {
		return Report{}, err
	}
	retained, err := detailsRetained(ctx, src.Read())
	if err != nil {
		return Report{}, err
	}
	ctrl, err := src.Controller(ctx)
	if err != nil {
		return Report{}, err
	}
	var hours string
	if err := src.Read().QueryRowContext(ctx, `SELECT opening_hours FROM stores WHERE id = 1`).Scan(&hours); err != nil {
		return Report{}, fmt.Errorf("read the store's opening hours: %w", err)
	}
	source := store.JoinSource(src.Keys)
	// Every field is checked before the transaction: a refused join
	// leaves no trace in the chain (not even a store number taken).
	if err := checkSource(ctx, src); err != nil {
		return Report{}, err
	}

	err = db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		r = Report{Events: r.Events, SourceHeadSeq: r.SourceHeadSeq, SourceHeadHash: r.SourceHeadHash}
		// Running it twice changes nothing.
		var headHash string
		var headSeq int64
		err := tx.QueryRowContext(ctx, `SELECT id, store_id, head_seq, head_hash FROM joined_sources WHERE source = ?`, source).Scan(&r.Join, &r.Store.ID, &headSeq, &headHash)
		switch {
		case err == nil && headSeq == r.SourceHeadSeq && headHash == r.SourceHeadHash:
			r.Already = true
			r.Store, err = orders.StoreWhere(ctx, tx, `id = ?`, r.Store.ID)
			return err
		case err == nil:
			return consentdesk.Errorf(consentdesk.Conflict, "err.join_changed_since", headSeq, r.SourceHeadSeq)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		j := &joiner{db: db, src: src, tx: tx, now: now, staff: map[int64]int64{}, notices: map[string]string{}, customers: map[int64]int64{},
			merged: map[int64]bool{}, orders: map[int64]int64{}, breaches: map[int64]int64{}}
		if r.Store, err = j.store(ctx, storeName, ctrl, hours); err != nil {
			return err
		}
		ctx = consent.WithStore(ctx, r.Store.ID)
		if err := j.findMerges(ctx); err != nil {
			return err
		}
		if err := j.copyAll(ctx, &r); err != nil {
			return err
		}
		r.Merged = len(j.merged)
		if err := tx.QueryRowContext(ctx, `INSERT INTO joined_sources (source, store_id, from_file, head_seq, head_hash, events, customers, merged, orders, joined_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, source, r.Store.ID, fromName, r.SourceHeadSeq, r.SourceHeadHash, r.Events, r.Customers, r.Merged, r.Orders, orders.Stamp(now)).Scan(&r.Join); err != nil {
			return fmt.Errorf("record the join: %w", err)
		}
		for from, to := range j.customers {
			if _, err := tx.ExecContext(ctx, `INSERT INTO joined_customers (join_id, source_id, customer_id, merged) VALUES (?, ?, ?, ?)`, r.Join, from, to, j.merged[from]); err != nil {
				return err
			}
		}
		if err := j.ledger(ctx, r, retained); err != nil {
			return err
		}
		return j.mergeLedgers(ctx, &r, storeName)
	})
	if err != nil {
		return Report{}, err
	}
	return r, nil
}

// detailsRetained is how long each event's details are kept, where a
// period was set (an erasure's or a dispute's).
func detailsRetained(ctx context.Context, q consent.Querier) (map[int64]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT event_seq, retained_until FROM consent_event_details WHERE retained_until <> ''`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var seq int64
		var until string
		if err := rows.Scan(&seq, &until); err != nil {
			return nil, err
		}
		out[seq] = until
	}
	return out, rows.Err()
}

// joiner carries the maps from the store's numbers to the chain's.
type joiner struct {
	db, src   *orders.DB
	tx        consent.Tx
	now       time.Time
	storeID   int64
	staff     map[int64]int64
	notices   map[string]string
	customers map[int64]int64
	merged    map[int64]bool // by the store's customer number
	orders    map[int64]int64
	breaches  map[int64]int64
}

// store is the chain's store of that name, or a new one with the
// joining store's address, phone, e-mail and opening hours.
func (j *joiner) store(ctx context.Context, name string, ctrl consent.Controller, hours string) (orders.Store, error) {
	s, err := orders.StoreWhere(ctx, j.tx, `name = ? COLLATE NOCASE`, name)
	if err == nil {
		j.storeID = s.ID
		return s, nil
	}
	if consentdesk.ErrorCode(err) != consentdesk.NotFound {
		return orders.Store{}, err
	}
	// The store's company is the one its own settings name: where each
	// store is its own controller, it stays the controller of its
	// customers.
	s, err = orders.CleanStore(orders.Store{Name: name, Street: ctrl.Street, PostalCode: ctrl.PostalCode, City: ctrl.City, Phone: ctrl.Phone, Email: ctrl.Email, OpeningHours: hours,
		Company: consent.Company{Name: ctrl.Name, LegalForm: ctrl.LegalForm, Seat: ctrl.Seat, RegCourt: ctrl.RegCourt, RegNumber: ctrl.RegNumber,
			Directors: ctrl.Directors, VATID: ctrl.VATID, DPOContact: ctrl.DPOContact, Authority: ctrl.Authority, Website: ctrl.Website}})
	if err != nil {
		return orders.Store{}, err
	}
	if err := insertStore(ctx, j.tx, &s, j.now); err != nil {
		return orders.Store{}, err
	}
	j.storeID = s.ID
	return s, nil
}

// findMerges finds the chain's customers that the store's are: the same
// e-mail address (any case) or mobile number, neither side erased. None
// where each store is its own controller: the store's customers stay its
// own, and another store's are not its to merge with (franchise.go).
func (j *joiner) findMerges(ctx context.Context) error {
	if on, err := orders.IsFranchise(ctx, j.tx); err != nil || on {
		return err
	}
	rows, err := j.src.Read().QueryContext(ctx, `SELECT id, email, mobile FROM customers WHERE erased_at = '' AND (email <> '' OR mobile <> '') ORDER BY id`)
	if err != nil {
		return err
	}
	type contact struct {
		id            int64
		email, mobile string
	}
	var cs []contact
	for rows.Next() {
		var c contact
		if err := rows.Scan(&c.id, &c.email, &c.mobile); err != nil {
			rows.Close()
			return err
		}
		cs = append(cs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, c := range cs {
		var id int64
		err := j.tx.QueryRowContext(ctx, `SELECT id FROM customers WHERE erased_at = ''
			AND ((? <> '' AND lower(email) = lower(?)) OR (? <> '' AND mobile = ?)) ORDER BY id LIMIT 1`,
			c.email, c.email, c.mobile, c.mobile).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		j.customers[c.id], j.merged[c.id] = id, true
	}
	return nil
}

// mapped is the chain's number for a store's number; a NULL stays NULL.
func mapped(m map[int64]int64, v any, what string) (any, error) {
	if v == nil {
		return nil, nil
	}
	id, ok := v.(int64)
	if !ok {
		return nil, fmt.Errorf("join: %s %v is not a number", what, v)
	}
	to, ok := m[id]
	if !ok {
		return nil, fmt.Errorf("join: %s %d is not in the store's database", what, id)
	}
	return to, nil
}

// How copyTable writes a table's rows: numbered anew by the chain (the
// store's id maps to the chain's), with the key fix gives them, or with
// their key where the chain may have the row already (nothing then).
const (
	newIDs = iota
	ownKeys
	sameKeys
)

// copyTable copies the rows of table from the store's database into the
// chain's, in the order given, each after fix changed it (the chain's
// numbers, the store) or skipped it. It returns the chain's number of
// each copied row by the store's, for tables numbered anew.
func (j *joiner) copyTable(ctx context.Context, table, order string, keys int, fix func(v map[string]any) (skip bool, err error)) (map[int64]int64, error) {
	// The chain's columns: both databases are at the same version (Open
	// migrated both), and a column the chain has not is refused loudly.
	probe, err := j.tx.QueryContext(ctx, `SELECT * FROM `+table+` WHERE 1 = 0`)
	if err != nil {
		return nil, err
	}
	want, err := probe.Columns()
	probe.Close()
	if err != nil {
		return nil, err
	}
	rows, err := j.src.Read().QueryContext(ctx, `SELECT * FROM `+table+` ORDER BY `+order)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !slices.Equal(slices.Sorted(slices.Values(cols)), slices.Sorted(slices.Values(want))) {
		return nil, fmt.Errorf("join: table %s has columns %v in the store's database and %v in the chain's: run consentdesk migrate on both", table, cols, want)
	}
	var insertCols []string
	for _, c := range cols {
		if c != "id" || keys != newIDs {
			insertCols = append(insertCols, c)
		}
	}
	query := `INSERT INTO ` + table + ` (` + strings.Join(insertCols, ", ") + `) VALUES (` + strings.TrimSuffix(strings.Repeat("?, ", len(insertCols)), ", ") + `)`
	switch keys {
	case newIDs:
		query += ` RETURNING id`
	case sameKeys:
		query += ` ON CONFLICT DO NOTHING`
	}
	ids := map[int64]int64{}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var pending []map[string]any
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make(map[string]any, len(cols))
		for i, c := range cols {
			row[c] = vals[i]
		}
		pending = append(pending, row)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for _, row := range pending {
		if skip, err := fix(row); err != nil || skip {
			if err != nil {
				return nil, fmt.Errorf("join %s: %w", table, err)
			}
			continue
		}
		args := make([]any, len(insertCols))
		for i, c := range insertCols {
			args[i] = row[c]
		}
		if keys != newIDs {
			if _, err := j.tx.ExecContext(ctx, query, args...); err != nil {
				return nil, fmt.Errorf("join %s: %w", table, err)
			}
			continue
		}
		var id int64
		if err := j.tx.QueryRowContext(ctx, query, args...).Scan(&id); err != nil {
			return nil, fmt.Errorf("join %s: %w", table, err)
		}
		ids[row["id"].(int64)] = id
	}
	return ids, nil
}

// copied are the tables copyAll copies, in its order.
var copied = []string{"staff", "notice_versions", "customers", "orders", "order_items", "prescriptions", "documents",
	"customer_changes", "audit_log", "outbox", "breaches", "breach_events", "block_list"}

// checkSource runs checkRow over every row join copies, one at a time.
func checkSource(ctx context.Context, src *orders.DB) error {
	for _, table := range copied {
		if err := eachRow(ctx, src, table, func(row map[string]any) error { return checkRow(table, row) }); err != nil {
			return err
		}
	}
	return nil
}

// eachRow calls fn with each row of table, as column → value.
func eachRow(ctx context.Context, src *orders.DB, table string, fn func(map[string]any) error) error {
	rows, err := src.Read().QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row := make(map[string]any, len(cols))
		for i, c := range cols {
			row[c] = vals[i]
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return rows.Err()
}

// maxField bounds a text field of any table the join copies; the
// customers' fields are checked as the counter checks them (checkRow).
const maxField = 1 << 20

// checkRow refuses a row the counter would not have written: a customer's
// fields as orders.Customer.Normalize checks them (not an erased one's,
// which are empty), and in every table no control character but tab and
// line breaks, no bidirectional override (a name that prints backwards
// on the confirmation) and nothing longer than maxField.
func checkRow(table string, row map[string]any) error {
	id, _ := row["id"].(int64)
	refuse := func(field, why string) error {
		return &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.join_source_field", Args: []any{table, id, field}, Fields: map[string]string{field: why}}
	}
	for col, v := range row {
		s, ok := v.(string)
		if !ok {
			continue
		}
		if len(s) > maxField {
			return refuse(col, "err.too_long")
		}
		if strings.IndexFunc(s, func(r rune) bool {
			return (unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r') || unicode.Is(unicode.Bidi_Control, r)
		}) >= 0 {
			return refuse(col, "err.control_chars")
		}
	}
	if table != "customers" || text(row["erased_at"]) != "" {
		return nil
	}
	under16, _ := row["under_16"].(int64)
	c := orders.Customer{Salutation: text(row["salutation"]), FirstName: text(row["first_name"]), LastName: text(row["last_name"]),
		Street: text(row["street"]), PostalCode: text(row["postal_code"]), City: text(row["city"]), Email: text(row["email"]),
		Mobile: text(row["mobile"]), Phone: text(row["phone"]), Lang: text(row["lang"]), BirthDate: text(row["birth_date"]), Under16: under16 == 1}
	f := consentdesk.FieldErrors{}
	c.Normalize(f, "")
	for _, field := range slices.Sorted(maps.Keys(f)) {
		if f[field] == "err.contact_required" {
			continue // a record of an earlier version, before one was asked for
		}
		return refuse(field, f[field])
	}
	return nil
}

func text(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	}
	return ""
}

func (j *joiner) copyAll(ctx context.Context, r *Report) error {
	tx := j.tx
	var err error
	// Staff work in the store from now on (a manager of the store's own
	// database manages the store); a name the chain has already gets the
	// store's name after it.
	j.staff, err = j.copyTable(ctx, "staff", "id", newIDs, func(v map[string]any) (bool, error) {
		name := text(v["name"])
		var taken bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM staff WHERE lower(name) = lower(?))`, name).Scan(&taken); err != nil {
			return false, err
		}
		if taken {
			v["name"] = fmt.Sprintf("%s (%s)", name, r.Store.Name)
		}
		v["store_id"], v["failed_attempts"], v["locked_until"] = j.storeID, int64(0), ""
		return false, nil
	})
	if err != nil {
		return err
	}
	r.Staff = len(j.staff)
	// Privacy notices: a text the chain has is the chain's version; any
	// other is kept under a name of the store's ("de-S2-3") with a
	// negative number, so that it is never the version in force.
	_, err = j.copyTable(ctx, "notice_versions", "lang, seq", ownKeys, func(v map[string]any) (bool, error) {
		id, lang, sum := text(v["id"]), text(v["lang"]), text(v["sha256"])
		var have string
		err := tx.QueryRowContext(ctx, `SELECT id FROM notice_versions WHERE lang = ? AND sha256 = ? ORDER BY seq DESC LIMIT 1`, lang, sum).Scan(&have)
		if err == nil {
			j.notices[id] = have
			return true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, err
		}
		seq, _ := v["seq"].(int64)
		j.notices[id] = fmt.Sprintf("%s-S%d-%d", lang, j.storeID, seq)
		v["id"], v["seq"] = j.notices[id], -(j.storeID*1_000_000 + seq)
		if v["published_by"], err = mapped(j.staff, v["published_by"], "staff member"); err != nil {
			return false, err
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	// Customers: a merged one is the chain's, and gets what the chain did
	// not know of them (an empty field filled, recorded as a change).
	ids, err := j.copyTable(ctx, "customers", "id", newIDs, func(v map[string]any) (bool, error) {
		from := v["id"].(int64)
		r.Customers++
		if to, ok := j.customers[from]; ok {
			return true, j.fillMerged(ctx, to, v)
		}
		v["store_id"] = j.storeID
		return false, nil
	})
	if err != nil {
		return err
	}
	for from, to := range ids {
		j.customers[from] = to
	}
	// Orders keep their numbers in the store's series ("S2-2026-000042").
	prefix := ""
	if j.storeID != consent.FirstStore {
		prefix = fmt.Sprintf("S%d-", j.storeID)
	}
	j.orders, err = j.copyTable(ctx, "orders", "id", newIDs, func(v map[string]any) (bool, error) {
		number := prefix + text(v["number"])
		var taken bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM orders WHERE number = ?)`, number).Scan(&taken); err != nil {
			return false, err
		}
		if taken {
			return false, consentdesk.Errorf(consentdesk.Conflict, "err.join_order_number", number)
		}
		notice, ok := j.notices[text(v["notice_version_id"])]
		if !ok {
			return false, fmt.Errorf("notice %q is not in the store's database", text(v["notice_version_id"]))
		}
		v["number"], v["notice_version_id"], v["store_id"] = number, notice, j.storeID
		if v["customer_id"], err = mapped(j.customers, v["customer_id"], "customer"); err != nil {
			return false, err
		}
		v["staff_id"], err = mapped(j.staff, v["staff_id"], "staff member")
		return false, err
	})
	if err != nil {
		return err
	}
	r.Orders = len(j.orders)
	if _, err := j.copyTable(ctx, "order_items", "id", newIDs, func(v map[string]any) (bool, error) {
		v["order_id"], err = mapped(j.orders, v["order_id"], "order")
		return false, err
	}); err != nil {
		return err
	}
	// Prescriptions (GDPR Art. 9) are opened with the store's key and
	// sealed with the chain's, bound to their new order and customer.
	if _, err := j.copyTable(ctx, "prescriptions", "id", newIDs, func(v map[string]any) (bool, error) {
		return false, j.reseal(v)
	}); err != nil {
		return err
	}
	docs, err := j.copyTable(ctx, "documents", "id", newIDs, func(v map[string]any) (bool, error) {
		if v["customer_id"], err = mapped(j.customers, v["customer_id"], "customer"); err != nil {
			return false, err
		}
		v["order_id"], err = mapped(j.orders, v["order_id"], "order")
		return false, err
	})
	if err != nil {
		return err
	}
	r.Documents = len(docs)
	if _, err := j.copyTable(ctx, "customer_changes", "id", newIDs, func(v map[string]any) (bool, error) {
		if v["customer_id"], err = mapped(j.customers, v["customer_id"], "customer"); err != nil {
			return false, err
		}
		v["staff_id"], err = mapped(j.staff, v["staff_id"], "staff member")
		return false, err
	}); err != nil {
		return err
	}
	// The access log (Art. 15(1)(c)): the store's API tokens stay behind
	// (the ERP gets a token of the chain), so an entry keeps its detail
	// and loses the token's number.
	if _, err := j.copyTable(ctx, "audit_log", "id", newIDs, func(v map[string]any) (bool, error) {
		if v["staff_id"], err = mapped(j.staff, v["staff_id"], "staff member"); err != nil {
			return false, err
		}
		v["api_token_id"], v["store_id"] = nil, j.storeID
		v["customer_id"], err = mapped(j.customers, v["customer_id"], "customer")
		return false, err
	}); err != nil {
		return err
	}
	mails, err := j.copyTable(ctx, "outbox", "id", newIDs, func(v map[string]any) (bool, error) {
		if v["customer_id"], err = mapped(j.customers, v["customer_id"], "customer"); err != nil {
			return false, err
		}
		v["store_id"] = j.storeID
		v["order_id"], err = mapped(j.orders, v["order_id"], "order")
		return false, err
	})
	if err != nil {
		return err
	}
	r.Mails = len(mails)
	// The breach register (Art. 33(5)) of the store stays complete.
	j.breaches, err = j.copyTable(ctx, "breaches", "id", newIDs, func(v map[string]any) (bool, error) {
		v["api_token_id"] = nil
		v["staff_id"], err = mapped(j.staff, v["staff_id"], "staff member")
		return false, err
	})
	if err != nil {
		return err
	}
	if _, err := j.copyTable(ctx, "breach_events", "id", newIDs, func(v map[string]any) (bool, error) {
		if v["breach_id"], err = mapped(j.breaches, v["breach_id"], "breach"); err != nil {
			return false, err
		}
		if v["staff_id"], err = mapped(j.staff, v["staff_id"], "staff member"); err != nil {
			return false, err
		}
		v["customer_id"], err = mapped(j.customers, v["customer_id"], "customer")
		return false, err
	}); err != nil {
		return err
	}
	// The blocking list's hashes are made with the store's key; they
	// match with it (the key file's "joined" line, keys.go).
	_, err = j.copyTable(ctx, "block_list", "channel, key_hash", sameKeys, func(map[string]any) (bool, error) { return false, nil })
	return err
}

// fillMerged gives the chain's customer what the store knew and the
// chain did not (orders.FillEmptyFields).
func (j *joiner) fillMerged(ctx context.Context, to int64, v map[string]any) error {
	from := orders.Customer{}
	for col, dst := range map[string]*string{"salutation": &from.Salutation, "first_name": &from.FirstName, "street": &from.Street,
		"postal_code": &from.PostalCode, "city": &from.City, "email": &from.Email, "mobile": &from.Mobile, "phone": &from.Phone, "birth_date": &from.BirthDate} {
		*dst = text(v[col])
	}
	return orders.FillEmptyFields(ctx, j.tx, to, from, j.now)
}

// reseal opens a prescription with the store's key and seals it with
// the chain's for its new order and customer.
func (j *joiner) reseal(v map[string]any) error {
	fromOrder, _ := v["order_id"].(int64)
	fromCustomer, _ := v["customer_id"].(int64)
	version, _ := v["key_version"].(int64)
	nonce, _ := v["nonce"].([]byte)
	sealed, _ := v["ciphertext"].([]byte)
	aead, ok := j.src.Keys.PrescriptionKey(int(version))
	if !ok || len(nonce) != aead.NonceSize() {
		return fmt.Errorf("the prescription of order %d cannot be opened with the store's key file", fromOrder)
	}
	plain, err := aead.Open(nil, nonce, sealed, orders.PrescriptionAAD(fromOrder, fromCustomer))
	if err != nil {
		return fmt.Errorf("the prescription of order %d cannot be opened with the store's key file", fromOrder)
	}
	toOrder, ok := j.orders[fromOrder]
	if !ok {
		return fmt.Errorf("order %d is not in the store's database", fromOrder)
	}
	toCustomer, ok := j.customers[fromCustomer]
	if !ok {
		return fmt.Errorf("customer %d is not in the store's database", fromCustomer)
	}
	n := make([]byte, j.db.Keys.Prescription.NonceSize())
	if _, err := rand.Read(n); err != nil {
		return err
	}
	v["order_id"], v["customer_id"], v["nonce"], v["key_version"] = toOrder, toCustomer, n, int64(j.db.Keys.PrescriptionVersion)
	v["ciphertext"] = j.db.Keys.Prescription.Seal(nil, n, plain, orders.PrescriptionAAD(toOrder, toCustomer))
	return nil
}

// ledger keeps the store's events as they were and records each again
// in the store's chain, read one by one from the store's database (a
// store's 200,000 events held at once took 340 MB). They must be the
// ones verified before the move: a server still writing to the store's
// database is refused, and nothing moves.
func (j *joiner) ledger(ctx context.Context, r Report, retained map[int64]string) error {
	var n int64
	last := consent.GenesisHash
	err := consent.EachEvent(ctx, j.src.Read(), func(e consent.Event) error {
		n, last = n+1, e.Hash
		if n > int64(r.Events) {
			return consentdesk.Errorf(consentdesk.Conflict, "err.join_source_changed")
		}
		return j.recordAgain(ctx, r.Join, e, retained)
	})
	if err != nil {
		return err
	}
	if n != int64(r.Events) || (n > 0 && last != r.SourceHeadHash) {
		return consentdesk.Errorf(consentdesk.Conflict, "err.join_source_changed")
	}
	return nil
}

// recordAgain keeps one event of the store as it was and records it
// again in the store's chain with the chain's numbers.
func (j *joiner) recordAgain(ctx context.Context, join int64, e consent.Event, retained map[int64]string) error {
	if err := consent.KeepJoined(ctx, j.tx, join, e); err != nil {
		return err
	}
	n := e
	n.Seq, n.Position, n.PrevHash, n.Hash, n.StoreID, n.JoinedFrom = 0, 0, "", "", j.storeID, e.Hash
	var ok bool
	if n.CustomerID, ok = j.customers[e.CustomerID]; !ok {
		return fmt.Errorf("join: event %d: customer %d is not in the store's database", e.Seq, e.CustomerID)
	}
	if e.OrderID != 0 {
		if n.OrderID, ok = j.orders[e.OrderID]; !ok {
			return fmt.Errorf("join: event %d: order %d is not in the store's database", e.Seq, e.OrderID)
		}
	}
	if e.StaffID != 0 {
		if n.StaffID, ok = j.staff[e.StaffID]; !ok {
			return fmt.Errorf("join: event %d: staff member %d is not in the store's database", e.Seq, e.StaffID)
		}
	}
	if e.NoticeVersionID != "" {
		if n.NoticeVersionID, ok = j.notices[e.NoticeVersionID]; !ok {
			return fmt.Errorf("join: event %d: notice %q is not in the store's database", e.Seq, e.NoticeVersionID)
		}
	}
	if err := consent.Append(ctx, j.tx, &n); err != nil {
		return err
	}
	if until := retained[e.Seq]; until != "" {
		if _, err := consent.RetainEventDetails(ctx, j.tx, []int64{n.Seq}, until); err != nil {
			return err
		}
	}
	return nil
}

// mayContact: a consent that lets the store advertise, or will once
// confirmed.
func mayContact(s consent.ChannelState) bool {
	return s.State == consent.Granted || s.State == consent.Pending
}

// mergeLedgers records each merge and restores a newer withdrawal that
// an older consent of the store would now override (see above).
func (j *joiner) mergeLedgers(ctx context.Context, r *Report, store string) error {
	var froms []int64
	for from := range j.merged {
		froms = append(froms, from)
	}
	slices.Sort(froms)
	stamp := orders.Stamp(j.now)
	for _, from := range froms {
		to := j.customers[from]
		if err := consent.Append(ctx, j.tx, &consent.Event{CustomerID: to, Action: consent.Merge, Source: consent.System, Actor: consent.BySystem,
			CreatedAt: stamp, Note: fmt.Sprintf("Filiale %s: Kunde %d der beigetretenen Datenbank / customer %d of the joined database", store, from, from)}); err != nil {
			return err
		}
		events, err := consent.Events(ctx, j.tx, to)
		if err != nil {
			return err
		}
		byTime := slices.Clone(events)
		slices.SortStableFunc(byTime, func(a, b consent.Event) int { return cmp.Compare(a.CreatedAt, b.CreatedAt) })
		for _, topic := range consent.EventTopics(events, nil) {
			now, then := consent.DeriveTopic(events, topic), consent.DeriveTopic(byTime, topic)
			for _, ch := range consent.Channels {
				switch {
				case mayContact(now[ch]) && !mayContact(then[ch]):
					action := consent.Close
					if then[ch].State == consent.Withdrawn {
						action = consent.Withdraw
					}
					if err := consent.Append(ctx, j.tx, &consent.Event{CustomerID: to, Channel: ch, Action: action, LegalBasis: consent.BasisConsent,
						Source: consent.System, Actor: consent.BySystem, CreatedAt: stamp, Topic: topic,
						Note: fmt.Sprintf("Zusammenführung: die neuere Entscheidung vom %s gilt / merge: the newer decision of %s holds", then[ch].UpdatedAt, then[ch].UpdatedAt)}); err != nil {
						return err
					}
					r.Rewithdrawn++
				case !mayContact(now[ch]) && mayContact(then[ch]):
					r.KeptWithdrawn++
				}
			}
		}
	}
	return nil
}
