package consent

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// Querier is what the storage functions need: a *sql.DB or a *sql.Tx. Use
// cases pass their transaction so that an order, its consent events and
// its mails commit together.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// IDs runs a query of one integer column and returns its values. The rows
// are closed when it returns, so the caller may write in the same
// transaction next.
func IDs(ctx context.Context, q Querier, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Append adds e to the ledger inside tx and fills in its Seq, Position,
// PrevHash and Hash. The transaction must hold the lock of e's store's
// chain from its start (on SQLite every writer's, _txlock=immediate; on
// a chain's PostgreSQL database the store's, orders.DB.Tx), so that two
// appends cannot read the same previous hash.
func Append(ctx context.Context, tx Tx, e *Event) error {
	if !e.Action.Valid() || !e.Source.Valid() || (!e.Channel.Valid() && e.Channel != HealthData && !(e.Action == Merge && e.Channel == "")) {
		return fmt.Errorf("consent: invalid event %q/%q/%q", e.Channel, e.Action, e.Source)
	}
	if e.CreatedAt == "" {
		return errors.New("consent: event without time")
	}
	if e.StoreID == 0 {
		e.StoreID = StoreOf(ctx)
	}
	// The ledger-wide number: the next after the last, where one writer
	// appends at a time; from the sequence on a chain's database, where
	// stores append at the same time (a rolled-back append leaves a gap
	// there, which verify expects).
	if w, ok := tx.(*WriteTx); ok && w.sequenced {
		if err := tx.QueryRowContext(ctx, `SELECT nextval('consent_events_seq')`).Scan(&e.Seq); err != nil {
			return fmt.Errorf("consent: next seq: %w", err)
		}
	} else {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) + 1 FROM consent_events`).Scan(&e.Seq); err != nil {
			return fmt.Errorf("consent: read ledger end: %w", err)
		}
	}
	// The store's chain: its appends take turns (orders.DB.Tx holds the
	// store's lock), so its head is the one before.
	prev, pos, err := chainHead(ctx, tx, e.StoreID)
	if err != nil {
		return err
	}
	e.PrevHash, e.Position = prev, pos+1
	if err := e.checkHashedText(); err != nil {
		return err
	}
	j := journalOf(ctx)
	identity := ""
	if j != nil && e.Action == Withdraw {
		// Read before the insert: the withdrawal itself may be the first.
		if identity, err = firstEventHash(ctx, tx, e.CustomerID); err != nil {
			return fmt.Errorf("consent: journal: %w", err)
		}
	}
	e.Hash = e.ComputeHash()
	_, err = tx.ExecContext(ctx, `
		INSERT INTO consent_events (seq, customer_id, channel, action, opt_in_level, legal_basis, source, actor,
			notice_version_id, notice_sha256, order_id, staff_id, evidence_sha256, created_at, prev_hash, hash, api_token, representative, topic, store_id, position, joined_from)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, e.CustomerID, e.Channel, e.Action, e.OptInLevel, e.LegalBasis, e.Source, e.Actor,
		e.NoticeVersionID, e.NoticeSHA256, nullID(e.OrderID), nullID(e.StaffID), e.EvidenceSHA256, e.CreatedAt, e.PrevHash, e.Hash, e.APIToken, e.RepresentativeOf, e.Topic, e.StoreID, e.Position, e.JoinedFrom)
	if err != nil {
		return fmt.Errorf("consent: append event: %w", err)
	}
	if e.Contact != "" || e.Note != "" || e.Representative != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO consent_event_details (event_seq, contact, note, representative) VALUES (?, ?, ?, ?)`,
			e.Seq, e.Contact, e.Note, e.Representative); err != nil {
			return fmt.Errorf("consent: append event details: %w", err)
		}
	}
	if identity != "" {
		j.Entries = append(j.Entries, JournalEntry{Kind: JournalWithdraw, Seq: e.Seq, Hash: e.Hash, Customer: e.CustomerID, Identity: identity,
			Channel: e.Channel, Topic: e.Topic})
	}
	return nil
}

// chainHead is the hash and the position of the newest event in the
// chain of store (the genesis hash and 0 for a store without events).
// The first store's chain begins with the events from before stores
// (store_id NULL), whose position is their seq.
func chainHead(ctx context.Context, q Querier, store int64) (string, int64, error) {
	hash, pos := GenesisHash, int64(0)
	err := q.QueryRowContext(ctx, `SELECT hash, COALESCE(position, seq) FROM consent_events WHERE store_id = ? ORDER BY seq DESC LIMIT 1`, store).Scan(&hash, &pos)
	if errors.Is(err, sql.ErrNoRows) && store == FirstStore {
		err = q.QueryRowContext(ctx, `SELECT hash, seq FROM consent_events WHERE store_id IS NULL ORDER BY seq DESC LIMIT 1`).Scan(&hash, &pos)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", 0, fmt.Errorf("consent: read chain head: %w", err)
	}
	return hash, pos, nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

const eventColumns = `e.seq, e.customer_id, e.channel, e.action, e.opt_in_level, e.legal_basis, e.source, e.actor,
	e.notice_version_id, e.notice_sha256, COALESCE(e.order_id, 0), COALESCE(e.staff_id, 0), e.evidence_sha256,
	e.created_at, e.prev_hash, e.hash, e.api_token, e.representative, e.topic, COALESCE(e.store_id, 0), COALESCE(e.position, 0), e.joined_from, COALESCE(d.contact, ''), COALESCE(d.note, ''), COALESCE(d.representative, '')`

func scanEvent(rows *sql.Rows) (Event, error) {
	var e Event
	err := rows.Scan(&e.Seq, &e.CustomerID, &e.Channel, &e.Action, &e.OptInLevel, &e.LegalBasis, &e.Source, &e.Actor,
		&e.NoticeVersionID, &e.NoticeSHA256, &e.OrderID, &e.StaffID, &e.EvidenceSHA256,
		&e.CreatedAt, &e.PrevHash, &e.Hash, &e.APIToken, &e.RepresentativeOf, &e.Topic, &e.StoreID, &e.Position, &e.JoinedFrom, &e.Contact, &e.Note, &e.Representative)
	return e, err
}

// Events returns a customer's events, oldest first.
func Events(ctx context.Context, q Querier, customerID int64) ([]Event, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+eventColumns+`
		FROM consent_events e LEFT JOIN consent_event_details d ON d.event_seq = e.seq
		WHERE e.customer_id = ? ORDER BY e.seq`, customerID)
	if err != nil {
		return nil, fmt.Errorf("consent: list events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("consent: scan event: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// CurrentState derives a customer's state per channel from the ledger:
// the state for offers, what every consent meant before topics.
func CurrentState(ctx context.Context, q Querier, customerID int64) (map[Channel]ChannelState, error) {
	events, err := Events(ctx, q, customerID)
	if err != nil {
		return nil, err
	}
	return Derive(events), nil
}

// Verification is the result of checking the whole ledger: every
// store's chain.
type Verification struct {
	OK     bool   `json:"ok"`
	Events int64  `json:"events"`
	Broken int64  `json:"broken_at,omitempty"` // seq of the first event that does not fit
	Reason string `json:"reason,omitempty"`
	// Chains are the stores' hash chains with their heads, by store.
	Chains []ChainHead `json:"chains,omitempty"`
	// Joined are the ledgers of stores that joined the chain, kept as
	// they were (VerifyJoins).
	Joined []JoinedLedger `json:"joined,omitempty"`
}

// ChainHead is one store's chain: how many events it holds and its
// newest event.
type ChainHead struct {
	Store  int64  `json:"store_id"`
	Events int64  `json:"events"`
	Seq    int64  `json:"head_seq"`
	Hash   string `json:"head_hash"`
}

// Verify walks the ledger from the first event and recomputes every hash.
// Each store's events form a chain of their own (an event's PrevHash is
// the hash of the store's event before it, its Position the next in the
// store's chain), and the sequence numbers run through all stores
// without a gap. A changed event fails its own hash; a deleted or
// reordered one breaks the link to its predecessor in its chain, leaves
// a gap in its chain's positions or in the sequence.
func Verify(ctx context.Context, q Querier) (Verification, error) {
	return VerifyWith(ctx, q, false)
}

// VerifyWith is Verify for a ledger whose seq may leave gaps (gaps): a
// chain's PostgreSQL database numbers events by a sequence, which a
// rolled-back transaction skips. There a missing event shows in its
// store's chain: its positions and its links. A missing event is
// reported by its seq where the sequence has a gap at that place, as on
// a ledger without gaps.
func VerifyWith(ctx context.Context, q Querier, gaps bool) (Verification, error) {
	return VerifyReading(ctx, q, gaps, nil)
}

// HashedColumns are the columns of consent_events a verify reads, in
// the order HashedRow numbers them: only the hashed ones (the personal
// details kept beside the chain, in consent_event_details, are not).
const HashedColumns = `seq, customer_id, channel, action, opt_in_level, legal_basis, source, actor,
	notice_version_id, notice_sha256, COALESCE(order_id, 0), COALESCE(staff_id, 0), evidence_sha256,
	created_at, prev_hash, hash, api_token, representative, topic, COALESCE(store_id, 0), COALESCE(position, 0), joined_from`

// HashedRow is one row of HashedColumns as a reader has it: a number
// column by Int, a text column by Text. Each refuses a NULL, and a value
// of the other kind, with an error: read as "" or 0 it could stand in
// for a value that was hashed.
type HashedRow interface {
	Int(i int) (int64, error)
	Text(i int) (string, error)
}

// ReadHashed fills e from a row of HashedColumns.
func ReadHashed(e *Event, r HashedRow) error {
	var err error
	num := func(i int) int64 {
		n, nerr := r.Int(i)
		if err == nil {
			err = nerr
		}
		return n
	}
	text := func(i int) string {
		s, terr := r.Text(i)
		if err == nil {
			err = terr
		}
		return s
	}
	*e = Event{Seq: num(0), CustomerID: num(1), Channel: Channel(text(2)), Action: Action(text(3)),
		OptInLevel: OptInLevel(text(4)), LegalBasis: LegalBasis(text(5)), Source: Source(text(6)), Actor: Actor(text(7)),
		NoticeVersionID: text(8), NoticeSHA256: text(9), OrderID: num(10), StaffID: num(11), EvidenceSHA256: text(12),
		CreatedAt: text(13), PrevHash: text(14), Hash: text(15), APIToken: text(16), RepresentativeOf: text(17),
		Topic: text(18), StoreID: num(19), Position: num(20), JoinedFrom: text(21)}
	return err
}

// A HashedReader reads HashedColumns of the events lo..hi in seq order
// and hands each to each. The event and its strings hold until each
// returns (the reader may reuse their memory for the next): each copies
// what it keeps. VerifyReading calls it from several goroutines at once,
// one part each.
type HashedReader func(ctx context.Context, lo, hi int64, each func(e *Event) error) error

// VerifyReading is VerifyWith with the events read by read: a reader
// of the engine's own (orders reads SQLite through its C API, which
// halves the time of a chain's ledger). With read nil, they are read
// through q.
func VerifyReading(ctx context.Context, q Querier, gaps bool, read HashedReader) (Verification, error) {
	var last int64
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(max(seq), 0) FROM consent_events`).Scan(&last); err != nil {
		return Verification{}, fmt.Errorf("consent: read ledger: %w", err)
	}
	// Every event's hash covers its own fields and its PrevHash, so parts
	// of the ledger are checked at the same time, each on a connection of
	// its own, and then joined: in each chain, a part must begin where
	// the one before it ended. At 10,000,000 events one part took over a
	// minute. Events appended meanwhile lie beyond
	// last.
	_, pooled := q.(interface{ Stats() sql.DBStats })
	parts := 1
	if (pooled || read != nil) && last >= verifyInPartsFrom {
		parts = verifyParts()
	}
	if read == nil {
		read = queryHashed(q)
	}
	results := make([]chainPart, parts)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := 1+last*int64(i)/int64(parts), last*int64(i+1)/int64(parts)
		if i == parts-1 {
			hi = math.MaxInt64 // and whatever lies beyond, as one part did
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = verifyPart(ctx, read, lo, hi, gaps)
		}()
	}
	wg.Wait()
	// The gaps in the sequence, over all parts in order: where a chain
	// misses an event, the gap there names it.
	var holes [][2]int64
	for _, p := range results {
		if p.err != nil {
			return Verification{}, p.err
		}
		holes = append(holes, p.holes...)
	}
	v := Verification{OK: true}
	heads := map[int64]*ChainHead{}
	headPos := map[int64]int64{}
	want := int64(1)
	for _, p := range results {
		v.Events += p.events
		if !v.OK || p.events == 0 {
			continue
		}
		if !gaps && p.first != want {
			v.OK, v.Broken, v.Reason = false, want, fmt.Sprintf("event %d is missing", want)
			continue
		}
		// Each chain's first event in this part goes on from the chain's
		// head so far; the first failure in sequence order counts.
		var joinAt int64
		var joinReason string
		for store, c := range p.chains {
			h := heads[store]
			prevHash, prevSeq, prevPos := GenesisHash, int64(0), int64(0)
			if h != nil {
				prevHash, prevSeq, prevPos = h.Hash, h.Seq, headPos[store]
			}
			at, reason := int64(0), ""
			switch {
			case c.firstPos != prevPos+1:
				at, reason = missing(holes, prevSeq, c.first, store, prevPos)
			case c.firstPrev != prevHash:
				at, reason = c.first, fmt.Sprintf("event %d does not link to event %d", c.first, prevSeq)
			}
			if at != 0 && (joinAt == 0 || at < joinAt) {
				joinAt, joinReason = at, reason
			}
		}
		switch {
		case joinAt != 0 && (p.broken == 0 || joinAt < p.broken):
			v.OK, v.Broken, v.Reason = false, joinAt, joinReason
		case p.broken != 0:
			v.OK, v.Broken, v.Reason = false, p.broken, p.reason
			if p.missingAfter != nil {
				v.Broken, v.Reason = missing(holes, p.missingAfter[0], p.broken, p.missingStore, p.missingAfter[1])
			}
		}
		for store, c := range p.chains {
			h := heads[store]
			if h == nil {
				h = &ChainHead{Store: store}
				heads[store] = h
			}
			h.Events += c.events
			h.Seq, h.Hash = c.last, string(c.lastHash)
			headPos[store] = c.lastPos
		}
		want = p.last + 1
	}
	for _, h := range heads {
		v.Chains = append(v.Chains, *h)
	}
	slices.SortFunc(v.Chains, func(a, b ChainHead) int { return cmp.Compare(a.Store, b.Store) })
	return v, nil
}

