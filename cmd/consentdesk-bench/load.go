package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/followup/send"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/store"
	"github.com/consentdesk/consentdesk/pos"
)

// LoadReport is what the load command measured.
type LoadReport struct {
	Workers        int
	Duration       time.Duration
	Orders         int
	Failed         int
	OrdersPerSec   float64
	P50, P99       time.Duration
	CeilingPerSec  float64 // raw SQLite commits per second on the same disk
	Ratio          float64 // OrdersPerSec / CeilingPerSec
	Commits        int64   // transactions committed in the order phase
	PerCommit      float64 // use cases per commit in the order phase (group commit)
	PeakHeapMB     float64
	PeakSysMB      float64
	MaxRSSMB       float64 // the server's process (the generator runs in one of its own)
	PeakAnonMB     float64 // of which its own memory at the peak, without the executable's pages
	GeneratorRSSMB float64 // the load generator's process
	Unsubscribes   int
	UnsubFailed    int
	UnsubPerSec    float64
	UnsubP99       time.Duration
	// CPU time per request, where the system tells it (0 otherwise): the
	// server's process in the order phase and in the burst, and the
	// generator's in the burst. The two share this machine's cores, so
	// the burst's rate depends on both, and on what else the machine does;
	// the server's CPU per request does not. The server's is counted from
	// the generator's start to its end (the mail sender's work meanwhile
	// included), the generator's while it sends.
	ServerCPUPerOrder    time.Duration `json:",omitempty"`
	ServerCPUPerUnsub    time.Duration `json:",omitempty"`
	GeneratorCPUPerUnsub time.Duration `json:",omitempty"`
	LedgerOK             bool
	LedgerEvents         int64
	MailsQueued          int
	MailsDelivered       int
	LogPath              string // the server's log of the run
	// On a chain's PostgreSQL database: the server processes and each
	// one's share.
	Engine    string          `json:",omitempty"`
	Servers   int             `json:",omitempty"`
	Stores    int             `json:",omitempty"`
	PerServer []ServerFigures `json:",omitempty"`
}

