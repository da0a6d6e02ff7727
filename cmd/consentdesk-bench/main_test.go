package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/orders/orderstest"
)

// The test binary doubles as this command: with CONSENTDESK_BENCH_TEST_RUN
// set it runs main's Run in a process of its own (the load generator).
func init() {
	if args := os.Getenv("CONSENTDESK_BENCH_TEST_RUN"); args != "" {
		os.Unsetenv("CONSENTDESK_BENCH_TEST_RUN")
		os.Args = append([]string{"consentdesk-bench"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	// The load command's generator process: this test binary, which
	// runs it through the hook in init above.
	selfCommand = func(ctx context.Context, args ...string) (*exec.Cmd, error) {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "CONSENTDESK_BENCH_TEST_RUN="+strings.Join(args, " "))
		return cmd, nil
	}
	os.Exit(orderstest.Main(m))
}

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), onEngine(t, args), &out, &errOut)
	return out.String(), err
}

// onEngine returns args for the engine of the tests' pass: on the
// PostgreSQL pass "--db FILE" becomes "--db URL --files FILE", the test's
// own database on the server and its files where the test put the
// SQLite file (orderstest.Location). As cmd/consentdesk's tests do.
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

// storeBinary builds the store's binary (cmd/consentdesk), which load
// starts as the servers on a chain's database.
func storeBinary(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CONSENTDESK_REQUIRE_TOOLS") != "" {
			t.Fatal("the go command is required (CONSENTDESK_REQUIRE_TOOLS is set) to build the store's binary")
		}
		t.Skip("needs the go command to build the store's binary")
	}
	bin := filepath.Join(t.TempDir(), "consentdesk")
	if out, err := exec.Command(gobin, "build", "-o", bin, "github.com/consentdesk/consentdesk/cmd/consentdesk").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/consentdesk: %v\n%s", err, out)
	}
	return bin
}

// Quiet numbers: load prints its report without the
// server's log lines; the log goes to a file the report names.
func TestLoadReportIsQuiet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the load generator")
	}
	dir := t.TempDir()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stdout, nil))) // as main sets it: the log would land in the report
	defer slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	out, err := run(t, "load", "--dir", dir, "--duration", "300ms", "--ceiling", "200ms", "--workers", "2", "--burst", "10")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "level=") {
		t.Errorf("log lines in the report:\n%s", out)
	}
	m := regexp.MustCompile(`server log: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the report names no log file:\n%s", out)
	}
	if b, err := os.ReadFile(m[1]); err != nil || !strings.Contains(string(b), "level=") {
		t.Errorf("the server log %s: %v, %d bytes", m[1], err, len(b))
	}
}

// The load generator runs as a process of its own, so that the report's
// memory is the server's alone, and the traffic it
// reports arrived.
func TestLoadMeasuresTheServerApartFromTheGenerator(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the load generator")
	}
	out, err := run(t, "load", "--dir", t.TempDir(), "--duration", "400ms", "--ceiling", "100ms", "--workers", "2", "--burst", "20", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r LoadReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// The burst is as large as asked or as the customers the orders
	// made, whichever is smaller (under -race few orders fit in 400 ms).
	if r.Orders == 0 || r.Failed != 0 || r.Unsubscribes != min(20, r.Orders) || r.UnsubFailed != 0 || !r.LedgerOK {
		t.Errorf("orders %d (failed %d), unsubscribes %d (failed %d), ledger %t", r.Orders, r.Failed, r.Unsubscribes, r.UnsubFailed, r.LedgerOK)
	}
	if r.GeneratorRSSMB <= 0 || r.MaxRSSMB <= 0 {
		t.Errorf("memory: server %.1f MB, generator %.1f MB: both processes must be measured", r.MaxRSSMB, r.GeneratorRSSMB)
	}
	if r.LedgerEvents < int64(r.Orders) {
		t.Errorf("%d ledger events for %d orders", r.LedgerEvents, r.Orders)
	}
	// Each process's CPU time per request, apart (Unix; elsewhere 0).
	if processCPU() > 0 && (r.ServerCPUPerOrder <= 0 || r.ServerCPUPerUnsub <= 0 || r.GeneratorCPUPerUnsub <= 0) {
		t.Errorf("CPU per request: server %s per order, %s per unsubscribe; generator %s per unsubscribe",
			r.ServerCPUPerOrder, r.ServerCPUPerUnsub, r.GeneratorCPUPerUnsub)
	}
}

// load on a chain's PostgreSQL database: two server
// processes on one database, each driven by its own clients; the report
// gives each server's share, and the burst goes to both.
func TestLoadOnTwoServers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs servers and the load generator")
	}
	if !orderstest.Postgres() {
		t.Skip("several servers share a chain's PostgreSQL database (the PostgreSQL pass runs this test)")
	}
	db := filepath.Join(t.TempDir(), "load.db")
	out, err := run(t, "load", "--db", db, "--server", storeBinary(t), "--servers", "2", "--stores", "2", "--dir", t.TempDir(), "--duration", "500ms", "--workers", "2", "--burst", "20", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r LoadReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.Engine != "postgres" || r.Servers != 2 || len(r.PerServer) != 2 || r.Orders == 0 || r.Failed != 0 || !r.LedgerOK || r.Unsubscribes != min(20, r.Orders) || r.UnsubFailed != 0 {
		t.Errorf("report: %+v", r)
	}
	for i, s := range r.PerServer {
		if s.Orders == 0 || s.MaxRSSMB <= 0 {
			t.Errorf("server %d: %+v", i+1, s)
		}
	}
	if r.PerServer[0].Orders+r.PerServer[1].Orders != r.Orders {
		t.Errorf("the servers' orders do not add up: %+v", r)
	}
	// Spread over the two stores, each chain intact.
	ctx := context.Background()
	store, err := orderstest.Open(ctx, t, db, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var perStore []int
	rows, err := store.SQL().QueryContext(ctx, `SELECT COUNT(*) FROM orders GROUP BY store_id ORDER BY store_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int
		rows.Scan(&n)
		perStore = append(perStore, n)
	}
	rows.Close()
	if len(perStore) != 2 || perStore[0] == 0 || perStore[1] == 0 || perStore[0]+perStore[1] != r.Orders {
		t.Errorf("orders per store: %v of %d", perStore, r.Orders)
	}
	if v, err := store.Verify(ctx); err != nil || !v.OK || len(v.Chains) != 2 {
		t.Errorf("verify: %+v %v", v, err)
	}
	// Bad input changes nothing and says why.
	for _, args := range [][]string{{"--servers", "2"}, {"--stores", "2"}, {"--db", "postgres:///x", "--servers", "2"}, {"--db", "chain.db", "--files", "x"}, {"--servers", "0"},
		{"--db", "postgres:///x", "--files", "x"}, {"--db", "postgres:///x", "--files", "x", "--server", filepath.Join(t.TempDir(), "none")}} {
		dir := t.TempDir()
		var stdout, stderr bytes.Buffer
		if err := Run(context.Background(), append([]string{"load", "--dir", dir}, args...), &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "--") {
			t.Errorf("load %v: %v", args, err)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("load %v left %d files", args, len(left))
		}
	}
}

