package orders

import "context"

// SendListedRecalls sends the recalls of a list read earlier: what a
// second "send" does whose list was read before the first one's commit,
// or one that a withdrawal overtook.
func (db *DB) SendListedRecalls(ctx context.Context, topic string, staffID int64, due []Recall) (RecallSent, error) {
	return db.sendRecalls(ctx, topic, staffID, due)
}
