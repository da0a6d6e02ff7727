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
	"github.com/consentdesk/consentdesk/orders"
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
	MaxRSSMB       float64
	Unsubscribes   int
	UnsubFailed    int
	UnsubPerSec    float64
	UnsubP99       time.Duration
	LedgerOK       bool
	LedgerEvents   int64
	MailsQueued    int
	MailsDelivered int
	LogPath        string // the server's log of the run
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
	if err := parseFlags(fs, args); err != nil {
		return err
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
	r, err := runLoad(ctx, work, *workers, *duration, *burst, *ceiling)
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
	fmt.Fprintf(stdout, "raw SQLite commits (WAL, synchronous=FULL, one writer): %.0f/s\n", r.CeilingPerSec)
	fmt.Fprintf(stdout, "orders: %d in %s by %d workers, %d failed: %.0f orders/s, %.0f %% of the commit ceiling\n",
		r.Orders, r.Duration.Round(time.Millisecond), r.Workers, r.Failed, r.OrdersPerSec, r.Ratio*100)
	fmt.Fprintf(stdout, "group commit: %d commits in the order phase, %.1f writes each (orders, and the sender's mail updates)\n", r.Commits, r.PerCommit)
	fmt.Fprintf(stdout, "order latency: p50 %s, p99 %s\n", r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond))
	fmt.Fprintf(stdout, "memory: peak heap %.1f MB, peak from the OS %.1f MB, max RSS %.1f MB (server and load generator in one process)\n",
		r.PeakHeapMB, r.PeakSysMB, r.MaxRSSMB)
	fmt.Fprintf(stdout, "one-click burst: %d unsubscribes at once, %d failed: %.0f/s, p99 %s\n", r.Unsubscribes, r.UnsubFailed, r.UnsubPerSec, r.UnsubP99.Round(time.Millisecond))
	fmt.Fprintf(stdout, "mails: %d queued, %d written by the sender meanwhile; ledger intact: %t (%d events)\n", r.MailsQueued, r.MailsDelivered, r.LedgerOK, r.LedgerEvents)
	return nil
}

// commitCeiling is the rate of the smallest durable transaction on this
// disk: one row, one commit, the same pragmas as the store's database.
func commitCeiling(ctx context.Context, file string, d time.Duration) (float64, error) {
	db, err := sql.Open("sqlite", orders.DSN(file))
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

func runLoad(ctx context.Context, work string, workers int, duration time.Duration, burst int, ceilingFor time.Duration) (LoadReport, error) {
	r := LoadReport{Workers: workers}
	var err error
	if r.CeilingPerSec, err = commitCeiling(ctx, filepath.Join(work, "ceiling.db"), ceilingFor); err != nil {
		return r, fmt.Errorf("commit ceiling: %w", err)
	}

	wake := make(chan struct{}, 1)
	db, err := orders.Open(ctx, filepath.Join(work, "load.db"), assets.Migrations(), orders.Options{MailQueued: func() { followup.Signal(wake) }})
	if err != nil {
		return r, err
	}
	defer db.Close()
	if _, err := db.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		return r, err
	}
	token, err := db.CreateAPIToken(ctx, "load")
	if err != nil {
		return r, err
	}
	tokens := db.Keys.LinkTokens()
	sender := followup.NewSender(db, tokens, followup.Folder{Dir: filepath.Join(work, "mail")}, followup.SenderConfig{PublicURL: "https://optik.example", Wake: wake})
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
	var peakHeap, peakSys atomic.Uint64
	sampling, stopSampling := context.WithCancel(ctx)
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
			select {
			case <-sampling.Done():
				return
			case <-t.C:
			}
		}
	}()

	sig := loadSignature()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 30 * time.Second}
	var seq atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var customers []int64
	var failed atomic.Int64
	before := db.CommitStats()
	deadline := time.Now().Add(duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				n := seq.Add(1)
				body := fmt.Sprintf(loadOrder, n, n, sig)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/orders", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				var created struct {
					CustomerID int64 `json:"customer_id"`
				}
				err = json.NewDecoder(res.Body).Decode(&created)
				res.Body.Close()
				d := time.Since(t0)
				if err != nil || res.StatusCode != http.StatusCreated {
					failed.Add(1)
					continue
				}
				mu.Lock()
				lat = append(lat, d)
				customers = append(customers, created.CustomerID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.Duration = time.Since(start)
	after := db.CommitStats()
	if r.Commits = after.Commits - before.Commits; r.Commits > 0 {
		r.PerCommit = float64(after.UseCases-before.UseCases) / float64(r.Commits)
	}
	r.Orders, r.Failed = len(lat), int(failed.Load())
	r.OrdersPerSec = float64(r.Orders) / r.Duration.Seconds()
	r.Ratio = r.OrdersPerSec / r.CeilingPerSec
	r.P50, r.P99 = percentile(lat, 50), percentile(lat, 99)

	// The burst: many customers press "unsubscribe" in their mail
	// program at once, each from their own address (the public pages
	// limit each address).
	if burst > len(customers) {
		burst = len(customers)
	}
	var ulat []time.Duration
	var ufailed atomic.Int64
	ustart := time.Now()
	for i := 0; i < burst; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			local := &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+i/250), byte(1+i%250))}
			c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: local}).DialContext}}
			u := base + "/u/" + tokens.Make(consent.UnsubscribeToken, customers[i])
			t0 := time.Now()
			res, err := c.Post(u, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
			if err != nil {
				ufailed.Add(1)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				ufailed.Add(1)
				return
			}
			mu.Lock()
			ulat = append(ulat, time.Since(t0))
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	udur := time.Since(ustart)
	stopSampling()
	r.Unsubscribes, r.UnsubFailed = len(ulat), int(ufailed.Load())
	if udur > 0 {
		r.UnsubPerSec = float64(r.Unsubscribes) / udur.Seconds()
	}
	r.UnsubP99 = percentile(ulat, 99)
	r.PeakHeapMB = float64(peakHeap.Load()) / (1 << 20)
	r.PeakSysMB = float64(peakSys.Load()) / (1 << 20)
	r.MaxRSSMB = maxRSSMB()

	v, err := db.Verify(ctx)
	if err != nil {
		return r, err
	}
	r.LedgerOK, r.LedgerEvents = v.OK, v.Events
	counts, err := followup.Counts(ctx, db.SQL())
	if err != nil {
		return r, err
	}
	for st, n := range counts {
		r.MailsQueued += n
		if st == followup.Held || st == followup.Sent {
			r.MailsDelivered += n
		}
	}
	return r, nil
}

func percentile(l []time.Duration, p int) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// maxRSSMB reads the peak resident set size from /proc (Linux); 0
// elsewhere.
func maxRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
