package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/consentdesk/consentdesk/consent"
)

// Synthesize fills an empty database with made-up customers and a ledger
// of their consent events, as a chain's data on one machine, for
// benchmarks only: `consentdesk-bench generate`. The customers go
// through the same checks as an import, the events through the ledger's
// Append, so the hashes and the search index are the real ones. It
// refuses a database that holds customers already: made-up people must
// never mix with a store's real ones.
func (db *DB) Synthesize(ctx context.Context, customers, events int, progress func(customers, events int)) error {
	if customers < 1 || events < 0 {
		return errors.New("synthesize: at least one customer, and no negative number of events")
	}
	var n int
	if err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM customers`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("synthesize: the database holds %d customers already; made-up data goes into a new database only", n)
	}
	notice, err := db.CurrentNotice(ctx, "de")
	if err != nil {
		return err
	}
	const batch = 10000
	for done := 0; done < customers; {
		list := make([]Customer, min(batch, customers-done))
		for i := range list {
			list[i] = syntheticCustomer(done + i)
		}
		if _, err := db.ImportCustomers(ctx, list); err != nil {
			return fmt.Errorf("synthesize customers: %w", err)
		}
		done += len(list)
		if progress != nil {
			progress(done, 0)
		}
	}
	var first int64
	if err := db.sql.QueryRowContext(ctx, `SELECT min(id) FROM customers`).Scan(&first); err != nil {
		return err
	}
	channels := []consent.Channel{consent.Email, consent.Post, consent.SMS, consent.Phone}
	topics := []string{consent.TopicOffers, "eye_test", "contact_lenses", "events"}
	for done := 0; done < events; {
		size := min(batch*2, events-done)
		err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
			for i := done; i < done+size; i++ {
				// Each customer's events in turn: grants on the four
				// channels, then changes of mind.
				c := int64(i % customers)
				round := i / customers
				action := consent.Grant
				if round%3 == 2 {
					action = consent.Withdraw
				}
				e := &consent.Event{CustomerID: first + c, Channel: channels[(int(c)+round)%4], Action: action,
					LegalBasis: consent.BasisConsent, Source: consent.CounterTablet, Actor: consent.ByCustomer,
					NoticeVersionID: notice.ID, NoticeSHA256: notice.SHA256, Topic: topics[round%4],
					CreatedAt: Stamp(now.Add(-time.Duration(events-i) * time.Second))}
				if action == consent.Grant {
					e.OptInLevel = consent.SingleOptIn
				}
				if err := consent.Append(ctx, tx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("synthesize events: %w", err)
		}
		done += size
		if progress != nil {
			progress(customers, done)
		}
	}
	return nil
}

var (
	synthFirst = []string{"Anna", "Jürgen", "Ömer", "Małgorzata", "Björn", "Änne", "Kim", "Lena", "Paul", "Sophie",
		"Mehmet", "Ursula", "Günter", "Zeynep", "Hans", "Maria", "Thomas", "Sabine", "Jörg", "Katarzyna"}
	synthLast = []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
		"Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
		"Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier",
		"Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber",
		"Kaiser", "Fuchs", "Peters", "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Schubert",
		"Yılmaz", "Kaya", "Nowak", "Kowalski", "Popescu", "Rossi", "Öztürk", "Vogel", "Friedrich", "Keller"}
)

// syntheticCustomer is the i-th made-up customer: common German and
// immigrant names (so "mül" finds about one in sixty), a unique e-mail
// address and mobile number.
func syntheticCustomer(i int) Customer {
	first, last := synthFirst[i%len(synthFirst)], synthLast[(i/len(synthFirst))%len(synthLast)]
	return Customer{Salutation: "Frau", FirstName: first, LastName: fmt.Sprintf("%s%d", last, i/(len(synthFirst)*len(synthLast))),
		Street: fmt.Sprintf("Hauptstraße %d", 1+i%200), PostalCode: fmt.Sprintf("%05d", 10000+i%89999), City: "Freiburg",
		Email: fmt.Sprintf("kunde%07d@example.org", i), Mobile: fmt.Sprintf("+49 170 %07d", i)}
}
