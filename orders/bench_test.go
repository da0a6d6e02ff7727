package orders_test

import (
	"context"
	"testing"
)

// BenchmarkPlaceOrder measures the counter's use case on a real file at
// full durability (synchronous=FULL): a new customer, two items, a
// signature, an encrypted prescription and three ledger events in one
// transaction.
func BenchmarkPlaceOrder(b *testing.B) {
	db := openDB(b)
	in := sampleOrder(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := db.PlaceOrder(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