// missing names the event missing in store's chain after the event
// afterSeq (its position afterPos) and before the event beforeSeq: by the
// seq it had where the sequence has a gap between the two, else by its
// place in the chain.
func missing(holes [][2]int64, afterSeq, beforeSeq, store, afterPos int64) (int64, string) {
	for _, h := range holes {
		if h[1] > afterSeq && h[0] < beforeSeq {
			at := max(h[0], afterSeq+1)
			return at, fmt.Sprintf("event %d is missing", at)
		}
	}
	return beforeSeq, fmt.Sprintf("event %d of store %d's chain is missing, before event %d", afterPos+1, store, beforeSeq)
}

// Verify checks a ledger of verifyInPartsFrom events or more in
// verifyParts() parts; tests change both.
var (
	verifyInPartsFrom int64 = 100000
	verifyParts             = func() int { return runtime.GOMAXPROCS(0) }
)

// chainPart is what verifyPart found between two sequence numbers.
type chainPart struct {
	events      int64
	first, last int64 // sequence numbers of the first and last event read
	chains      map[int64]*partChain
	holes       [][2]int64 // gaps in the sequence inside the part (gaps mode)
	broken      int64      // the first event inside the part that does not fit
	reason      string
	// missingAfter is set when broken is an event whose chain misses the
	// one before it: the chain's last seq and position before the gap,
	// in missingStore.
	missingAfter *[2]int64
	missingStore int64
	err          error
}

