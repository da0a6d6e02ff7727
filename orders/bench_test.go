package orders_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/orderstest"
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

// BenchmarkOneClickWithdrawal measures the use case behind a one-click
// unsubscribe without HTTP: eight callers at once, as
// in a burst, each withdrawing e-mail for a customer of their own, so the
// committer batches them as it does in load's burst.
func BenchmarkOneClickWithdrawal(b *testing.B) {
	db := openDB(b)
	ctx := context.Background()
	in := sampleOrder(b)
	ids := make([]int64, b.N)
	for i := range ids {
		in.Customer.Email = fmt.Sprintf("kunde%d@example.org", i)
		in.Customer.Mobile = ""
		p, err := db.PlaceOrder(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = p.Customer.ID
	}
	var next atomic.Int64
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := ids[next.Add(1)-1]
			change := orders.ConsentChange{CustomerID: id, Source: consent.EmailLink, ByCustomer: true,
				Object: true, Channels: map[consent.Channel]bool{consent.Email: false}}
			if _, err := db.RecordConsents(ctx, change); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	var withdrawn int
	if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM consent_events WHERE action = 'withdraw' AND source = 'email_link'`).Scan(&withdrawn); err != nil {
		b.Fatal(err)
	}
	if withdrawn != b.N {
		b.Fatalf("%d withdrawals in the ledger, want %d", withdrawn, b.N)
	}
}

// BenchmarkChainData erases customers and takes a
// backup while orders go on, in a database made by generate:
//
//	go run ./cmd/consentdesk-bench generate --db /tmp/chain.db --customers 1000000 --events 10000000
//	CONSENTDESK_BENCH_DB=/tmp/chain.db go test ./orders -run XXX -bench ChainData -benchtime 20x
//
// It changes that database (erased customers, new orders). Without the
// variable it skips.
func BenchmarkChainData(b *testing.B) {
	path := os.Getenv("CONSENTDESK_BENCH_DB")
	if path == "" {
		b.Skip("CONSENTDESK_BENCH_DB is not set: make a database with consentdesk-bench generate")
	}
	ctx := context.Background()
	db, err := orderstest.Open(ctx, b, path, assets.Migrations())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	report := func(b *testing.B, times []time.Duration, prefix string) {
		slices.Sort(times)
		b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, prefix+"p50-ms")
		b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, prefix+"p99-ms")
		b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, prefix+"max-ms")
	}

	// verify: the whole ledger, every hash and link, as `consentdesk
	// verify` does. It changes nothing, so it runs first.
	b.Run("verify", func(b *testing.B) {
		for range b.N {
			t0 := time.Now()
			v, err := db.Verify(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if !v.OK {
				b.Fatalf("ledger broken: %s", v.Reason)
			}
			b.ReportMetric(float64(v.Events), "events")
			b.ReportMetric(float64(time.Since(t0).Nanoseconds())/float64(v.Events), "ns/event")
		}
	})

	// An erasure: secure delete of the customer's data and a checkpoint
	// of the log, so that no copy is left in the files.
	b.Run("erase", func(b *testing.B) {
		ids, err := consent.IDs(ctx, db.SQL(), `SELECT id FROM customers WHERE erased_at = '' ORDER BY id DESC LIMIT ?`, b.N)
		if err != nil {
			b.Fatal(err)
		}
		var times []time.Duration
		b.ResetTimer()
		for _, id := range ids {
			t0 := time.Now()
			e, err := db.Erase(ctx, id, 0)
			if err != nil {
				b.Fatal(err)
			}
			times = append(times, time.Since(t0))
			if !e.Checkpointed {
				b.Errorf("erasure of %d: log not checkpointed", id)
			}
		}
		report(b, times, "")
	})

	// Orders one after the other, as the counter sends them, until
	// stop says so: how long each waited.
	ordering := func(b *testing.B, stop func() bool) (times []time.Duration, worstAt time.Duration) {
		in := sampleOrder(b)
		t0 := time.Now()
		for i := 0; !stop(); i++ {
			in.Customer.Email = fmt.Sprintf("backup%d-%d@example.org", time.Now().UnixNano(), i)
			o0 := time.Now()
			if _, err := db.PlaceOrder(ctx, in); err != nil {
				b.Fatal(err)
			}
			d := time.Since(o0)
			if len(times) == 0 || d > slices.Max(times) {
				worstAt = o0.Sub(t0)
			}
			times = append(times, d)
		}
		return times, worstAt
	}

	// A backup of the whole file while the counter goes on taking orders:
	// how long it takes, and how long any order waited meanwhile and in
	// the 3 s after it, when the log the backup's long read held back is
	// copied into the file (the checkpointer runs once a second).
	b.Run("backup-while-ordering", func(b *testing.B) {
		for range b.N {
			file := filepath.Join(b.TempDir(), "copy.db")
			done := make(chan error, 1)
			t0 := time.Now()
			go func() { done <- db.Backup(ctx, file) }()
			var backupTook time.Duration
			times, worstAt := ordering(b, func() bool {
				select {
				case err := <-done:
					if err != nil {
						b.Fatal(err)
					}
					backupTook = time.Since(t0)
				default:
				}
				return backupTook != 0 && time.Since(t0) >= backupTook+3*time.Second
			})
			b.ReportMetric(worstAt.Seconds(), "order-max-at-s")
			b.ReportMetric(backupTook.Seconds(), "backup-s")
			b.ReportMetric(float64(len(times)), "orders-meanwhile")
			report(b, times, "order-")
			os.Remove(file)
		}
	})

	// The same orders for 30 s without a backup: what the disk does by
	// itself, against which the backup's figures are read.
	b.Run("ordering-alone", func(b *testing.B) {
		for range b.N {
			t0 := time.Now()
			times, worstAt := ordering(b, func() bool { return time.Since(t0) >= 30*time.Second })
			b.ReportMetric(worstAt.Seconds(), "order-max-at-s")
			b.ReportMetric(float64(len(times)), "orders")
			report(b, times, "order-")
		}
	})
}