// load runs the real server on loopback with a fresh database in --dir
// and drives it with API orders at full durability (synchronous=FULL),
// then a burst of one-click unsubscribes. In the same run it measures how
// many bare commits per second SQLite manages on that disk, so that the
// order rate can be read against the disk's ceiling.
func load(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".", "folder on the disk to measure; a scratch folder inside is removed afterwards")
	duration := fs.Duration("duration", 10*time.Second, "how long to send orders")
	workers := fs.Int("workers", 8, "orders sent at the same time (counter tablets and the ERP)")
	burst := fs.Int("burst", 300, "one-click unsubscribes fired at once")
	ceiling := fs.Duration("ceiling", 3*time.Second, "how long to measure the raw commit rate")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the order phase to this file")
	memProfile := fs.String("memprofile", "", "write a profile of the server's heap at the end of the order phase to this file")
	dbURL := fs.String("db", "", "a chain's PostgreSQL database (postgres://…) to run server processes on, instead of a scratch SQLite file in --dir; it keeps the orders, so give load one of its own")
	files := fs.String("files", "", "with --db: the files beside the database (key file), as for serve")
	servers := fs.Int("servers", 1, "with --db: server processes on the same database, each driven by --workers clients")
	stores := fs.Int("stores", 1, "with --db: the stores the orders are spread over (each worker sends for one, through that store's API token)")
	server := fs.String("server", "", "with --db: the store's binary to start as the server processes (consentdesk serve), e.g. one built with go build -o /tmp/cd ./cmd/consentdesk")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dbURL != "" && (!store.IsPostgres(*dbURL) || *files == "") {
		return errors.New("load: --db takes a PostgreSQL database (postgres://…) and needs --files / --db nimmt eine PostgreSQL-Datenbank und braucht --files")
	}
	// The servers on a chain's database are processes of the store's own
	// binary, named here: this one does not serve.
	serverBin := ""
	if *dbURL != "" {
		if *server == "" {
			return errors.New("load: --db needs --server, the consentdesk binary to run as the servers (go build -o /tmp/cd ./cmd/consentdesk) / --db braucht --server")
		}
		var err error
		if serverBin, err = exec.LookPath(*server); err != nil {
			return fmt.Errorf("load: --server: %w", err)
		}
	}
	if *servers < 1 || *servers > 16 || (*servers > 1 && *dbURL == "") {
		return errors.New("load: --servers 1..16, more than one on a PostgreSQL --db only / mehrere Server nur mit einer PostgreSQL-Datenbank (--db)")
	}
	if *stores < 1 || *stores > 64 || (*stores > 1 && *dbURL == "") {
		return errors.New("load: --stores 1..64, more than one on a PostgreSQL --db only / mehrere Filialen nur mit einer PostgreSQL-Datenbank (--db)")
	}
	if *workers < 1 || *workers > 256 || *burst < 0 || *burst > 5000 || *duration <= 0 || *ceiling <= 0 {
		return errors.New("load: --workers 1..256, --burst 0..5000, --duration and --ceiling above zero")
	}
	work, err := os.MkdirTemp(*dir, "consentdesk-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// Quiet numbers: the server's log goes to a file of its own, named in
	// the report, not between the report's lines.
	logPath := filepath.Join(*dir, "consentdesk-load-"+time.Now().Format("20060102-150405")+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	prevLog := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(logFile, nil)))
	defer slog.SetDefault(prevLog)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var r LoadReport
	if *dbURL != "" {
		r, err = runLoadChain(ctx, work, serverBin, *dbURL, *files, *servers, *stores, *workers, *duration, *burst, logFile)
	} else {
		r, err = runLoad(ctx, work, *workers, *duration, *burst, *ceiling, *memProfile)
	}
	if err != nil {
		return err
	}
	r.LogPath = logPath
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(stdout, "disk: %s\n", work)
	fmt.Fprintf(stdout, "server log: %s\n", logPath)
	if r.Engine == "postgres" {
		printChainLoad(stdout, r)
		return nil
	}
	fmt.Fprintf(stdout, "raw SQLite commits (WAL, synchronous=FULL, one writer): %.0f/s\n", r.CeilingPerSec)
	fmt.Fprintf(stdout, "orders: %d in %s by %d workers, %d failed: %.0f orders/s, %.0f %% of the commit ceiling\n",
		r.Orders, r.Duration.Round(time.Millisecond), r.Workers, r.Failed, r.OrdersPerSec, r.Ratio*100)
	fmt.Fprintf(stdout, "group commit: %d commits in the order phase, %.1f writes each (orders, and the sender's mail updates)\n", r.Commits, r.PerCommit)
	fmt.Fprintf(stdout, "order latency: p50 %s, p99 %s\n", r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond))
	fmt.Fprintf(stdout, "server memory: max RSS %.1f MB (own memory at most %.1f MB, the rest pages of the executable), peak heap %.1f MB, peak from the OS %.1f MB; the load generator ran as a process of its own: max RSS %.1f MB\n",
		r.MaxRSSMB, r.PeakAnonMB, r.PeakHeapMB, r.PeakSysMB, r.GeneratorRSSMB)
	fmt.Fprintf(stdout, "one-click burst: %d unsubscribes at once, %d failed: %.0f/s, p99 %s\n", r.Unsubscribes, r.UnsubFailed, r.UnsubPerSec, r.UnsubP99.Round(time.Millisecond))
	if r.ServerCPUPerUnsub > 0 {
		fmt.Fprintf(stdout, "CPU time: the server %s per order, %s per unsubscribe in the burst; the generator %s per unsubscribe (on the same %d cores)\n",
			r.ServerCPUPerOrder.Round(time.Microsecond), r.ServerCPUPerUnsub.Round(time.Microsecond), r.GeneratorCPUPerUnsub.Round(time.Microsecond), runtime.NumCPU())
	}
	fmt.Fprintf(stdout, "mails: %d queued, %d written by the sender meanwhile; ledger intact: %t (%d events)\n", r.MailsQueued, r.MailsDelivered, r.LedgerOK, r.LedgerEvents)
	return nil
}

