package consent

import "context"

// The store where a request happens travels in its context, like the
// source location of a point-of-sale order: the web layer puts it there
// (the signed-in staff member's store, the API token's, the store whose
// mail a customer answers), and whatever the use case writes — order,
// consent event, mail, access log entry — records it.

type storeKey struct{}

// WithStore returns ctx carrying the store id.
func WithStore(ctx context.Context, id int64) context.Context {
	return context.WithValue(ctx, storeKey{}, id)
}

// StoreOf returns the store ctx carries; FirstStore when none does (a
// command of the server's own, a database with one store).
func StoreOf(ctx context.Context) int64 {
	if id, ok := ctx.Value(storeKey{}).(int64); ok && id > 0 {
		return id
	}
	return FirstStore
}

// StoreIn reports the store ctx carries, if it carries one.
func StoreIn(ctx context.Context) (int64, bool) {
	id, ok := ctx.Value(storeKey{}).(int64)
	return id, ok && id > 0
}

type keepsToStore struct{}

// InStore marks ctx as a use case that keeps to its store (StoreOf): it
// writes that store's orders, its chain's events and rows of its own, and
// may run beside other stores' use cases (on a chain's PostgreSQL
// database: orders.DB.Tx takes its store's lock, not the writers').
func InStore(ctx context.Context) context.Context {
	return context.WithValue(ctx, keepsToStore{}, true)
}

// KeepsToStore reports whether ctx was marked by InStore.
func KeepsToStore(ctx context.Context) bool {
	return ctx.Value(keepsToStore{}) != nil
}
