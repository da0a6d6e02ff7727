package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/orderstest"
)

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(orderstest.Main(m))
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), onEngine(t, args), &out, &errOut)
	return out.String(), err
}

// freePort finds a port on 127.0.0.1 for a listener that a test names
// by number to a child process. It is taken below the kernel's ephemeral
// range: a port the kernel handed out and got back can go at once to an
// outgoing connection of the tests running beside, and the child then
// fails with "bind: address already in use" (CI lost a run that way).
// Below the range only another explicit bind can take it.
func freePort(t *testing.T) int {
	t.Helper()
	low := 32768 // Linux's default start of the ephemeral range
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	if low > 12000 {
		for range 200 {
			port := 10000 + rand.IntN(low-10000)
			if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				l.Close()
				return port
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// onEngine returns args for the engine of the tests' pass: on the
// PostgreSQL pass "--db FILE" becomes "--db URL --files FILE", the test's
// own database on the server and its files where the test put the
// SQLite file (orderstest.Location).
func onEngine(t testing.TB, args []string) []string {
	t.Helper()
	if !orderstest.Postgres() {
		return args
	}
	out := make([]string, 0, len(args)+2)
	for i := 0; i < len(args); i++ {
		if args[i] == "--db" && i+1 < len(args) {
			db, files := orderstest.Location(t, args[i+1])
			out = append(out, "--db", db, "--files", files)
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func TestSubcommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "store.db")
	out, err := run(t, "migrate", "--db", db)
	if err != nil || !strings.Contains(out, "PIN") {
		t.Fatalf("migrate: %v %q", err, out)
	}
	// In German and in English: the store owner reads the first line.
	if pin := regexp.MustCompile(`mit der PIN (\d+); sie wird nur dieses eine Mal angezeigt\.\n.*with PIN (\d+)`).FindStringSubmatch(out); pin == nil || pin[1] != pin[2] {
		t.Errorf("the first PIN's message: %q", out)
	}
	if out, _ := run(t, "migrate", "--db", db); strings.Contains(out, "PIN") {
		t.Error("the first PIN was shown twice")
	}
	if _, err := os.Stat(db + ".key"); err != nil {
		t.Errorf("key file beside the database: %v", err)
	}
	out, err = run(t, "token", "create", "--name", "ERP", "--db", db)
	if err != nil || !regexp.MustCompile(`^cdk_[A-Za-z0-9_-]{43}\n$`).MatchString(out) {
		t.Errorf("token create must print the token and nothing else: %v %q", err, out)
	}
	if _, err := run(t, "staff", "add", "--name", "Anna", "--pin", "12", "--db", db); err == nil || !strings.Contains(err.Error(), "4 to 8 digits") {
		t.Errorf("short PIN: %v", err)
	}
	if out, err := run(t, "staff", "add", "--name", "Anna", "--pin", "471108", "--role", "manager", "--db", db); err != nil || !strings.Contains(out, "manager") {
		t.Errorf("staff add: %v %q", err, out)
	}
	if out, err := run(t, "demo", "--db", db); err != nil || !strings.Contains(out, "6 orders") {
		t.Errorf("demo: %v %q", err, out)
	}
	out, err = run(t, "verify", "--db", db)
	if err != nil || !strings.Contains(out, "intact") {
		t.Errorf("verify: %v %q", err, out)
	}
	backup := filepath.Join(t.TempDir(), "copy.db")
	if _, err := run(t, "backup", "--to", backup, "--db", db); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if _, err := run(t, "backup", "--to", backup, "--db", db); err == nil {
		t.Error("backup overwrote a file")
	}
	// The copy, read back as one restores it (on PostgreSQL: pg_restore
	// into a database of its own), verifies.
	copied := backup
	if orderstest.Postgres() {
		copied = backup + ".restored"
		orderstest.Restore(t, backup, copied)
	}
	os.Link(db+".key", copied+".key")
	if out, err := run(t, "verify", "--db", copied); err != nil || !strings.Contains(out, "intact") {
		t.Errorf("verify the backup: %v %q", err, out)
	}
	// CONSENTDESK_DB stands for --db (and CONSENTDESK_FILES for --files).
	loc, files := orderstest.Location(t, db)
	t.Setenv("CONSENTDESK_DB", loc)
	if files != "" {
		t.Setenv("CONSENTDESK_FILES", files)
	}
	if out, err := run(t, "verify"); err != nil || !strings.Contains(out, "intact") {
		t.Errorf("verify via env: %v %q", err, out)
	}
	if _, err := run(t, "nonsense"); err == nil {
		t.Error("unknown command accepted")
	}
}

func TestVerifyFailsOnTamperedLedger(t *testing.T) {
	db := filepath.Join(t.TempDir(), "store.db")
	if _, err := run(t, "demo", "--db", db); err != nil {
		t.Fatal(err)
	}
	// Someone with the file edits an event behind the triggers' back.
	if out, err := run(t, "verify", "--db", db); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	tamper(t, db)
	if _, err := run(t, "verify", "--db", db); err == nil || !strings.Contains(err.Error(), "broken at event") {
		t.Errorf("verify on a tampered ledger: %v", err)
	}
}

// syncBuffer lets the test read what the server printed while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestServeAndShutdown(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	args := onEngine(t, []string{"serve", "--db", filepath.Join(dir, "s.db"), "--addr", "127.0.0.1:0", "--public-addr", "127.0.0.1:0"})
	go func() {
		done <- Run(ctx, args, &out, io.Discard)
	}()
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var addrs [][]string
	for i := 0; i < 100 && len(addrs) < 2; i++ {
		time.Sleep(50 * time.Millisecond)
		addrs = re.FindAllStringSubmatch(out.String(), -1)
	}
	if len(addrs) < 2 {
		t.Fatalf("server did not start: %q", out.String())
	}
	main, public := addrs[0][1], addrs[1][1]
	res, err := http.Get(main + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", err, res)
	}
	res.Body.Close()
	// Nothing of the staff side answers on the public address.
	for _, p := range []string{"/login", "/orders/new", "/api/v1/ledger/verify", "/settings", "/healthz"} {
		res, err := http.Get(public + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("public %s: %d", p, res.StatusCode)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no clean shutdown")
	}
}

// TestServeWritesMailsWithoutSMTP: with no SMTP server the running
// server's sender writes the thank-you mail to mail/ beside the database
// soon after the order, and a stop leaves it recorded.
func TestServeWritesMailsWithoutSMTP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	token, err := run(t, "token", "create", "--name", "erp", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	args := onEngine(t, []string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--double-opt-in", "false"})
	go func() {
		done <- Run(ctx, args, &out, io.Discard)
	}()
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)
	var m []string
	for i := 0; i < 100 && m == nil; i++ {
		time.Sleep(50 * time.Millisecond)
		m = re.FindStringSubmatch(out.String())
	}
	if m == nil {
		t.Fatalf("server did not start: %q", out.String())
	}
	body := `{"customer": {"last_name": "Weiß", "email": "j.weiss@example.org"},
		"items": [{"description": "Brille", "quantity": 1, "unit_price_cents": 19900, "vat_rate_percent": 19}],
		"consent": {"mode": "tablet", "channels": {"email": true}, "signature_png": "` + loadSignature() + `"}}`
	req, _ := http.NewRequest("POST", m[1]+"/api/v1/orders", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(token))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("order: %v %v", err, res)
	}
	res.Body.Close()
	eml := filepath.Join(dir, "mail", "000001.eml")
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(eml); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, err := os.ReadFile(eml)
	if err != nil {
		t.Fatalf("no .eml written: %v\n%s", err, out.String())
	}
	if !bytes.Contains(b, []byte("List-Unsubscribe-Post: List-Unsubscribe=One-Click")) {
		t.Error("the .eml lacks the one-click header")
	}
	if _, err := os.Stat(filepath.Join(dir, "mail", "000002.eml")); err == nil {
		t.Error("a double opt-in mail was written although --double-opt-in=false")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestServeRefusesBadMailSettings(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	if _, err := run(t, "serve", "--db", db, "--addr", "127.0.0.1:0", "--double-opt-in", "vielleicht"); err == nil || !strings.Contains(err.Error(), "double-opt-in") {
		t.Errorf("--double-opt-in vielleicht: %v", err)
	}
	if _, err := run(t, "serve", "--db", db, "--addr", "127.0.0.1:0", "--smtp-url", "http://mail.example.org"); err == nil || !strings.Contains(err.Error(), "CONSENTDESK_SMTP_URL") {
		t.Errorf("bad SMTP URL: %v", err)
	}
	if _, err := run(t, "serve", "--db", db, "--addr", "127.0.0.1:0", "--trusted-proxies", "nonsense"); err == nil {
		t.Error("bad --trusted-proxies accepted")
	}
}

// verify and backup on a path that does not exist say so, exit non-zero
// and create nothing (a typo, "verify --db typo.db", must not
// report an intact empty ledger).
func TestVerifyAndBackupOnAMissingPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.db")
	for _, args := range [][]string{{"verify", "--db", typo}, {"backup", "--to", filepath.Join(dir, "b.db"), "--db", typo},
		{"restore", "--from", filepath.Join(dir, "none.db"), "--db", filepath.Join(dir, "x.db")}} {
		if _, err := run(t, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files created: %v", entries)
	}
}

// When the public listener cannot start, serve fails and the counter's
// listener is closed again (a failed start of the
// second listener must not leave the first one running).
func TestServeFailsWholeWhenOneListenerCannotStart(t *testing.T) {
	counterAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	err = Run(ctx, onEngine(t, []string{"serve", "--db", filepath.Join(t.TempDir(), "s.db"), "--addr", counterAddr, "--public-addr", taken.Addr().String()}), &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Fatalf("serve with the public address taken: %v, want an error naming it", err)
	}
	if ctx.Err() != nil {
		t.Fatal("serve ran until the test's deadline instead of failing")
	}
	ln, err := net.Listen("tcp", counterAddr)
	if err != nil {
		t.Fatalf("the counter's address is still held after the failed start: %v", err)
	}
	ln.Close()
}

// A start that cannot listen or has a flag wrong sets nothing up: no
// database, no key file, no manager's PIN printed "only this once" (a
// first start on a taken port printed it and failed, and the next start
// printed none). generate's bad counts are checked the same way beside
// it (cmd/consentdesk-bench).
func TestBadStartChangesNothing(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--addr", taken.Addr().String()}, taken.Addr().String()},
		{[]string{"serve", "--addr", free, "--public-addr", taken.Addr().String()}, taken.Addr().String()},
		{[]string{"serve", "--addr", free, "--lan-addr", taken.Addr().String()}, taken.Addr().String()},
		{[]string{"serve", "--addr", "127.0.0.1:99999"}, "127.0.0.1:99999"}, // no port: fails without a name lookup
		{[]string{"serve", "--addr", free, "--smtp-url", "gopher://mail.example"}, "gopher"},
		{[]string{"serve", "--addr", free, "--double-opt-in", "vielleicht"}, "--double-opt-in"},
		{[]string{"serve", "--addr", free, "--public-url", "ftp://optik.example"}, "--public-url"},
		{[]string{"serve", "--addr", free, "--mail-stale-after", "-1m"}, "--mail-stale-after"},
		{[]string{"serve", "--addr", free, "--acme"}, "--acme needs --public-addr"},
		{[]string{"serve", "--addr", free, "--backup-at", "25:99"}, "25:99"},
		// A mistyped --db for a short command: the database it made is
		// taken away again (on SQLite; a chain's PostgreSQL database is
		// made by its administrator). staff and store add set the store up
		// first, and its PIN is printed before the input is refused.
		{[]string{"token", "create", "--name", ""}, "removed again"},
		{[]string{"staff", "add", "--name", "Anna", "--pin", "12"}, "removed again"},
		{[]string{"store", "add", "--name", ""}, "removed again"},
	} {
		if tc.want == "removed again" && orderstest.Postgres() {
			continue
		}
		args := onEngine(t, append(tc.args, "--db", filepath.Join(t.TempDir(), "s.db")))
		base := args[slices.Index(args, "--db")+1]
		if i := slices.Index(args, "--files"); i >= 0 {
			base = args[i+1] // PostgreSQL: the key file beside the files' base
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var out bytes.Buffer
		err := Run(ctx, args, &out, io.Discard)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.args, err, tc.want)
		}
		if strings.Contains(out.String(), "PIN") && tc.want != "removed again" {
			t.Errorf("%v printed a PIN:\n%s", tc.args, out.String())
		}
		for _, f := range []string{base, base + ".key"} {
			if _, err := os.Stat(f); err == nil {
				t.Errorf("%v created %s", tc.args, f)
			}
		}
	}
}

// Only a database the failing command made goes: a store's own database
// stays when a command on it fails, and a new one stays when the command
// succeeds.
func TestFailedCommandKeepsAnExistingDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "store.db")
	if _, err := run(t, "migrate", "--db", db); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"staff", "add", "--name", "Anna", "--pin", "12"}, {"token", "create", "--name", ""}, {"store", "add", "--name", ""}} {
		if _, err := run(t, append(args, "--db", db)...); err == nil || strings.Contains(err.Error(), "removed") {
			t.Errorf("%v on the store's database: %v", args, err)
		}
	}
	fresh := filepath.Join(t.TempDir(), "new.db")
	if _, err := run(t, "token", "create", "--name", "ERP", "--db", fresh); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{db, db + ".key", fresh, fresh + ".key"} {
		if orderstest.Postgres() && !strings.HasSuffix(f, ".key") {
			continue // the database is the server's; its key file is here
		}
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s gone: %v", f, err)
		}
	}
}