// commitCeiling is the rate of the smallest durable transaction on this
// disk: one row, one commit, the same pragmas as the store's database.
func commitCeiling(ctx context.Context, file string, d time.Duration) (float64, error) {
	db, err := sql.Open("sqlite", store.DSN(file))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		return 0, err
	}
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		if _, err := db.ExecContext(ctx, `INSERT INTO t (v) VALUES (?)`, "x"); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func loadSignature() string {
	img := image.NewNRGBA(image.Rect(0, 0, 300, 100))
	for x := 10; x < 290; x++ {
		img.Set(x, 50+x%15, color.NRGBA{0, 0, 0, 255})
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

const loadOrder = `{"customer": {"salutation": "Frau", "first_name": "Jana", "last_name": "Last%d", "street": "Hauptstraße 1",
 "postal_code": "79098", "city": "Freiburg", "email": "load%d@example.org", "mobile": "+49 170 1234567"},
 "items": [{"description": "Gleitsichtgläser", "quantity": 2, "unit_price_cents": 24900, "vat_rate_percent": 19},
           {"description": "Fassung", "quantity": 1, "unit_price_cents": 12900, "vat_rate_percent": 19}],
 "deposit_cents": 10000,
 "consent": {"mode": "tablet", "channels": {"post": true, "email": true}, "health_data": true, "signature_png": "%s"},
 "prescription": {"right": {"sph": -1.25, "cyl": -0.5, "axis": 90, "add": 2.0, "pd": 32.0}, "left": {"sph": -1.0, "pd": 31.5}}}`

func runLoad(ctx context.Context, work string, workers int, duration time.Duration, burst int, ceilingFor time.Duration, memProfile string) (LoadReport, error) {
	r := LoadReport{Workers: workers}
	var err error
	if r.CeilingPerSec, err = commitCeiling(ctx, filepath.Join(work, "ceiling.db"), ceilingFor); err != nil {
		return r, fmt.Errorf("commit ceiling: %w", err)
	}

	wake := make(chan struct{}, 1)
	db, err := orders.Open(ctx, filepath.Join(work, "load.db"), assets.Migrations(), orders.Options{MailQueued: func() { send.Signal(wake) }})
	if err != nil {
		return r, err
	}
	defer db.Close()
	if _, err := db.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		return r, err
	}
	token, err := db.CreateAPIToken(ctx, orders.NewAPIToken{Name: "load"})
	if err != nil {
		return r, err
	}
	tokens := db.Keys.LinkTokens()
	sender := send.NewSender(db, tokens, followup.Folder{Dir: filepath.Join(work, "mail")}, send.SenderConfig{PublicURL: "https://optik.example", Wake: wake})
	srv, err := pos.New(pos.Config{DB: db, PublicURL: "https://optik.example"})
	if err != nil {
		return r, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	hs := newHTTPServer(srv.Handler())
	go hs.Serve(ln)
	background, stop := context.WithCancel(ctx)
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { defer bg.Done(); sender.Run(background) }()
	defer func() {
		hs.Close()
		stop()
		bg.Wait()
	}()
	base := "http://" + ln.Addr().String()

	// Memory, sampled while the load runs.
	var peakHeap, peakSys, peakAnon atomic.Uint64
	sampling, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peakHeap.Load() {
				peakHeap.Store(m.HeapInuse)
			}
			if m.Sys > peakSys.Load() {
				peakSys.Store(m.Sys)
			}
			if a := uint64(procStatusKB("RssAnon") * 1024); a > peakAnon.Load() {
				peakAnon.Store(a)
			}
			select {
			case <-sampling.Done():
				return
			case <-t.C:
			}
		}
	}()

	before, cpu0 := db.CommitStats(), processCPU()
	placed, err := runTraffic(ctx, trafficSpec{Mode: "orders", Base: base, Token: token, Workers: workers, Duration: duration})
	if err != nil {
		return r, err
	}
	cpu1 := processCPU()
	after := db.CommitStats()
	if memProfile != "" {
		if err := writeHeapProfile(memProfile); err != nil {
			return r, err
		}
	}
	r.Duration = placed.Elapsed
	if r.Commits = after.Commits - before.Commits; r.Commits > 0 {
		r.PerCommit = float64(after.UseCases-before.UseCases) / float64(r.Commits)
	}
	lat := durations(placed.Latencies)
	r.Orders, r.Failed = len(lat), placed.Failed
	r.OrdersPerSec = float64(r.Orders) / r.Duration.Seconds()
	r.Ratio = r.OrdersPerSec / r.CeilingPerSec
	r.P50, r.P99 = percentile(lat, 50), percentile(lat, 99)

	// The burst: many customers press "unsubscribe" in their mail
	// program at once, each from their own address (the public pages
	// limit each address).
	customers := placed.CustomerIDs[:min(burst, len(placed.CustomerIDs))]
	urls := make([]string, len(customers))
	for i, id := range customers {
		urls[i] = base + "/u/" + tokens.Make(consent.UnsubscribeToken, id)
	}
	cpu2 := processCPU()
	unsub, err := runTraffic(ctx, trafficSpec{Mode: "burst", URLs: urls})
	if err != nil {
		return r, err
	}
	cpu3 := processCPU()
	stopSampling()
	ulat := durations(unsub.Latencies)
	r.Unsubscribes, r.UnsubFailed = len(ulat), unsub.Failed
	if unsub.Elapsed > 0 {
		r.UnsubPerSec = float64(r.Unsubscribes) / unsub.Elapsed.Seconds()
	}
	r.GeneratorRSSMB = max(placed.MaxRSSMB, unsub.MaxRSSMB)
	r.UnsubP99 = percentile(ulat, 99)
	if cpu0 > 0 && r.Orders > 0 && r.Unsubscribes > 0 {
		r.ServerCPUPerOrder = (cpu1 - cpu0) / time.Duration(r.Orders+r.Failed)
		r.ServerCPUPerUnsub = (cpu3 - cpu2) / time.Duration(len(urls))
		r.GeneratorCPUPerUnsub = unsub.CPU / time.Duration(len(urls))
	}
	r.PeakHeapMB = float64(peakHeap.Load()) / (1 << 20)
	r.PeakSysMB = float64(peakSys.Load()) / (1 << 20)
	r.MaxRSSMB = procStatusKB("VmHWM") / 1024
	r.PeakAnonMB = float64(peakAnon.Load()) / (1 << 20)

	return r, r.ledgerAndMails(ctx, db)
}

