package consent

import (
	"context"
	"database/sql"
	"errors"
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
// the chain's ledger, once, for the same channel, action, topic and time
// (its joined_from names the kept event's hash). The events recorded
// again are checked with the chain's ledger (Verify).
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
	return joins, nil
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
	// Every kept event recorded again, once, as it was.
	var seq int64
	var reason string
	err = q.QueryRowContext(ctx, `SELECT j.seq, CASE WHEN COUNT(e.seq) = 0 THEN 'is not in the chain''s ledger' WHEN COUNT(e.seq) > 1 THEN 'is in the chain''s ledger more than once'
			ELSE 'differs in the chain''s ledger' END
		FROM joined_events j LEFT JOIN consent_events e ON e.joined_from = j.hash
		WHERE j.join_id = ?
		GROUP BY j.seq, j.channel, j.action, j.topic, j.created_at
		HAVING COUNT(e.seq) <> 1 OR MIN(e.channel) <> j.channel OR MIN(e.action) <> j.action OR MIN(e.topic) <> j.topic OR MIN(e.created_at) <> j.created_at
		ORDER BY j.seq LIMIT 1`, j.Join).Scan(&seq, &reason)
	if err == nil {
		return &JoinError{j.Join, seq, reason}
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("consent: check joined ledger: %w", err)
	}
	return nil
}
