package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/orders/orderstest"
	"github.com/consentdesk/consentdesk/orders/store"
)

// The test binary doubles as the server: with CONSENTDESK_TEST_SERVE set
// it runs main's Run in a process of its own, which a test can kill.
func init() {
	if args := os.Getenv("CONSENTDESK_TEST_SERVE"); args != "" {
		os.Unsetenv("CONSENTDESK_TEST_SERVE")
		defer os.Exit(0)
		main2(strings.Fields(args))
	}
}

func main2(args []string) {
	os.Args = append([]string{"consentdesk"}, args...)
	main()
}

type child struct {
	cmd  *exec.Cmd
	addr string
	out  *syncBuffer
}

// startServer runs "consentdesk serve" in a process of its own.
func startServer(t *testing.T, db string) *child {
	t.Helper()
	return spawnServer(t, "http", nil, "--db", db, "--addr", "127.0.0.1:0")
}

// spawnServer runs "consentdesk serve args…" as its own process, with env
// added, and waits for its first listener of scheme (http or https).
func spawnServer(t *testing.T, scheme string, env []string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), "CONSENTDESK_TEST_SERVE=serve "+strings.Join(onEngine(t, args), " "))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, out: out}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`listening on ` + scheme + `://(127\.0\.0\.1:\d+)`)
		for sc.Scan() {
			out.Write([]byte(sc.Text() + "\n"))
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case c.addr = <-found:
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not start: %s", out.String())
	}
	return c
}