// ledgerAndMails adds to the report what the database says after the
// run: whether the ledger verifies, and the mails queued and written.
func (r *LoadReport) ledgerAndMails(ctx context.Context, db *orders.DB) error {
	v, err := db.Verify(ctx)
	if err != nil {
		return err
	}
	r.LedgerOK, r.LedgerEvents = v.OK, v.Events
	counts, err := followup.Counts(ctx, db.SQL(), 0)
	if err != nil {
		return err
	}
	for st, n := range counts {
		r.MailsQueued += n
		if st == followup.Held || st == followup.Sent {
			r.MailsDelivered += n
		}
	}
	return nil
}

func percentile(l []time.Duration, p int) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// procStatusKB reads a field of /proc/self/status in kB (Linux): VmHWM
// is the peak resident set, RssAnon the part that is the process's own
// memory rather than pages of its executable and other files. 0
// elsewhere.
func procStatusKB(field string) float64 { return statusKB("/proc/self/status", field) }

// statusKB reads field of a process's status file in kB; 0 where there
// is none.
func statusKB(file, field string) float64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb
		}
	}
	return 0
}

// The load generator runs as a process of its own, so
// that the server's memory is measured without it: "consentdesk-bench
// load-traffic" reads a trafficSpec as JSON on stdin, sends the traffic,
// and writes a trafficResult as JSON on stdout. It is not meant to be
// run by hand.
type trafficSpec struct {
	Mode     string // "orders" or "burst"
	Base     string
	Token    string
	Workers  int
	Duration time.Duration
	URLs     []string // burst: one-click unsubscribe links, posted at once
	// Prefix makes the customers' addresses this generator's own: on a
	// chain's database earlier runs' customers are still there, and an
	// address unsubscribed then is on the blocking list now.
	Prefix string
	// Tokens, when set, are the API tokens of several stores: worker w
	// sends its orders with Tokens[w % len(Tokens)].
	Tokens []string
}

type trafficResult struct {
	Latencies   []int64 // nanoseconds, of the requests that succeeded
	Failed      int
	CustomerIDs []int64 // orders: the customers created
	Elapsed     time.Duration
	MaxRSSMB    float64
	CPU         time.Duration // the generator's CPU time while it sent (its start not included)
}

// selfCommand starts this program with args. Tests replace it: there the
// running binary is the test runner.
var selfCommand = func(ctx context.Context, args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return exec.CommandContext(ctx, exe, args...), nil
}

// runTraffic runs the generator for spec in a process of its own; its
// log goes where the server's does.
func runTraffic(ctx context.Context, spec trafficSpec) (trafficResult, error) {
	var res trafficResult
	in, err := json.Marshal(spec)
	if err != nil {
		return res, err
	}
	cmd, err := selfCommand(ctx, "load-traffic")
	if err != nil {
		return res, err
	}
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &out, &errOut
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("load generator: %w: %s", err, strings.TrimSpace(errOut.String()))
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, fmt.Errorf("load generator: %w", err)
	}
	return res, nil
}

