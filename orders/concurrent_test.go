package orders_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/chain"
	"github.com/consentdesk/consentdesk/orders/orderstest"
)

// Stores append at the same time: on a chain's
// PostgreSQL database a use case that keeps to its store holds its
// store's lock, not the writers'. Two handles stand for two server
// processes. While one holds store 1, the other takes an order in store
// 2 — and waits with an order in store 1 until the first lets go.
// Whether an order waits is read from PostgreSQL's lock table, not from a
// clock.
func TestStoresAppendAtTheSameTime(t *testing.T) {
	if !orderstest.Postgres() {
		t.Skip("on SQLite one writer writes at a time (the PostgreSQL pass runs this test)")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chain.db")
	a, err := orderstest.Open(ctx, t, path, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		t.Fatal(err)
	}
	freiburg, err := chain.AddStore(ctx, a, orders.Store{Name: "Freiburg"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := orderstest.Open(ctx, t, path, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	// a holds store 1's lock in a use case that keeps to its store.
	held, release := make(chan struct{}), make(chan struct{})
	heldDone := make(chan error, 1)
	go func() {
		heldDone <- a.Tx(orders.InStore(consent.WithStore(ctx, consent.FirstStore)), func(context.Context, consent.Tx, time.Time) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	waiting := func() int {
		var n int
		if err := a.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	place := func(store int64) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := b.PlaceOrder(consent.WithStore(ctx, store), sampleOrder(t))
			done <- err
		}()
		return done
	}
	// An order in Freiburg goes through: it never waits for a lock.
	inFreiburg := place(freiburg.ID)
	for done := false; !done; {
		select {
		case err := <-inFreiburg:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		default:
			if n := waiting(); n > 0 {
				close(release)
				t.Fatalf("an order in Freiburg waits for a lock while store 1 is held (%d waiting)", n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// An order in store 1 waits until a lets go.
	inFirst := place(consent.FirstStore)
	for waiting() == 0 {
		select {
		case err := <-inFirst:
			close(release)
			t.Fatalf("an order in store 1 went through while store 1 was held: %v", err)
		default:
			time.Sleep(5 * time.Millisecond)
		}
	}
	close(release)
	if err := <-heldDone; err != nil {
		t.Fatal(err)
	}
	if err := <-inFirst; err != nil {
		t.Fatal(err)
	}
	if v, err := a.Verify(ctx); err != nil || !v.OK || len(v.Chains) != 2 {
		t.Errorf("verify: %+v %v", v, err)
	}
}

// Many orders in three stores through two handles at once: every one
// stored, each store's order numbers its own series without a repeat,
// and every chain verifies.
func TestStoresAtTheSameTimeKeepTheirChains(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chain.db")
	a, err := orderstest.Open(ctx, t, path, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		t.Fatal(err)
	}
	stores := []int64{consent.FirstStore}
	for _, name := range []string{"Freiburg", "Lörrach"} {
		st, err := chain.AddStore(ctx, a, orders.Store{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, st.ID)
	}
	handles := []*orders.DB{a}
	if orderstest.Postgres() { // a second process on the chain's database
		b, err := orderstest.Open(ctx, t, path, assets.Migrations())
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		handles = append(handles, b)
	}
	const each = 8
	var mu sync.Mutex
	numbers := map[string]int64{}
	var wg sync.WaitGroup
	for h, db := range handles {
		for _, store := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					in := sampleOrder(t)
					in.Customer.Email = fmt.Sprintf("k%d-%d-%d@example.org", h, store, i)
					p, err := db.PlaceOrder(consent.WithStore(ctx, store), in)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if other, ok := numbers[p.Order.Number]; ok {
						t.Errorf("order number %s twice (stores %d and %d)", p.Order.Number, other, store)
					}
					numbers[p.Order.Number] = store
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	if len(numbers) != len(handles)*len(stores)*each {
		t.Fatalf("%d orders stored", len(numbers))
	}
	v, err := a.Verify(ctx)
	if err != nil || !v.OK || len(v.Chains) != 3 {
		t.Fatalf("verify: %+v %v", v, err)
	}
	for _, c := range v.Chains {
		// Each order: the post, e-mail and health data events.
		if c.Events < int64(len(handles)*each) {
			t.Errorf("store %d's chain: %d events", c.Store, c.Events)
		}
	}
}
