package send_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/followup/send"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/pos"
)

// TestTemporaryFailureIsRetried: 451 twice, then accepted; one mail
// arrives, after three attempts spaced by a doubling backoff.
func TestTemporaryFailureIsRetried(t *testing.T) {
	t.Parallel()
	s := newStore(t, false)
	ms := newMailServer(t, plainServer)
	ms.reject = func(n int) error {
		if n <= 2 {
			return errTemporary
		}
		return nil
	}
	s.order(t, jana(), false)
	sender := s.sender(s.smtp(t, ms.config(t, "smtp://x?tls=none")), send.SenderConfig{Backoff: time.Minute})

	drain(t, sender)
	m := outbox(t, s)[0]
	if m.Status != followup.Queued || m.Attempts != 1 || !strings.Contains(m.LastError, "451") {
		t.Fatalf("after a 451: status %s, attempts %d, error %q", m.Status, m.Attempts, m.LastError)
	}
	if drain(t, sender) != 0 {
		t.Fatal("retried before the backoff ended")
	}
	s.clock.Add(61 * time.Second)
	drain(t, sender)
	if m = outbox(t, s)[0]; m.Attempts != 2 || m.Status != followup.Queued {
		t.Fatalf("second attempt: %s, %d", m.Status, m.Attempts)
	}
	s.clock.Add(61 * time.Second) // the wait has doubled: not due yet
	if drain(t, sender) != 0 {
		t.Fatal("the second retry did not wait twice as long")
	}
	s.clock.Add(60 * time.Second)
	drain(t, sender)
	if m = outbox(t, s)[0]; m.Status != followup.Sent || m.Attempts != 3 || m.LastError != "" {
		t.Fatalf("third attempt: %s, %d, %q", m.Status, m.Attempts, m.LastError)
	}
	if got := ms.messages(); len(got) != 1 {
		t.Fatalf("received %d mails, want 1", len(got))
	}
}

// TestGivingUp: a 5xx fails at once; a server that is down is retried up
// to the limit and then shown as failed.
func TestGivingUp(t *testing.T) {
	t.Parallel()
	s := newStore(t, false)
	ms := newMailServer(t, plainServer)
	ms.reject = func(int) error { return errPermanent }
	s.order(t, jana(), false)
	drain(t, s.sender(s.smtp(t, ms.config(t, "smtp://x?tls=none")), send.SenderConfig{}))
	m := outbox(t, s)[0]
	if m.Status != followup.Failed || m.Attempts != 1 || !strings.Contains(m.LastError, "550") {
		t.Fatalf("after a 550: %s, %d, %q", m.Status, m.Attempts, m.LastError)
	}

	s2 := newStore(t, false)
	s2.order(t, jana(), false)
	down := ms.config(t, "smtp://x?tls=none")
	down.Port = closedPort(t)
	sender := s2.sender(s2.smtp(t, down), send.SenderConfig{MaxAttempts: 4, Backoff: time.Second})
	for i := 0; i < 10; i++ {
		drain(t, sender)
		s2.clock.Add(time.Hour)
	}
	m = outbox(t, s2)[0]
	if m.Status != followup.Failed || m.Attempts != 4 || m.LastError == "" {
		t.Fatalf("server down: %s after %d attempts, %q", m.Status, m.Attempts, m.LastError)
	}
}

func closedPort(t *testing.T) int {
	srv := httptest.NewServer(http.NotFoundHandler())
	u, _ := url.Parse(srv.URL)
	srv.Close()
	p, _ := strconv.Atoi(u.Port())
	return p
}

// TestRestartWhileSending stops the sender in the middle of a batch,
// reopens the database as a restarted server would, and finishes: every
// mail arrives exactly once.
func TestRestartWhileSending(t *testing.T) {
	t.Parallel()
	s := newStore(t, false)
	ms := newMailServer(t, plainServer)
	const n = 30
	for i := 0; i < n; i++ {
		s.order(t, jana(), false)
	}
	cfg := ms.config(t, "smtp://x?tls=none")
	ctx, stop := context.WithCancel(context.Background())
	first := s.sender(s.smtp(t, cfg), send.SenderConfig{})
	done := make(chan struct{})
	go func() { first.Run(ctx); close(done) }()
	for i := 0; i < 10; i++ {
		<-ms.got
	}
	stop()
	<-done
	before := len(ms.messages())
	if before >= n {
		t.Fatalf("all %d mails went out before the stop; the test proves nothing", before)
	}
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}

	s.open(t)
	second := s.sender(s.smtp(t, cfg), send.SenderConfig{})
	ctx2, stop2 := context.WithCancel(context.Background())
	done2 := make(chan struct{})
	go func() { second.Run(ctx2); close(done2) }()
	waitFor(t, ms, n)
	stop2()
	<-done2
	eachOnce(t, ms, n)
	for _, m := range outbox(t, s) {
		if m.Status != followup.Sent || m.Attempts != 1 {
			t.Errorf("mail %d: %s after %d attempts", m.ID, m.Status, m.Attempts)
		}
	}
	t.Logf("%d mails before the restart, %d after", before, n-before)
}