// A generate with a bad count sets nothing up: no database, no key file,
// no manager's PIN printed.
func TestGenerateWithABadCountChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"generate", "--customers", "0"}, "--customers"},
		{[]string{"generate", "--customers", "5", "--events", "-1"}, "--events"},
	} {
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
		if strings.Contains(out.String(), "PIN") {
			t.Errorf("%v printed a PIN:\n%s", tc.args, out.String())
		}
		for _, f := range []string{base, base + ".key"} {
			if _, err := os.Stat(f); err == nil {
				t.Errorf("%v created %s", tc.args, f)
			}
		}
	}
}

// generate makes a database of made-up customers whose ledger verifies,
// and refuses one that holds customers, which it leaves as it was.
func TestGenerateIntoANewDatabaseOnly(t *testing.T) {
	db := filepath.Join(t.TempDir(), "chain.db")
	out, err := run(t, "generate", "--db", db, "--customers", "20", "--events", "60")
	if err != nil || !strings.Contains(out, "generated 20 customers and 60 consent events") {
		t.Fatalf("generate: %v %q", err, out)
	}
	if _, err := run(t, "generate", "--db", db, "--customers", "5", "--events", "5"); err == nil || !strings.Contains(err.Error(), "new database only") || strings.Contains(err.Error(), "removed") {
		t.Errorf("generate into a database with customers: %v", err)
	}
	for _, f := range []string{db, db + ".key"} {
		if orderstest.Postgres() && !strings.HasSuffix(f, ".key") {
			continue // the database is the server's; its key file is here
		}
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s gone after the refused run: %v", f, err)
		}
	}
	ctx := context.Background()
	store, err := orderstest.Open(ctx, t, db, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if v, err := store.Verify(ctx); err != nil || !v.OK || v.Events != 60 {
		t.Errorf("the generated ledger: %+v %v", v, err)
	}
	var n int
	if err := store.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM customers`).Scan(&n); err != nil || n != 20 {
		t.Errorf("customers: %d, %v", n, err)
	}
}