// The command line's side of API tokens and sign-in locks: token scopes, expiry, list and
// revoke, and `staff unlock` as the way back for a locked-out manager.
func TestTokenAndStaffCommands(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "store.db")
	if _, err := run(t, "migrate", "--db", db); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "token", "create", "--name", "ERP", "--db", db); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "token", "create", "--name", "DSB", "--scope", "admin", "--expires", "90d", "--db", db); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{{"--scope", "root"}, {"--expires", "soon"}, {"--expires", "-3d"}} {
		args := append([]string{"token", "create", "--name", "X", "--db", db}, bad...)
		if out, err := run(t, args...); err == nil || out != "" {
			t.Errorf("token create %v: %v %q", bad, err, out)
		}
	}
	if _, err := run(t, "token", "create", "--name", "ERP", "--db", db); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("duplicate name: %v", err)
	}
	out, err := run(t, "token", "list", "--db", db)
	if err != nil || !regexp.MustCompile(`ERP\s+orders\s+active\s+\S+ \S+\s+never\s+never`).MatchString(out) ||
		!regexp.MustCompile(`DSB\s+admin\s+active`).MatchString(out) || strings.Contains(out, "cdk_") {
		t.Errorf("token list: %v\n%s", err, out)
	}
	if out, err := run(t, "token", "revoke", "--name", "ERP", "--db", db); err != nil || !strings.Contains(out, "1 token") {
		t.Errorf("revoke: %v %q", err, out)
	}
	if _, err := run(t, "token", "revoke", "--name", "ERP", "--db", db); err == nil {
		t.Error("revoking a revoked token reported success")
	}
	if out, _ := run(t, "token", "list", "--db", db); !regexp.MustCompile(`ERP\s+orders\s+revoked`).MatchString(out) {
		t.Errorf("list after revoke:\n%s", out)
	}
	missing := filepath.Join(t.TempDir(), "typo.db")
	if _, err := run(t, "token", "list", "--db", missing); err == nil {
		t.Error("token list on a missing file succeeded")
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("token list created a database")
	}

	// staff unlock lifts a lockout from the command line.
	if _, err := run(t, "staff", "add", "--name", "Lea", "--pin", "975318", "--role", "manager", "--db", db); err != nil {
		t.Fatal(err)
	}
	d, err := orderstest.Open(context.Background(), t, db, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < orders.MaxPINTries; i++ {
		d.SignIn(context.Background(), orders.Login{Name: "Lea", PIN: "000000", Client: "10.0.0.66"})
	}
	if _, _, err := d.SignIn(context.Background(), orders.Login{Name: "Lea", PIN: "975318", Client: "10.0.0.66"}); consentdesk.ErrorCode(err) != consentdesk.Locked {
		t.Fatalf("not locked: %v", err)
	}
	d.Close()
	if out, err := run(t, "staff", "unlock", "--name", "lea", "--db", db); err != nil || !strings.Contains(out, "unlocked") {
		t.Fatalf("staff unlock: %v %q", err, out)
	}
	if _, err := run(t, "staff", "unlock", "--name", "Nobody", "--db", db); err == nil {
		t.Error("unlocking an unknown name succeeded")
	}
	d, err = orderstest.Open(context.Background(), t, db, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, _, err := d.SignIn(context.Background(), orders.Login{Name: "Lea", PIN: "975318", Client: "10.0.0.66"}); err != nil {
		t.Errorf("after staff unlock: %v", err)
	}
}

// `keys rotate` adds a secret, says what happens to printed QR codes, and
// refuses a database that does not exist.
func TestKeysRotateCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "store.db")
	if _, err := run(t, "migrate", "--db", db); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "keys", "rotate", "--db", db)
	if err != nil || !strings.Contains(out, "secret 2 added") || !strings.Contains(out, "QR codes and links sent before keep working") {
		t.Errorf("keys rotate: %v %q", err, out)
	}
	out, err = run(t, "keys", "rotate", "--retire-old-links", "--db", db)
	if err != nil || !strings.Contains(out, "secret 3 added") || !strings.Contains(out, "(404)") {
		t.Errorf("keys rotate --retire-old-links: %v %q", err, out)
	}
	key, _ := os.ReadFile(db + ".key")
	if !strings.Contains(string(key), "retired 1\nretired 2\n") {
		t.Errorf("key file:\n%s", key)
	}
	if out, err := run(t, "verify", "--db", db); err != nil {
		t.Errorf("the database after two rotations: %v %q", err, out)
	}
	if _, err := run(t, "keys", "rotate", "--db", filepath.Join(t.TempDir(), "typo.db")); err == nil {
		t.Error("rotated the keys of a database that does not exist")
	}
	if _, err := run(t, "keys"); err == nil {
		t.Error("keys without a subcommand")
	}
}