// loadTraffic is the generator's process.
func loadTraffic(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	var spec trafficSpec
	if err := json.NewDecoder(stdin).Decode(&spec); err != nil {
		return fmt.Errorf("load-traffic: %w", err)
	}
	var res trafficResult
	cpu := processCPU()
	switch spec.Mode {
	case "orders":
		res = sendOrders(ctx, spec)
	case "burst":
		res = sendBurst(spec.URLs)
	default:
		return fmt.Errorf("load-traffic: unknown mode %q", spec.Mode)
	}
	res.CPU = processCPU() - cpu
	// Read here, not from the parent's rusage: Linux counts the parent's
	// pages at fork into the child's ru_maxrss.
	res.MaxRSSMB = procStatusKB("VmHWM") / 1024
	return json.NewEncoder(stdout).Encode(res)
}

// sendOrders sends API orders from spec.Workers workers for spec.Duration.
func sendOrders(ctx context.Context, spec trafficSpec) trafficResult {
	sig := loadSignature()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: spec.Workers}, Timeout: 30 * time.Second}
	var seq atomic.Int64
	var mu sync.Mutex
	var res trafficResult
	deadline := time.Now().Add(spec.Duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < spec.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				n := seq.Add(1)
				body := fmt.Sprintf(loadOrder, n, n, sig)
				if spec.Prefix != "" {
					body = strings.Replace(body, fmt.Sprintf("load%d@", n), fmt.Sprintf("load%s-%d@", spec.Prefix, n), 1)
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, spec.Base+"/api/v1/orders", strings.NewReader(body))
				token := spec.Token
				if len(spec.Tokens) > 0 {
					token = spec.Tokens[w%len(spec.Tokens)]
				}
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				r, err := client.Do(req)
				var created struct {
					CustomerID int64 `json:"customer_id"`
				}
				if err == nil {
					err = json.NewDecoder(r.Body).Decode(&created)
					r.Body.Close()
				}
				d := time.Since(t0)
				mu.Lock()
				if err != nil || r.StatusCode != http.StatusCreated {
					res.Failed++
				} else {
					res.Latencies = append(res.Latencies, int64(d))
					res.CustomerIDs = append(res.CustomerIDs, created.CustomerID)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

// sendBurst posts every one-click unsubscribe link at once, each from an
// address of its own on 127/8 (the public pages limit each address).
func sendBurst(urls []string) trafficResult {
	var mu sync.Mutex
	var res trafficResult
	var wg sync.WaitGroup
	start := time.Now()
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+i/250), byte(1+i%250))}
			c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: local}).DialContext}}
			t0 := time.Now()
			r, err := c.Post(u, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
			if err == nil {
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
			}
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || r.StatusCode != http.StatusOK {
				res.Failed++
				return
			}
			res.Latencies = append(res.Latencies, int64(d))
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

func durations(ns []int64) []time.Duration {
	d := make([]time.Duration, len(ns))
	for i, n := range ns {
		d[i] = time.Duration(n)
	}
	return d
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}

// printChainLoad is the report of a run on PostgreSQL.
func printChainLoad(w io.Writer, r LoadReport) {
	fmt.Fprintf(w, "orders: %d in %s through %d server processes on PostgreSQL, %d workers each, in %d stores, %d failed: %.0f orders/s\n",
		r.Orders, r.Duration.Round(time.Millisecond), r.Servers, r.Workers, r.Stores, r.Failed, r.OrdersPerSec)
	fmt.Fprintf(w, "order latency: p50 %s, p99 %s\n", r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond))
	for i, s := range r.PerServer {
		fmt.Fprintf(w, "  server %d: %d orders, %.0f/s, p50 %s, p99 %s, max RSS %.1f MB\n", i+1, s.Orders, s.OrdersPerSec,
			s.P50.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond), s.MaxRSSMB)
	}
	fmt.Fprintf(w, "one-click burst: %d unsubscribes at once over the servers, %d failed: %.0f/s, p99 %s\n", r.Unsubscribes, r.UnsubFailed, r.UnsubPerSec, r.UnsubP99.Round(time.Millisecond))
	fmt.Fprintf(w, "mails: %d queued in the database, %d written; ledger intact: %t (%d events)\n", r.MailsQueued, r.MailsDelivered, r.LedgerOK, r.LedgerEvents)
}
