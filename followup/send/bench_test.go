package send_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/followup/send"
	"github.com/consentdesk/consentdesk/pos"
)

// BenchmarkDeliver measures thank-you mails per second rendered (HTML,
// text, QR code, .ics) and delivered to an SMTP server on loopback, with
// the outbox updated for each.
//
//	go test -run XXX -bench Deliver -benchtime 2000x ./followup
func BenchmarkDeliver(b *testing.B) {
	for _, mode := range []struct {
		name string
		mode serverMode
		url  string
	}{{"plain", plainServer, "smtp://x?tls=none"}, {"starttls+auth", startTLSServer, "smtp://laden:geheim%20%C3%A4%C3%B6%C3%BC@x"}} {
		b.Run(mode.name, func(b *testing.B) {
			s := newStore(b, false)
			placed := s.order(b, jana(), false)
			ctx := context.Background()
			// Queue b.N mails for the order, as if b.N orders had come in.
			err := s.db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
				if _, err := tx.ExecContext(ctx, `DELETE FROM outbox`); err != nil {
					return err
				}
				for i := 0; i < b.N; i++ {
					if _, err := followup.Enqueue(ctx, tx, followup.Job{Kind: followup.ThankYou, CustomerID: placed.Customer.ID, OrderID: placed.Order.ID}, now); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			ms := newMailServer(b, mode.mode)
			tr, err := followup.NewSMTP(ms.config(b, mode.url))
			if err != nil {
				b.Fatal(err)
			}
			sender := s.sender(tr, send.SenderConfig{})
			b.ResetTimer()
			start := time.Now()
			n, err := sender.Drain(ctx)
			elapsed := time.Since(start)
			b.StopTimer()
			if err != nil || n != b.N || len(ms.messages()) != b.N {
				b.Fatalf("drained %d, received %d of %d (%v)", n, len(ms.messages()), b.N, err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "mails/s")
		})
	}
}

// BenchmarkOneClickUnsubscribe measures RFC 8058 one-click unsubscribes
// per second against the real public server on loopback: each a POST on
// a fresh connection, each a ledger event committed at synchronous=FULL.
// The requests come from many loopback addresses (127.0.x.y), as from
// many phones, so that the per-IP limit does not throttle the test.
//
//	go test -run XXX -bench OneClick -benchtime 1000x ./followup
func BenchmarkOneClickUnsubscribe(b *testing.B) {
	s := newStore(b, false)
	tokens := make([]string, b.N)
	for i := range tokens {
		c := jana()
		c.Email = fmt.Sprintf("kunde%d@example.org", i)
		p := s.order(b, c, true)
		tokens[i] = s.tokens.Make(consent.UnsubscribeToken, p.Customer.ID)
	}
	web, err := pos.New(pos.Config{DB: s.db, PublicURL: publicURL})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(web.PublicHandler())
	defer srv.Close()
	var next, failed atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			src := net.IPv4(127, 0, byte(1+i/20/250), byte(1+i/20%250)) // 20 requests per address, the limit's burst
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
				DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: src}}).DialContext}}
			res, err := client.Post(srv.URL+"/u/"+tokens[i], "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
			if err != nil || res.StatusCode != http.StatusOK {
				failed.Add(1)
			}
			if res != nil {
				res.Body.Close()
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if failed.Load() != 0 {
		b.Fatalf("%d of %d unsubscribes failed", failed.Load(), b.N)
	}
	var withdrawn int
	s.db.SQL().QueryRow(`SELECT COUNT(*) FROM consent_events WHERE action = 'withdraw' AND source = 'email_link'`).Scan(&withdrawn)
	if withdrawn != b.N {
		b.Fatalf("%d withdrawals in the ledger, want %d", withdrawn, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "unsubscribes/s")
}