// partChain is one store's chain within a part.
type partChain struct {
	events    int64
	first     int64
	firstPos  int64
	firstPrev string // the chain's first PrevHash in the part, joined to the part before
	last      int64
	lastPos   int64
	lastHash  []byte // copied: the reader's strings last only for one event
}

// verifyPart checks the events lo..hi: each hash, the sequence, and each
// place and link in its store's chain but the first, which Verify joins.
func verifyPart(ctx context.Context, read HashedReader, lo, hi int64, gaps bool) chainPart {
	p := chainPart{chains: map[int64]*partChain{}}
	var h hashChecker
	err := read(ctx, lo, hi, func(e *Event) error {
		p.events++
		pos := e.Position
		if e.StoreID == 0 {
			pos = e.Seq // from before stores: its place is its seq
		}
		if from := max(lo, p.last+1); gaps && e.Seq > from {
			p.holes = append(p.holes, [2]int64{from, e.Seq - 1})
		}
		c := p.chains[e.Chain()]
		if c == nil {
			c = &partChain{first: e.Seq, firstPos: pos, firstPrev: strings.Clone(e.PrevHash)}
			p.chains[e.Chain()] = c
		}
		if p.events == 1 {
			p.first = e.Seq
		} else if p.broken == 0 && !gaps && e.Seq != p.last+1 {
			p.broken, p.reason = p.last+1, fmt.Sprintf("event %d is missing", p.last+1)
		}
		if p.broken == 0 && c.events > 0 {
			switch {
			case pos != c.lastPos+1:
				p.broken, p.missingAfter, p.missingStore = e.Seq, &[2]int64{c.last, c.lastPos}, e.Chain()
			case e.PrevHash != string(c.lastHash):
				p.broken, p.reason = e.Seq, fmt.Sprintf("event %d does not link to event %d", e.Seq, c.last)
			}
		}
		if p.broken == 0 && e.StoreID != 0 && e.Position == 0 {
			p.broken, p.reason = e.Seq, fmt.Sprintf("event %d has no place in its store's chain", e.Seq)
		}
		if p.broken == 0 && !h.holds(e) {
			p.broken, p.reason = e.Seq, fmt.Sprintf("event %d was changed", e.Seq)
		}
		c.events++
		c.last, c.lastPos, c.lastHash = e.Seq, pos, append(c.lastHash[:0], e.Hash...)
		p.last = e.Seq
		return nil
	})
	if err != nil {
		return chainPart{err: err}
	}
	// The gap at the part's end, up to the next part.
	if from := max(lo, p.last+1); gaps && hi != math.MaxInt64 && from <= hi {
		p.holes = append(p.holes, [2]int64{from, hi})
	}
	return p
}

