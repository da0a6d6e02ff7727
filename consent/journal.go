package consent

import "context"

// A withdrawal or an objection must outlive a restore of an older backup
// (GDPR Art. 7(3), Art. 21(3)): the backup holds the consent as it was,
// and putting it back would advertise to a customer who said no. So
// every withdrawal appended to the ledger and every change of the
// blocking list is also written to the withdrawal journal beside the
// database (orders/store, journal.go), which a restore applies again.
// The use case's context collects them (WithJournal); the committer
// writes those of the use cases it committed.

// JournalKind is what a journal entry records.
type JournalKind string

const (
	JournalWithdraw JournalKind = "withdraw" // a withdrawal in the ledger
	JournalBlock    JournalKind = "block"    // a contact put on the blocking list
	JournalLift     JournalKind = "lift"     // a contact taken off it
)

// JournalEntry is one line of the withdrawal journal. It holds numbers
// and hashes only: the blocking list's keyed hash, never a contact.
type JournalEntry struct {
	Kind JournalKind
	// A withdrawal: the event, its customer, and who that customer is:
	// the hash of their first event in the ledger ("-" where the
	// withdrawal is the first), so that a number given to somebody else
	// after a restore is not taken for them.
	Seq      int64
	Hash     string
	Customer int64
	Identity string
	Channel  Channel
	Topic    string
	// A block or a lift: the contact's keyed hash, and why.
	KeyHash string
	Reason  BlockReason
}

// Journal is what one use case wrote to the journal.
type Journal struct{ Entries []JournalEntry }

type journalKey struct{}

// WithJournal makes the use cases run under ctx collect their journal
// entries into the Journal returned.
func WithJournal(ctx context.Context) (context.Context, *Journal) {
	j := &Journal{}
	return context.WithValue(ctx, journalKey{}, j), j
}

func journalOf(ctx context.Context) *Journal {
	j, _ := ctx.Value(journalKey{}).(*Journal)
	return j
}

// firstEventHash is the customer's first event's hash, "-" for none.
func firstEventHash(ctx context.Context, q Querier, customerID int64) (string, error) {
	var h string
	rows, err := q.QueryContext(ctx, `SELECT hash FROM consent_events WHERE customer_id = ? ORDER BY seq LIMIT 1`, customerID)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&h); err != nil {
			return "", err
		}
	}
	if h == "" {
		h = "-"
	}
	return h, rows.Err()
}

// CustomerIdentity is the identity a journal entry records for a
// customer: the hash of their first event ("-" for none).
func CustomerIdentity(ctx context.Context, q Querier, customerID int64) (string, error) {
	return firstEventHash(ctx, q, customerID)
}