// TestCrashWhileSendingRequeues: a mail left "sending" by a crash goes
// out again, with its Message-ID unchanged.
func TestCrashWhileSendingRequeues(t *testing.T) {
	s := newStore(t, false)
	ms := newMailServer(t, plainServer)
	s.order(t, jana(), false)
	m := outbox(t, s)[0]
	if _, err := s.db.SQL().Exec(`UPDATE outbox SET status = 'sending', attempts = 1 WHERE id = ?`, m.ID); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.sender(s.smtp(t, ms.config(t, "smtp://x?tls=none")), send.SenderConfig{}).Run(ctx)
		close(done)
	}()
	select {
	case <-ms.got:
	case <-time.After(10 * time.Second):
		t.Fatal("the interrupted mail was not sent")
	}
	stop()
	<-done
	p := parse(t, ms.messages()[0].Data)
	if p.Header.Get("Message-Id") != "<"+m.MessageID+">" {
		t.Errorf("Message-ID changed: %s, queued %s", p.Header.Get("Message-Id"), m.MessageID)
	}
	if got := outbox(t, s)[0]; got.Status != followup.Sent || got.Attempts != 2 {
		t.Errorf("%s after %d attempts", got.Status, got.Attempts)
	}
}

// TestOneClickUnsubscribeThenSuppressed posts the mail's RFC 8058
// one-click unsubscribe to the real web server and finds the ledger
// event; the advertising mail queued before is then not sent, and the
// pickup information goes out without the advertising. An altered token
// changes nothing.
func TestOneClickUnsubscribeThenSuppressed(t *testing.T) {
	s := newStore(t, false)
	ms := newMailServer(t, plainServer)
	web, err := pos.New(pos.Config{DB: s.db, PublicURL: publicURL})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.PublicHandler())
	defer srv.Close()
	sender := s.sender(s.smtp(t, ms.config(t, "smtp://x?tls=none")), send.SenderConfig{})
	ctx := context.Background()

	placed := s.order(t, jana(), true) // single opt-in: granted, so the thank-you mail advertises
	drain(t, sender)
	thanks := parse(t, ms.messages()[0].Data)
	if !strings.Contains(thanks.Text, "Unser Service für Sie") {
		t.Fatal("the first mail should carry the offer")
	}
	// The mail client takes the https link of List-Unsubscribe and posts
	// to the same path on this server.
	link := strings.TrimSuffix(strings.Split(thanks.Header.Get("List-Unsubscribe"), ">,")[0][1:], ">")
	path := strings.TrimPrefix(link, publicURL)

	if _, err := s.db.MarkReady(ctx, placed.Order.ID); err != nil {
		t.Fatal(err)
	}
	pickup := outbox(t, s)[1]
	if !pickup.Marketing {
		t.Fatal("the pickup mail was queued with advertising: consent was granted")
	}

	// An altered token: 404 and nothing recorded.
	_, eventsBefore, _ := s.db.Consents(ctx, placed.Customer.ID)
	altered := alter(path, len(path)-5)
	if res := postForm(t, srv.URL+altered, "List-Unsubscribe=One-Click"); res != http.StatusNotFound {
		t.Fatalf("altered token: %d, want 404", res)
	}
	if _, ev, _ := s.db.Consents(ctx, placed.Customer.ID); len(ev) != len(eventsBefore) {
		t.Fatal("an altered token changed the ledger")
	}

	if res := postForm(t, srv.URL+path, "List-Unsubscribe=One-Click"); res != http.StatusOK {
		t.Fatalf("one-click unsubscribe: %d, want 200", res)
	}
	states, events, err := s.db.Consents(ctx, placed.Customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1]
	if states[consent.Email].State != consent.Withdrawn || last.Action != consent.Withdraw || last.Source != consent.EmailLink || last.Actor != consent.ByCustomer {
		t.Fatalf("after one-click: state %s, last event %+v", states[consent.Email].State, last)
	}

	drain(t, sender)
	rows := outbox(t, s)
	if rows[1].Status != followup.Suppressed || !strings.Contains(rows[1].LastError, "withdrawn") {
		t.Fatalf("advertising pickup mail: %s (%q), want suppressed", rows[1].Status, rows[1].LastError)
	}
	if len(rows) != 3 || rows[2].Kind != followup.Pickup || rows[2].Marketing || rows[2].Status != followup.Sent {
		t.Fatalf("want a transactional pickup mail in its place, got %+v", rows[2:])
	}
	got := ms.messages()
	if len(got) != 2 {
		t.Fatalf("%d mails received, want 2", len(got))
	}
	p := parse(t, got[1].Data)
	if strings.Contains(p.Text, "Unser Service für Sie") || !strings.Contains(p.Text, "ist fertig und kann abgeholt werden") {
		t.Error("the replacement pickup mail must inform without advertising")
	}
	if p.Header.Get("Message-Id") == "<"+rows[1].MessageID+">" {
		t.Error("the replacement must have its own Message-ID")
	}
}