// queryHashed reads the events through q.
func queryHashed(q Querier) HashedReader {
	return func(ctx context.Context, lo, hi int64, each func(e *Event) error) error {
		rows, err := q.QueryContext(ctx, `SELECT `+HashedColumns+` FROM consent_events WHERE seq BETWEEN ? AND ? ORDER BY seq`, lo, hi)
		if err != nil {
			return fmt.Errorf("consent: read ledger: %w", err)
		}
		defer rows.Close()
		var e Event
		// The columns are taken as the driver gives them: scanning into
		// typed fields went through reflection for each of 22 columns, a
		// fifth of verify's time at 10,000,000 events.
		vals := make(anyRow, 22)
		dest := make([]any, len(vals))
		for i := range vals {
			dest[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return fmt.Errorf("consent: scan event: %w", err)
			}
			if err := ReadHashed(&e, vals); err != nil {
				return err
			}
			if err := each(&e); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("consent: read ledger: %w", err)
		}
		return nil
	}
}

// anyRow is a row as database/sql scans it into []any.
type anyRow []any

func (r anyRow) Int(i int) (int64, error) {
	if n, ok := r[i].(int64); ok {
		return n, nil
	}
	return 0, fmt.Errorf("consent: scan event: a number column holds %T", r[i])
}

func (r anyRow) Text(i int) (string, error) {
	switch x := r[i].(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	}
	return "", fmt.Errorf("consent: scan event: a text column holds %T", r[i])
}