// No http:// links to the outside: serve refuses a
// public URL that is http:// with a host that is not this machine, from
// the flag or the store setting, and says why in German and English.
func TestServeRefusesAnHTTPPublicURL(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	for _, u := range []string{"http://consent.optik-mueller.de", "http://192.168.178.20:8080", "http://kasse.local:8080"} {
		_, err := run(t, "serve", "--db", db, "--addr", "127.0.0.1:0", "--public-url", u)
		if err == nil || !strings.Contains(err.Error(), "muss mit https://") || !strings.Contains(err.Error(), "must start with https://") {
			t.Errorf("%s: %v", u, err)
		}
	}
	// The store setting, when no flag is given. The refused starts above
	// set nothing up (TestBadStartChangesNothing): the store is made here.
	if _, err := run(t, "migrate", "--db", db); err != nil {
		t.Fatal(err)
	}
	d, err := orderstest.Open(context.Background(), t, db, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	ctrl, _ := d.Controller(context.Background())
	ctrl.PublicURL = "http://consent.optik-mueller.de"
	if _, err := d.SaveSettings(context.Background(), ctrl, 0); consentdesk.ErrorCode(err) != consentdesk.Invalid {
		t.Errorf("the settings took an http:// public address: %v", err)
	}
	// As an older version could have stored it:
	set := `UPDATE store_settings SET data = json_set(data, '$.public_url', 'http://consent.optik-mueller.de')`
	if orderstest.Postgres() {
		set = `UPDATE store_settings SET data = jsonb_set(data::jsonb, '{public_url}', '"http://consent.optik-mueller.de"')::text`
	}
	if _, err := d.SQL().Exec(set); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := run(t, "serve", "--db", db, "--addr", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "public address") {
		t.Errorf("serve with an http:// store setting: %v", err)
	}
}

// load and generate are not in the store's binary: asked for, it says
// where they are, as an error (exit 1) without a trace, and makes
// nothing.
func TestBenchCommandsPointElsewhere(t *testing.T) {
	for _, cmd := range []string{"load", "generate"} {
		dir := t.TempDir()
		var out, errOut bytes.Buffer
		err := Run(context.Background(), []string{cmd, "--dir", dir, "--db", filepath.Join(dir, "s.db")}, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "go run ./cmd/consentdesk-bench "+cmd) {
			t.Errorf("consentdesk %s: %v, want a pointer to cmd/consentdesk-bench", cmd, err)
		}
		if out.Len()+errOut.Len() != 0 {
			t.Errorf("consentdesk %s printed:\n%s%s", cmd, out.String(), errOut.String())
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("consentdesk %s left %d files", cmd, len(left))
		}
	}
	var help bytes.Buffer
	if err := Run(context.Background(), []string{"help"}, &help, io.Discard); err != nil || strings.Contains(help.String(), "load") {
		t.Errorf("help still offers load: %v %q", err, help.String())
	}
}