func postForm(t *testing.T, u, body string) int {
	t.Helper()
	res, err := http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestDoubleOptInMailSuppressedWhenNothingPending: a customer who
// confirmed or withdrew before the mail went out does not get it.
func TestDoubleOptInMailSuppressedWhenNothingPending(t *testing.T) {
	s := newStore(t, true)
	placed := s.order(t, jana(), true)
	if _, err := s.db.RecordConsents(context.Background(), orders.ConsentChange{CustomerID: placed.Customer.ID, Source: consent.InPerson,
		Channels: map[consent.Channel]bool{consent.Email: false}}); err != nil {
		t.Fatal(err)
	}
	drain(t, s.sender(followup.Folder{Dir: t.TempDir()}, send.SenderConfig{}))
	rows := outbox(t, s)
	if rows[1].Kind != followup.DoubleOptIn || rows[1].Status != followup.Suppressed || len(rows) != 2 {
		t.Fatalf("double opt-in mail: %+v", rows)
	}
}

// TestFolderWithoutSMTP: without SMTP each mail is held in the outbox
// and written as an .eml file identical to the stored message.
func TestFolderWithoutSMTP(t *testing.T) {
	t.Parallel()
	s := newStore(t, true)
	s.order(t, jana(), true)
	dir := filepath.Join(t.TempDir(), "mail")
	drain(t, s.sender(followup.Folder{Dir: dir}, send.SenderConfig{}))
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != 2 {
		t.Fatalf("%d .eml files, want 2", len(files))
	}
	for _, m := range outbox(t, s) {
		if m.Status != followup.Held {
			t.Errorf("mail %d: %s, want held", m.ID, m.Status)
		}
		full, err := followup.Get(context.Background(), s.db.SQL(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		file, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%06d.eml", m.ID)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(file, full.Raw) || len(file) == 0 {
			t.Errorf("mail %d: .eml differs from the stored message", m.ID)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".eml-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// alter changes the character at i, keeping it in the token alphabet.
func alter(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// TestNothingQueuedWhenTheOrderFails: the mail commits with the order or
// not at all.
func TestNothingQueuedWhenTheOrderFails(t *testing.T) {
	t.Parallel()
	s := newStore(t, true)
	_, err := s.db.PlaceOrder(context.Background(), orders.NewOrder{Customer: jana(),
		Items:   []orders.Item{{Description: "Brille", Quantity: 1, UnitPriceCents: 100, VATRatePercent: 19}},
		Consent: orders.ConsentInput{Mode: orders.ModeTablet, Channels: map[consent.Channel]bool{consent.SMS: true}}}) // no mobile number
	if err == nil {
		t.Fatal("order accepted")
	}
	if rows := outbox(t, s); len(rows) != 0 {
		t.Fatalf("%d mails queued for a refused order", len(rows))
	}
	// A customer without an e-mail address gets no mail at all.
	c := jana()
	c.Email, c.Mobile = "", "+49 170 1234567"
	s.order(t, c, false)
	if rows := outbox(t, s); len(rows) != 0 {
		t.Fatalf("%d mails queued for a customer without e-mail", len(rows))
	}
}

func TestParseSMTPURL(t *testing.T) {
	good := []struct {
		in   string
		want followup.SMTPConfig
	}{
		{"smtp://user:pa%40ss@mail.example.org:587?tls=starttls&from=Optik%20M%C3%BCller%20%3Cinfo%40optik.example%3E",
			followup.SMTPConfig{Host: "mail.example.org", Port: 587, Username: "user", Password: "pa@ss", TLS: "starttls", From: "Optik Müller <info@optik.example>"}},
		{"smtp://mail.example.org", followup.SMTPConfig{Host: "mail.example.org", Port: 587, TLS: "starttls"}},
		{"smtp://mail.example.org?tls=tls", followup.SMTPConfig{Host: "mail.example.org", Port: 465, TLS: "tls"}},
		{"smtps://u:secret@mail.example.org", followup.SMTPConfig{Host: "mail.example.org", Port: 465, TLS: "tls", Username: "u", Password: "secret"}},
		{"smtp://localhost:2525?tls=none", followup.SMTPConfig{Host: "localhost", Port: 2525, TLS: "none"}},
	}
	for _, tc := range good {
		got, err := followup.ParseSMTPURL(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		got.Timeout = 0
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
		if strings.Contains(got.String(), got.Password) && got.Password != "" {
			t.Errorf("String() shows the password: %s", got.String())
		}
	}
	for _, bad := range []string{"", "http://mail.example.org", "smtp://", "smtp://h?tls=maybe", "smtp://h:99999", "smtp://h?from=not-an-address", "::", "smtp://user:secret@h?tls=none", "smtp://user@h:25?tls=none"} {
		if _, err := followup.ParseSMTPURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A mail whose result could not be recorded stays "sending"; found: it
// waited for the next restart. Now each poll requeues it by age and
// sends it again with the same Message-ID, while a mail being sent right
// now is left alone.
func TestStaleSendingRequeuedWithoutRestart(t *testing.T) {
	t.Parallel()
	s := newStore(t, false)
	ms := newMailServer(t, plainServer)
	s.order(t, jana(), false)
	s.order(t, orders.Customer{FirstName: "Ole", LastName: "Berg", Email: "ole@example.org", Lang: "de"}, false)
	mails := outbox(t, s)
	stale, fresh := mails[0], mails[1]
	then := stamp(s.clock.Now().Add(-11 * time.Minute))
	now := stamp(s.clock.Now().Add(-time.Minute))
	if _, err := s.db.SQL().Exec(`UPDATE outbox SET status = 'sending', attempts = 1, updated_at = ? WHERE id = ?`, then, stale.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.SQL().Exec(`UPDATE outbox SET status = 'sending', attempts = 1, updated_at = ? WHERE id = ?`, now, fresh.ID); err != nil {
		t.Fatal(err)
	}
	sender := s.sender(s.smtp(t, ms.config(t, "smtp://x?tls=none")), send.SenderConfig{})
	if n := drain(t, sender); n != 1 {
		t.Fatalf("drained %d, want the stale one", n)
	}
	got := outbox(t, s)
	if got[0].Status != followup.Sent || got[0].Attempts != 2 {
		t.Errorf("stale mail: %s after %d attempts", got[0].Status, got[0].Attempts)
	}
	if got[1].Status != followup.Sending {
		t.Errorf("a mail being sent a minute ago was taken: %s", got[1].Status)
	}
	p := parse(t, ms.messages()[0].Data)
	if p.Header.Get("Message-Id") != "<"+stale.MessageID+">" {
		t.Errorf("Message-ID changed: %s, queued %s", p.Header.Get("Message-Id"), stale.MessageID)
	}
}

// unreadable makes the customers' table unreadable until the returned
// function puts it back: a storage error of the real database while a
// mail is prepared, as a full or busy disk gives for a moment.
func unreadable(t *testing.T, s *store) (back func()) {
	t.Helper()
	if _, err := s.db.SQL().Exec(`ALTER TABLE customers RENAME TO customers_away`); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if _, err := s.db.SQL().Exec(`ALTER TABLE customers_away RENAME TO customers`); err != nil {
			t.Fatal(err)
		}
	}
}

// A passing storage error while preparing a mail is temporary: found, it
// failed the mail for good. Now it is retried after the backoff and sent.
func TestStorageErrorWhilePreparingIsTemporary(t *testing.T) {
	t.Parallel()
	s := newStore(t, false)
	ms := newMailServer(t, plainServer)
	s.order(t, jana(), false)
	sender := send.NewSender(s.db, s.tokens, s.smtp(t, ms.config(t, "smtp://x?tls=none")),
		send.SenderConfig{PublicURL: publicURL, Backoff: time.Minute})
	back := unreadable(t, s)
	drain(t, sender)
	back()
	m := outbox(t, s)[0]
	if m.Status != followup.Queued || m.Attempts != 1 || !strings.Contains(m.LastError, "customers") {
		t.Fatalf("after a storage error: %s, %d attempts, %q", m.Status, m.Attempts, m.LastError)
	}
	s.clock.Add(61 * time.Second)
	drain(t, sender)
	if m = outbox(t, s)[0]; m.Status != followup.Sent || m.Attempts != 2 {
		t.Fatalf("the retry: %s, %d attempts", m.Status, m.Attempts)
	}
	// It fails for good only after MaxAttempts.
	s.order(t, orders.Customer{FirstName: "Ole", LastName: "Berg", Email: "ole@example.org", Lang: "de"}, false)
	sender = send.NewSender(s.db, s.tokens, s.smtp(t, ms.config(t, "smtp://x?tls=none")),
		send.SenderConfig{PublicURL: publicURL, Backoff: time.Second, MaxAttempts: 3})
	back = unreadable(t, s)
	for i := 0; i < 3; i++ {
		drain(t, sender)
		s.clock.Add(time.Hour)
	}
	back()
	if m := outbox(t, s)[1]; m.Status != followup.Failed || m.Attempts != 3 {
		t.Errorf("after three storage errors: %s, %d attempts", m.Status, m.Attempts)
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Two senders on one outbox, as two server processes on a chain's
// database: every mail goes out once, claimed by one
// of them. A sender that starts while the other has a mail in hand
// leaves it alone when the outbox is shared; alone, it takes such a
// mail for one a crash left behind (TestCrashWhileSendingRequeues).
func TestTwoSendersOneOutbox(t *testing.T) {
	t.Parallel()
	s := newStore(t, false)
	other := &store{path: s.path, clock: s.clock}
	other.open(t) // a second handle on the same database, with its own connections
	ms := newMailServer(t, plainServer)
	cfg := ms.config(t, "smtp://x?tls=none")

	// A mail in the other process's hand, claimed a moment ago.
	s.order(t, jana(), false)
	inHand := outbox(t, s)[0]
	if _, err := s.db.SQL().Exec(`UPDATE outbox SET status = 'sending', attempts = 1, updated_at = ? WHERE id = ?`,
		orders.Stamp(s.clock.Now()), inHand.ID); err != nil {
		t.Fatal(err)
	}
	const n = 40
	for i := 0; i < n; i++ {
		s.order(t, jana(), false)
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, st := range []*store{s, other} {
		wg.Add(1)
		snd := st.sender(st.smtp(t, cfg), send.SenderConfig{Shared: true})
		go func() { defer wg.Done(); snd.Run(ctx) }()
	}
	waitFor(t, ms, n)
	// A mail sent twice was claimed twice, both times before its result
	// was recorded. Once every mail but the one in hand has its result,
	// no sender has anything left to claim (the clock stands still, so
	// the one in hand never turns stale); stopped, each sender finishes
	// the mail in its hand first. What the server holds then is all it
	// will ever get, on a slow machine as on a fast one.
	waitRecorded(t, s, inHand.ID)
	stop()
	wg.Wait()
	if seen := eachOnce(t, ms, n); seen["<"+inHand.MessageID+">"] != 0 {
		t.Error("a sender took the mail in the other's hand for an interrupted one and sent it")
	}
	for _, m := range outbox(t, s) {
		switch {
		case m.ID == inHand.ID && m.Status != followup.Sending:
			t.Errorf("the mail in hand: %s, want still sending", m.Status)
		case m.ID != inHand.ID && (m.Status != followup.Sent || m.Attempts != 1):
			t.Errorf("mail %d: %s after %d attempts", m.ID, m.Status, m.Attempts)
		}
	}
}

// waitRecorded waits until every mail but the one with id except has
// left "queued" and "sending", 30 s at most.
func waitRecorded(t *testing.T, s *store, except int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var open []string
		for _, m := range outbox(t, s) {
			if m.ID != except && (m.Status == followup.Queued || m.Status == followup.Sending) {
				open = append(open, fmt.Sprintf("%d %s", m.ID, m.Status))
			}
		}
		if len(open) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s the senders still have mails without a result: %v", open)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor waits until the server received n mails, 30 s at most.
func waitFor(t *testing.T, ms *mailServer, n int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for len(ms.messages()) < n {
		select {
		case <-ms.got:
		case <-deadline:
			t.Fatalf("only %d of %d mails arrived", len(ms.messages()), n)
		}
	}
}

// eachOnce checks that the server received n distinct mails, each once,
// and returns how often each Message-ID arrived.
func eachOnce(t *testing.T, ms *mailServer, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, m := range ms.messages() {
		seen[parse(t, m.Data).Header.Get("Message-Id")]++
	}
	if len(seen) != n {
		t.Errorf("%d distinct mails, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s arrived %d times", id, c)
		}
	}
	return seen
}
