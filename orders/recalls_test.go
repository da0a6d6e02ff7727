package orders_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/orderstest"
)

// The test binary doubles as a second server process that sends the
// recalls due: with CONSENTDESK_TEST_RECALLS="DB FILES TOPIC" it opens the
// database, waits for a line on stdin (so that two start at once),
// sends, prints what it sent as JSON and exits.
func init() {
	args := strings.Fields(os.Getenv("CONSENTDESK_TEST_RECALLS"))
	if len(args) != 3 {
		return
	}
	ctx := context.Background()
	db, err := orders.Open(ctx, args[0], assets.Migrations(), orders.Options{Files: args[1]})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	sent, err := db.SendRecalls(ctx, args[2], 0)
	db.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]int{"mails": sent.Mails, "letters": len(sent.Letters)})
	os.Exit(0)
}

// dueForEyeTest places n orders whose prescriptions were measured 25
// months ago, with consent for the eye test reminder: by e-mail for the
// even ones, by post (signed at the tablet) for the odd ones.
func dueForEyeTest(t *testing.T, db *orders.DB, n int) []int64 {
	t.Helper()
	ctx := context.Background()
	if err := db.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i := range n {
		in := sampleOrder(t)
		in.Customer.Email = fmt.Sprintf("erinnerung%d@example.org", i)
		in.Customer.Mobile = ""
		ch := consent.Email
		if i%2 == 1 {
			ch = consent.Post
		}
		in.Consent.Channels = map[consent.Channel]bool{ch: true}
		in.Consent.Topics = map[string]bool{consent.TopicEyeTest: true}
		in.Prescription.MeasuredOn = time.Now().AddDate(0, -25, 0).Format("2006-01-02")
		p, err := db.PlaceOrder(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.Customer.ID)
	}
	return ids
}

// usesPerCustomer counts the recall uses of the eye test per customer.
func usesPerCustomer(t *testing.T, db *orders.DB, ids []int64) map[int64]int {
	t.Helper()
	out := map[int64]int{}
	for _, id := range ids {
		_, events, err := db.Consents(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			if e.Action == consent.Use && e.Topic == consent.TopicEyeTest {
				out[id]++
			}
		}
	}
	return out
}

// A recall goes once per period, however many "send" clicks meet: the
// due list is claimed in the sending transaction. A send whose list was
// read before another's commit sends nothing twice; parallel sends on
// one server send each recall once.
func TestRecallsGoOncePerPeriod(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	ids := dueForEyeTest(t, db, 6)
	early, err := db.Recalls(ctx, consent.TopicEyeTest)
	if err != nil || len(early) != 6 {
		t.Fatalf("due: %d %v", len(early), err)
	}
	first, err := db.SendRecalls(ctx, consent.TopicEyeTest, 0)
	if err != nil || first.Mails != 3 || len(first.Letters) != 3 {
		t.Fatalf("first send: %d mails, %d letters, %v", first.Mails, len(first.Letters), err)
	}
	late, err := db.SendListedRecalls(ctx, consent.TopicEyeTest, 0, early)
	if err != nil {
		t.Fatal(err)
	}
	if late.Mails != 0 || len(late.Letters) != 0 {
		t.Errorf("a send with the list read before the first one's commit sent %d mails and %d letters again", late.Mails, len(late.Letters))
	}

	// Parallel sends on one server, a fresh period's worth.
	more := dueForEyeTest(t, db, 6)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := db.SendRecalls(ctx, consent.TopicEyeTest, 0)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			total += s.Mails + len(s.Letters)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != len(more) {
		t.Errorf("4 parallel sends sent %d recalls, want %d: each once", total, len(more))
	}
	for id, n := range usesPerCustomer(t, db, append(ids, more...)) {
		if n != 1 {
			t.Errorf("customer %d: %d recall uses in one period", id, n)
		}
	}
}

// A withdrawal or an objection that lands between reading the due list
// and sending keeps its channel: consent is asked again per cell at send
// time, as the mail sender does.
func TestRecallsNeverAfterAWithdrawal(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	ids := dueForEyeTest(t, db, 4)
	list, err := db.Recalls(ctx, consent.TopicEyeTest)
	if err != nil || len(list) != 4 {
		t.Fatalf("due: %d %v", len(list), err)
	}
	// The post customer withdraws the eye test reminder by post only (a
	// cell); the e-mail customer objects to e-mail altogether.
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: ids[1], Source: consent.PreferencePage, ByCustomer: true,
		Cells: map[consent.Channel]map[string]bool{consent.Post: {consent.TopicEyeTest: false}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RecordConsents(ctx, orders.ConsentChange{CustomerID: ids[0], Source: consent.PreferencePage, ByCustomer: true, Object: true,
		Channels: map[consent.Channel]bool{consent.Email: false}}); err != nil {
		t.Fatal(err)
	}
	sent, err := db.SendListedRecalls(ctx, consent.TopicEyeTest, 0, list)
	if err != nil {
		t.Fatal(err)
	}
	if sent.Mails != 1 || len(sent.Letters) != 1 || sent.Letters[0].ID != ids[3] {
		t.Errorf("sent %d mails and letters %+v, want one each, to the customers who did not withdraw", sent.Mails, sent.Letters)
	}
	uses := usesPerCustomer(t, db, ids)
	if uses[ids[0]] != 0 || uses[ids[1]] != 0 || uses[ids[2]] != 1 || uses[ids[3]] != 1 {
		t.Errorf("recall uses per customer: %v", uses)
	}
}

// Two server processes of a chain press "send" at the same moment: each
// recall goes once, and the ledger has one use per customer.
func TestRecallsOnceAcrossTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	if !orderstest.Postgres() {
		t.Skip("two servers share a chain's PostgreSQL database; on SQLite one server owns the file (the PostgreSQL pass runs this test, the SQLite pass races within one process in TestRecallsGoOncePerPeriod)")
	}
	path := filepath.Join(t.TempDir(), "recalls.db")
	db := openDBAt(t, path, orders.Options{})
	ids := dueForEyeTest(t, db, 10)
	url, files := orderstest.Location(t, path)
	type proc struct {
		cmd  *exec.Cmd
		in   *os.File
		out  *bufio.Reader
		errs *strings.Builder
	}
	var procs []proc
	for range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "CONSENTDESK_TEST_RECALLS="+url+" "+files+" "+consent.TopicEyeTest)
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdin = r
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		errs := &strings.Builder{}
		cmd.Stderr = errs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r.Close()
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		p := proc{cmd, w, bufio.NewReader(stdout), errs}
		if line, err := p.out.ReadString('\n'); err != nil || line != "ready\n" {
			cmd.Wait()
			t.Fatalf("helper process: %q %v\n%s", line, err, errs)
		}
		procs = append(procs, p)
	}
	for _, p := range procs {
		p.in.WriteString("go\n")
		p.in.Close()
	}
	total := 0
	for _, p := range procs {
		var sent map[string]int
		if err := json.NewDecoder(p.out).Decode(&sent); err != nil {
			p.cmd.Wait()
			t.Fatalf("helper process: %v\n%s", err, p.errs)
		}
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("helper process: %v\n%s", err, p.errs)
		}
		total += sent["mails"] + sent["letters"]
	}
	if total != len(ids) {
		t.Errorf("two processes sent %d recalls, want %d: each once", total, len(ids))
	}
	for id, n := range usesPerCustomer(t, db, ids) {
		if n != 1 {
			t.Errorf("customer %d: %d recall uses in one period", id, n)
		}
	}
}
