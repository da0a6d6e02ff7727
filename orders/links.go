package orders

import (
	"context"
	"database/sql"
	"errors"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
)

// JoinedCustomer is the chain's number of the customer from of the
// store's database the chain knows as source (Keys.Joined): a link or QR
// code the store printed names its own numbers. NotFound where there is
// none.
func (db *DB) JoinedCustomer(ctx context.Context, source string, from int64) (int64, error) {
	var id int64
	err := db.sql.QueryRowContext(ctx, `SELECT c.customer_id FROM joined_customers c JOIN joined_sources s ON s.id = c.join_id
		WHERE s.source = ? AND c.source_id = ?`, source, from).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, consentdesk.Errorf(consentdesk.NotFound, "err.customer_not_found")
	}
	return id, err
}

// CheckLink reads a customer's link token: one the chain made (tokens,
// the chain's keys), or one a store made before its database joined the
// chain (printed QR codes, mailed links), with that store's key and its
// own customer number, which the chain maps to its own. subject binds
// the token as consent.Tokens.CheckFor does; nil for a plain token.
func (db *DB) CheckLink(ctx context.Context, tokens *consent.Tokens, p consent.TokenPurpose, token string, subject func(customerID int64) (string, bool)) (int64, bool) {
	check := func(t *consent.Tokens, subject func(int64) (string, bool)) (int64, bool) {
		if subject == nil {
			return t.Check(p, token)
		}
		return t.CheckFor(p, token, subject)
	}
	if id, ok := check(tokens, subject); ok {
		return id, true
	}
	for _, j := range db.Keys.Joined {
		if j.Tokens == nil {
			continue // every secret of the store retired
		}
		toChain := func(from int64) (int64, bool) {
			id, err := db.JoinedCustomer(ctx, j.Source, from)
			return id, err == nil
		}
		var bound func(int64) (string, bool)
		if subject != nil {
			bound = func(from int64) (string, bool) {
				if id, ok := toChain(from); ok {
					return subject(id)
				}
				return "", false
			}
		}
		if from, ok := check(j.Tokens, bound); ok {
			return toChain(from)
		}
	}
	return 0, false
}