// AllStates folds the whole ledger into every customer's state per
// channel (for offers), for the back office's lists and counts.
func AllStates(ctx context.Context, q Querier) (map[int64]map[Channel]ChannelState, error) {
	return AllStatesFor(ctx, q, TopicOffers)
}

// AllStatesFor is AllStates for one topic.
func AllStatesFor(ctx context.Context, q Querier, topic string) (map[int64]map[Channel]ChannelState, error) {
	out := map[int64]map[Channel]ChannelState{}
	err := EachState(ctx, q, topic, func(customerID int64, states map[Channel]ChannelState) error {
		out[customerID] = states
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EachState folds the ledger customer by customer and hands each one's
// state per channel for topic to fn, holding one customer's events at a
// time: at a chain's size (10,000,000 events) the whole map took 2.3 GB.
func EachState(ctx context.Context, q Querier, topic string, fn func(customerID int64, states map[Channel]ChannelState) error) error {
	rows, err := q.QueryContext(ctx, `SELECT `+eventColumns+`
		FROM consent_events e LEFT JOIN consent_event_details d ON d.event_seq = e.seq ORDER BY e.customer_id, e.seq`)
	if err != nil {
		return fmt.Errorf("consent: read ledger: %w", err)
	}
	defer rows.Close()
	var cur int64
	var batch []Event
	flush := func() error {
		defer func() { batch = batch[:0] }()
		if len(batch) > 0 {
			return fn(cur, DeriveTopic(batch, topic))
		}
		return nil
	}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return fmt.Errorf("consent: scan event: %w", err)
		}
		if e.CustomerID != cur {
			if err := flush(); err != nil {
				return err
			}
			cur = e.CustomerID
		}
		batch = append(batch, e)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("consent: read ledger: %w", err)
	}
	return flush()
}

// Head is the newest event's sequence number and hash: printed in each
// backup and report, it anchors the chain outside the file, so that
// events cut from the end would show.
func Head(ctx context.Context, q Querier) (int64, string, error) {
	var seq int64
	hash := GenesisHash
	err := q.QueryRowContext(ctx, `SELECT seq, hash FROM consent_events ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, GenesisHash, nil
	}
	return seq, hash, err
}

// CheckAnchor checks that the chain reaches a head recorded earlier: the
// event seq exists and has that hash. An intact chain with its newest
// events cut off still verifies on its own; only a head kept elsewhere
// shows the cut.
func CheckAnchor(ctx context.Context, q Querier, seq int64, hash string) error {
	var got string
	err := q.QueryRowContext(ctx, `SELECT hash FROM consent_events WHERE seq = ?`, seq).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		var last int64
		if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM consent_events`).Scan(&last); err != nil {
			return err
		}
		return fmt.Errorf("the ledger ends at event %d, but event %d was recorded as its head: events were removed from its end", last, seq)
	}
	if err != nil {
		return err
	}
	if got != hash {
		return fmt.Errorf("event %d has hash %s, but %s was recorded as its head: the ledger was rewritten", seq, got, hash)
	}
	return nil
}