// TestSIGKILLLosesNothing kills the server with SIGKILL while orders and
// one-click unsubscribes pour in, restarts it, and finds every order,
// event and mail that was acknowledged; the ledger verifies.
func TestSIGKILLLosesNothing(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "kill.db")
	token, err := run(t, "token", "create", "--name", "load", "--scope", "admin", "--db", db) // admin: it checks the ledger too
	if err != nil {
		t.Fatal(err)
	}
	token = strings.TrimSpace(token)
	keys, err := store.LoadOrCreateKeys(db + ".key")
	if err != nil {
		t.Fatal(err)
	}
	tokens := consent.NewTokens(keys.Tokens)
	srv := startServer(t, db)
	base := "http://" + srv.addr

	type acked struct{ order, customer int64 }
	var mu sync.Mutex
	var ackedOrders []acked
	var ackedUnsubs []int64
	enough, enoughOnce := make(chan struct{}), sync.Once{} // closed at 60 acknowledged orders
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				created, err := postOrder(client, base, token, fmt.Sprintf("%d-%d", w, i), "Kill")
				if errors.Is(err, errServerGone) {
					return
				}
				if err != nil {
					continue // not acknowledged: no promise made
				}
				mu.Lock()
				ackedOrders = append(ackedOrders, acked{created.ID, created.CustomerID})
				if len(ackedOrders) >= 60 {
					enoughOnce.Do(func() { close(enough) })
				}
				mu.Unlock()
				// Every other customer unsubscribes at once from the
				// thank-you mail.
				if i%2 == 0 {
					res, err := client.Post(base+"/u/"+tokens.Make(consent.UnsubscribeToken, created.CustomerID), "application/x-www-form-urlencoded",
						strings.NewReader("List-Unsubscribe=One-Click"))
					if err != nil {
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode == http.StatusOK {
						mu.Lock()
						ackedUnsubs = append(ackedUnsubs, created.CustomerID)
						mu.Unlock()
					}
				}
			}
		}(w)
	}
	// Kill it mid-flight, once a good number of orders went through
	// (or after 10 s; the check below then says there was too little).
	select {
	case <-enough:
	case <-time.After(10 * time.Second):
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(ackedOrders) < 20 || len(ackedUnsubs) < 5 {
		t.Fatalf("too little load before the kill: %d orders, %d unsubscribes", len(ackedOrders), len(ackedUnsubs))
	}
	t.Logf("killed after %d acknowledged orders and %d acknowledged unsubscribes", len(ackedOrders), len(ackedUnsubs))

	// Restart: the server comes up on the same file and answers.
	again := startServer(t, db)
	res, err := http.Get("http://" + again.addr + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("healthz after restart: %v %v", err, res)
	}
	res.Body.Close()
	var v consent.Verification
	req, _ := http.NewRequest(http.MethodGet, "http://"+again.addr+"/api/v1/ledger/verify", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if res, err := http.DefaultClient.Do(req); err == nil {
		json.NewDecoder(res.Body).Decode(&v)
		res.Body.Close()
	}
	if !v.OK {
		t.Errorf("ledger after the kill: %+v", v)
	}
	again.cmd.Process.Signal(syscall.SIGTERM)
	again.cmd.Wait()

	// Every acknowledged order, its events and its mail are there.
	ctx := context.Background()
	store, err := orderstest.Open(ctx, t, db, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, a := range ackedOrders {
		o, err := store.Order(ctx, a.order)
		if err != nil || o.CustomerID != a.customer || len(o.Items) != 2 || !o.HasPrescription {
			t.Errorf("acknowledged order %d: %+v %v", a.order, o, err)
			continue
		}
		_, events, err := store.Consents(ctx, a.customer)
		if err != nil || len(events) < 3 {
			t.Errorf("order %d: %d events, %v", a.order, len(events), err)
		}
		mails, err := followup.List(ctx, store.SQL(), followup.Filter{OrderID: a.order})
		if err != nil || len(mails) == 0 {
			t.Errorf("order %d: thank-you mail lost (%v)", a.order, err)
		}
	}
	for _, id := range ackedUnsubs {
		states, _, err := store.Consents(ctx, id)
		if err != nil || states[consent.Email].State != consent.Withdrawn {
			t.Errorf("acknowledged unsubscribe of customer %d lost: %+v", id, states[consent.Email])
		}
	}
	if v, err := store.Verify(ctx); err != nil || !v.OK {
		t.Errorf("ledger: %+v %v", v, err)
	}
}

// TestGracefulShutdown: a request in flight when SIGTERM arrives is
// answered and kept; the sender stops; the database is closed cleanly
// (its write-ahead log folded in and removed).
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "stop.db")
	token, err := run(t, "token", "create", "--name", "erp", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, db)
	body := strings.Replace(strings.Replace(loadOrder, "%d@", "slow@", 1), "Last%d", "Slow", 1)
	body = strings.Replace(body, `"signature_png": "%s"`, `"signature_png": "`+loadSignature()+`"`, 1) // a grant of post through the API needs it
	// Send the headers and half the body, then stop the server, then the
	// rest: the order must still be taken.
	conn, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Expect: 100-continue makes the server say when the handler starts
	// reading the body: from then on the request is in flight. No fixed
	// sleeps: each step waits for what it needs.
	fmt.Fprintf(conn, "POST /api/v1/orders HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		srv.addr, strings.TrimSpace(token), len(body))
	in := bufio.NewReader(conn)
	if line, err := in.ReadString('\n'); err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("the handler did not start reading: %q %v", line, err)
	}
	if _, err := in.ReadString('\n'); err != nil { // the blank line after 100 Continue
		t.Fatal(err)
	}
	half := len(body) / 2
	conn.Write([]byte(body[:half]))
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The shutdown has begun once the server takes no new connections.
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", srv.addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the server still takes connections 10 s after SIGTERM")
		}
		runtime.Gosched()
	}
	conn.Write([]byte(body[half:]))
	res, err := http.ReadResponse(in, nil)
	if err != nil {
		t.Fatalf("no answer to the request in flight: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Errorf("request in flight: %d", res.StatusCode)
	}
	done := make(chan error, 1)
	go func() { done <- srv.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("server exit: %v\n%s", err, srv.out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop")
	}
	if !strings.Contains(srv.out.String(), "sender stopped") || !strings.Contains(srv.out.String(), "database closed") {
		t.Errorf("shutdown log: %s", srv.out.String())
	}
	if _, err := os.Stat(db + "-wal"); !os.IsNotExist(err) {
		t.Errorf("write-ahead log left behind: %v", err)
	}
	store, err := orderstest.Open(context.Background(), t, db, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var n int
	store.SQL().QueryRow(`SELECT COUNT(*) FROM customers WHERE last_name = 'Slow'`).Scan(&n)
	if n != 1 {
		t.Errorf("the order in flight was not kept: %d", n)
	}
}

// errServerGone: the request found no server to answer it.
var errServerGone = errors.New("the server is gone")

// createdOrder is the API's answer to a new order.
type createdOrder struct {
	ID         int64 `json:"id"`
	CustomerID int64 `json:"customer_id"`
}

// loadOrder is the order consentdesk-bench load sends (its load.go),
// with %d for the customer's number and %s for the signature: the
// durability tests pour in the same traffic.
const loadOrder = `{"customer": {"salutation": "Frau", "first_name": "Jana", "last_name": "Last%d", "street": "Hauptstraße 1",
 "postal_code": "79098", "city": "Freiburg", "email": "load%d@example.org", "mobile": "+49 170 1234567"},
 "items": [{"description": "Gleitsichtgläser", "quantity": 2, "unit_price_cents": 24900, "vat_rate_percent": 19},
           {"description": "Fassung", "quantity": 1, "unit_price_cents": 12900, "vat_rate_percent": 19}],
 "deposit_cents": 10000,
 "consent": {"mode": "tablet", "channels": {"post": true, "email": true}, "health_data": true, "signature_png": "%s"},
 "prescription": {"right": {"sph": -1.25, "cyl": -0.5, "axis": 90, "add": 2.0, "pd": 32.0}, "left": {"sph": -1.0, "pd": 31.5}}}`

// loadSignature is a tablet signature as a base64 PNG: a stroke across
// the pad, as consentdesk-bench load signs.
func loadSignature() string {
	img := image.NewNRGBA(image.Rect(0, 0, 300, 100))
	for x := 10; x < 290; x++ {
		img.Set(x, 50+x%15, color.NRGBA{0, 0, 0, 255})
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// postOrder sends the load command's order, with its signature, for a
// customer of its own (tag makes the address) named lastName; an error
// unless the server acknowledged it with 201.
func postOrder(client *http.Client, base, token, tag, lastName string) (createdOrder, error) {
	body := strings.Replace(strings.Replace(loadOrder, "%d@", tag+"@", 1), "Last%d", lastName, 1)
	body = strings.Replace(body, `"signature_png": "%s"`, `"signature_png": "`+loadSignature()+`"`, 1) // a grant of post through the API needs it
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/orders", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	var created createdOrder
	res, err := client.Do(req)
	if err != nil {
		return created, errServerGone
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(&created); err != nil {
		return created, err
	}
	if res.StatusCode != http.StatusCreated {
		return created, fmt.Errorf("status %d", res.StatusCode)
	}
	return created, nil
}
