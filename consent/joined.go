package consent

import (
	"context"
	"database/sql"
	"fmt"
)

// EachEvent calls fn with every event of the ledger, oldest first, with
// its details: what a store's ledger hands over when it joins a chain.
func EachEvent(ctx context.Context, q Querier, fn func(Event) error) error {
	rows, err := q.QueryContext(ctx, `SELECT `+eventColumns+` FROM consent_events e
		LEFT JOIN consent_event_details d ON d.event_seq = e.seq ORDER BY e.seq`)
	if err != nil {
		return fmt.Errorf("consent: read ledger: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return fmt.Errorf("consent: scan event: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// KeepJoined keeps an event of a joining store's ledger as it was, in
// joined_events: its hash stays checkable (VerifyJoins) after its
// customer, order and staff have the chain's numbers.
func KeepJoined(ctx context.Context, tx Tx, join int64, e Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO joined_events (join_id, seq, customer_id, channel, action, opt_in_level, legal_basis, source, actor,
			notice_version_id, notice_sha256, order_id, staff_id, evidence_sha256, created_at, prev_hash, hash, api_token, representative, topic, store_id, position, joined_from)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		join, e.Seq, e.CustomerID, e.Channel, e.Action, e.OptInLevel, e.LegalBasis, e.Source, e.Actor,
		e.NoticeVersionID, e.NoticeSHA256, e.OrderID, e.StaffID, e.EvidenceSHA256, e.CreatedAt, e.PrevHash, e.Hash, e.APIToken, e.RepresentativeOf, e.Topic, e.StoreID, e.Position, e.JoinedFrom)
	if err != nil {
		return fmt.Errorf("consent: keep joined event %d: %w", e.Seq, err)
	}
	return nil
}

// JoinedLedger is the ledger of a store's database that joined the
// chain, as verify checked it.
type JoinedLedger struct {
	Join     int64  `json:"join_id"`
	Store    int64  `json:"store_id"`
	Events   int64  `json:"events"`
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
}

// VerifyJoins checks the ledgers of the stores that joined the chain:
// each kept event's hash and its links in its chain, as verify checked
// them in the store's own database; the head that was checked before the
// move (joined_sources); and that every kept event is recorded again in
// the chain's ledger (verifyRecordedAgain). The events recorded again
// are checked with the chain's ledger (Verify).
func VerifyJoins(ctx context.Context, q Querier) ([]JoinedLedger, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, store_id, events, head_seq, head_hash FROM joined_sources ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("consent: read joins: %w", err)
	}
	var joins []JoinedLedger
	for rows.Next() {
		var j JoinedLedger
		if err := rows.Scan(&j.Join, &j.Store, &j.Events, &j.HeadSeq, &j.HeadHash); err != nil {
			rows.Close()
			return nil, err
		}
		joins = append(joins, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, j := range joins {
		if err := verifyJoin(ctx, q, j); err != nil {
			return joins, err
		}
	}
	if len(joins) == 0 {
		return joins, nil
	}
	return joins, verifyRecordedAgain(ctx, q)
}

// verifyRecordedAgain checks that every kept event is recorded again in
// the chain's ledger, once, for the same channel, action, topic and time
// (its joined_from names the kept event's hash), and that no event
// names a hash that was not kept. Both lists are read sorted by the
// hash and walked side by side: a join of the two tables in the query
// was left to a planner without statistics right after a join, which
// compared every pair (200,000 events: more than 13 minutes).
func verifyRecordedAgain(ctx context.Context, q Querier) error {
	kept, err := q.QueryContext(ctx, `SELECT join_id, seq, hash, channel, action, topic, created_at FROM joined_events ORDER BY hash`)
	if err != nil {
		return fmt.Errorf("consent: read joined ledgers: %w", err)
	}
	defer kept.Close()
	again, err := q.QueryContext(ctx, `SELECT seq, joined_from, channel, action, topic, created_at FROM consent_events WHERE joined_from <> '' ORDER BY joined_from`)
	if err != nil {
		return fmt.Errorf("consent: read ledger: %w", err)
	}
	defer again.Close()
	type row struct {
		join, seq                             int64
		hash, channel, action, topic, created string
		ok                                    bool
	}
	next := func(rows *sql.Rows, withJoin bool, prev string) (row, error) {
		var r row
		if !rows.Next() {
			return r, rows.Err()
		}
		var err error
		if withJoin {
			err = rows.Scan(&r.join, &r.seq, &r.hash, &r.channel, &r.action, &r.topic, &r.created)
		} else {
			err = rows.Scan(&r.seq, &r.hash, &r.channel, &r.action, &r.topic, &r.created)
		}
		if err == nil && r.hash < prev {
			// The walk needs the database's order to be the bytes' order,
			// which it is for hex digits in every collation.
			err = fmt.Errorf("consent: joined hashes not in byte order (%.12s… after %.12s…)", r.hash, prev)
		}
		r.ok = err == nil
		return r, err
	}
	k, err := next(kept, true, "")
	if err != nil {
		return err
	}
	a, err := next(again, false, "")
	if err != nil {
		return err
	}
	for k.ok || a.ok {
		switch {
		case a.ok && (!k.ok || a.hash < k.hash):
			return &JoinError{0, 0, fmt.Sprintf("event %d of the chain's ledger names a kept event that is not there (%.12s…)", a.seq, a.hash)}
		case !a.ok || k.hash < a.hash:
			return &JoinError{k.join, k.seq, "is not in the chain's ledger"}
		}
		if a.channel != k.channel || a.action != k.action || a.topic != k.topic || a.created != k.created {
			return &JoinError{k.join, k.seq, fmt.Sprintf("differs in the chain's ledger (event %d)", a.seq)}
		}
		prevK, prevA := k.hash, a.hash
		if k, err = next(kept, true, prevK); err != nil {
			return err
		}
		if a, err = next(again, false, prevA); err != nil {
			return err
		}
		if a.ok && a.hash == prevA {
			return &JoinError{k.join, 0, fmt.Sprintf("the kept event %.12s… is in the chain's ledger more than once (event %d)", prevA, a.seq)}
		}
	}
	return nil
}

// JoinError is a joined store's ledger that does not verify.
type JoinError struct {
	Join   int64
	Seq    int64 // the kept event's number in the store's own ledger; 0 for the whole
	Reason string
}

func (e *JoinError) Error() string {
	if e.Seq == 0 {
		return fmt.Sprintf("joined ledger %d: %s", e.Join, e.Reason)
	}
	return fmt.Sprintf("joined ledger %d, event %d: %s", e.Join, e.Seq, e.Reason)
}

func verifyJoin(ctx context.Context, q Querier, j JoinedLedger) error {
	rows, err := q.QueryContext(ctx, `SELECT seq, customer_id, channel, action, opt_in_level, legal_basis, source, actor,
			notice_version_id, notice_sha256, order_id, staff_id, evidence_sha256, created_at, prev_hash, hash, api_token, representative, topic, store_id, position, joined_from
		FROM joined_events WHERE join_id = ? ORDER BY seq`, j.Join)
	if err != nil {
		return fmt.Errorf("consent: read joined ledger: %w", err)
	}
	defer rows.Close()
	type head struct {
		hash string
		pos  int64
	}
	heads := map[int64]head{}
	var n, last int64
	var lastHash string
	for rows.Next() {
		var e Event
		if err := rows.Scan(&e.Seq, &e.CustomerID, &e.Channel, &e.Action, &e.OptInLevel, &e.LegalBasis, &e.Source, &e.Actor,
			&e.NoticeVersionID, &e.NoticeSHA256, &e.OrderID, &e.StaffID, &e.EvidenceSHA256, &e.CreatedAt, &e.PrevHash, &e.Hash,
			&e.APIToken, &e.RepresentativeOf, &e.Topic, &e.StoreID, &e.Position, &e.JoinedFrom); err != nil {
			return err
		}
		n++
		// A store's own database numbers its ledger without gaps.
		if e.Seq != last+1 {
			return &JoinError{j.Join, last + 1, "event is missing"}
		}
		pos := e.Position
		if e.StoreID == 0 {
			pos = e.Seq
		}
		h, ok := heads[e.Chain()]
		if !ok {
			h = head{GenesisHash, 0}
		}
		switch {
		case pos != h.pos+1:
			return &JoinError{j.Join, e.Seq, "out of place in its chain"}
		case e.PrevHash != h.hash:
			return &JoinError{j.Join, e.Seq, "does not link to the event before it"}
		case e.ComputeHash() != e.Hash:
			return &JoinError{j.Join, e.Seq, "was changed"}
		}
		heads[e.Chain()] = head{e.Hash, pos}
		last, lastHash = e.Seq, e.Hash
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n != j.Events || last != j.HeadSeq || (n > 0 && lastHash != j.HeadHash) {
		return &JoinError{j.Join, 0, fmt.Sprintf("holds %d events up to %d, but %d up to %d (head %.12s…) were checked when the store joined", n, last, j.Events, j.HeadSeq, j.HeadHash)}
	}
	return nil
}