// The personal details of consent events (the contact, the note, the
// representative's name) live beside the chain in consent_event_details,
// which this package owns: erasure and retention ask it to remove them.

// EraseEventDetails removes the details of a customer's events, except
// those kept as proof (retained_until set, §7a UWG), and returns how many
// it removed. The chain still verifies: no hashed column held them.
func EraseEventDetails(ctx context.Context, tx Tx, customerID int64) (int, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM consent_event_details WHERE retained_until = '' AND event_seq IN (SELECT seq FROM consent_events WHERE customer_id = ?)`, customerID)
	if err != nil {
		return 0, fmt.Errorf("erase event details: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// RetainEventDetails keeps the details of the given events until a day
// (YYYY-MM-DD), past an erasure, and returns how many it marked.
func RetainEventDetails(ctx context.Context, tx Tx, seqs []int64, until string) (int, error) {
	if len(seqs) == 0 {
		return 0, nil
	}
	args := []any{until}
	for _, s := range seqs {
		args = append(args, s)
	}
	res, err := tx.ExecContext(ctx, `UPDATE consent_event_details SET retained_until = ? WHERE event_seq IN (?`+strings.Repeat(", ?", len(seqs)-1)+`)`, args...)
	if err != nil {
		return 0, fmt.Errorf("retain event details: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// ExpireEventDetails removes kept details whose day has passed (kept
// "until" a day means deleted from the day after it).
func ExpireEventDetails(ctx context.Context, tx Tx, today string) (int, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM consent_event_details WHERE retained_until <> '' AND retained_until < ?`, today)
	if err != nil {
		return 0, fmt.Errorf("expire event details: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
