package pos_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/orders"
)

// storeWith10000 is a store with 10,000 customers and a signed-in
// counter session.
func storeWith10000(b *testing.B) (http.Handler, []*http.Cookie) {
	e := newEnv(b)
	first := []string{"Anna", "Jürgen", "Ömer", "Małgorzata", "Björn", "Änne", "Kim", "Lena", "Paul", "Sophie"}
	last := []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein"}
	list := make([]orders.Customer, 10000)
	for i := range list {
		list[i] = orders.Customer{FirstName: first[i%len(first)], LastName: fmt.Sprintf("%s%d", last[i%len(last)], i/len(last)),
			Email: fmt.Sprintf("kunde%05d@example.org", i), Mobile: fmt.Sprintf("+49 170 %07d", i), City: "Freiburg"}
	}
	if _, err := e.db.ImportCustomers(context.Background(), list); err != nil {
		b.Fatal(err)
	}
	c := e.client()
	c.signIn(e.counter, "4711")
	var cookies []*http.Cookie
	for k, v := range c.cookies {
		cookies = append(cookies, &http.Cookie{Name: k, Value: v})
	}
	return e.srv.Config.Handler, cookies
}

// timeRequests serves path b.N times on the handler itself (the server
// side, without the network) and reports the median and the 99th
// percentile.
func timeRequests(b *testing.B, h http.Handler, cookies []*http.Cookie, path string) {
	times := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		times = append(times, time.Since(start))
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: %d", path, rec.Code)
		}
	}
	b.StopTimer()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkOrderScreen: GET /orders/new with 10,000 customers stored.
//
//	go test -run XXX -bench OrderScreen -benchtime 2000x ./pos
func BenchmarkOrderScreen(b *testing.B) {
	h, cookies := storeWith10000(b)
	timeRequests(b, h, cookies, "/orders/new")
}

// BenchmarkCustomerSearch: the search as the counter types it, among
// 10,000 customers: part of a name, an e-mail, a mobile number typed
// the German way.
//
//	go test -run XXX -bench CustomerSearch -benchtime 2000x ./pos
func BenchmarkCustomerSearch(b *testing.B) {
	h, cookies := storeWith10000(b)
	for _, q := range []string{"mül", "schäfer1", "kunde04711", "0170 0004711", "anna weber"} {
		b.Run(q, func(b *testing.B) {
			timeRequests(b, h, cookies, "/customers/search?q="+url.QueryEscape(q))
		})
	}
}

// BenchmarkChainData: the counter's search and the order screen on a
// chain's data, 1,000,000 customers and 10,000,000 ledger events, made
// by
//
//	go run ./cmd/consentdesk-bench generate --db /tmp/chain.db --customers 1000000 --events 10000000
//	CONSENTDESK_BENCH_DB=/tmp/chain.db go test ./pos -run XXX -bench ChainData -benchtime 300x
//
// It adds a staff member to that database. Without the variable it skips.
func BenchmarkChainData(b *testing.B) {
	path := os.Getenv("CONSENTDESK_BENCH_DB")
	if path == "" {
		b.Skip("CONSENTDESK_BENCH_DB is not set: make a database with consentdesk-bench generate")
	}
	e := newEnvIn(b, path, false)
	var customers int
	if err := e.db.SQL().QueryRow(`SELECT count(*) FROM customers`).Scan(&customers); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d customers", customers)
	c := e.client()
	c.signIn(e.counter, "4711")
	var cookies []*http.Cookie
	for k, v := range c.cookies {
		cookies = append(cookies, &http.Cookie{Name: k, Value: v})
	}
	h := e.srv.Config.Handler
	b.Run("order-screen", func(b *testing.B) { timeRequests(b, h, cookies, "/orders/new") })
	for _, q := range []string{"mül", "schäfer1", "kunde0004711", "0170 0004711", "anna weber", "yılmaz7"} {
		b.Run("search "+q, func(b *testing.B) {
			timeRequests(b, h, cookies, "/customers/search?q="+url.QueryEscape(q))
		})
	}
}
