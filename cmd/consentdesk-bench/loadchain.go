package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/chain"
)

// ServerFigures is one server process's share of a chain's load run.
type ServerFigures struct {
	Orders       int
	Failed       int
	OrdersPerSec float64
	P50, P99     time.Duration
	MaxRSSMB     float64
}

// runLoadChain is the load run on a chain's PostgreSQL database: n server
// processes (the store's binary at server, "consentdesk serve", each a
// process of its own, as behind a load balancer) on the same database, each driven
// by a generator process with workers API clients at once; then the
// one-click burst, spread over the servers. The database keeps the
// orders: give load a database of its own.
func runLoadChain(ctx context.Context, work, server, dbURL, files string, servers, stores, workers int, duration time.Duration, burst int, logFile io.Writer) (LoadReport, error) {
	r := LoadReport{Workers: workers, Servers: servers, Stores: stores, Engine: "postgres"}
	db, err := orders.Open(ctx, dbURL, assets.Migrations(), orders.Options{Files: files})
	if err != nil {
		return r, err
	}
	defer db.Close()
	if _, err := db.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		return r, err
	}
	// One API token per store, for the stores "Load 2", "Load 3", … made
	// where missing: each worker sends for one store.
	stamp := time.Now().UTC().Format("20060102-150405.000")
	var tokens []string
	for i := 1; i <= stores; i++ {
		id := consent.FirstStore
		if i > 1 {
			st, err := db.StoreByName(ctx, fmt.Sprintf("Load %d", i))
			if err != nil {
				if st, err = chain.AddStore(ctx, db, orders.Store{Name: fmt.Sprintf("Load %d", i)}); err != nil {
					return r, err
				}
			}
			id = st.ID
		}
		t, err := db.CreateAPIToken(ctx, orders.NewAPIToken{Name: fmt.Sprintf("load %s store %d", stamp, i), StoreID: id})
		if err != nil {
			return r, err
		}
		tokens = append(tokens, t)
	}
	run := time.Now().UTC().Format("20060102150405")
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Signal(os.Interrupt)
		}
		for _, p := range procs {
			p.Wait()
		}
	}()
	var bases []string
	var logMu sync.Mutex
	for i := 0; i < servers; i++ {
		cmd, base, err := startLoadServer(ctx, server, dbURL, files, filepath.Join(work, "mail"), &lockedWriter{w: logFile, mu: &logMu})
		if cmd != nil {
			procs = append(procs, cmd)
		}
		if err != nil {
			return r, fmt.Errorf("server %d: %w", i+1, err)
		}
		bases = append(bases, base)
	}

	results := make([]trafficResult, servers)
	errs := make([]error, servers)
	var wg sync.WaitGroup
	for i, base := range bases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Server i's workers start at a store of their own, so that
			// with as many stores as servers each server takes one.
			mine := append(append([]string{}, tokens[i%len(tokens):]...), tokens[:i%len(tokens)]...)
			results[i], errs[i] = runTraffic(ctx, trafficSpec{Mode: "orders", Base: base, Tokens: mine, Workers: workers, Duration: duration,
				Prefix: fmt.Sprintf("%s-%d", run, i+1)})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return r, err
	}
	var all []time.Duration
	var customers []int64
	for i, res := range results {
		lat := durations(res.Latencies)
		all = append(all, lat...)
		customers = append(customers, res.CustomerIDs...)
		f := ServerFigures{Orders: len(lat), Failed: res.Failed, P50: percentile(lat, 50), P99: percentile(lat, 99)}
		if res.Elapsed > 0 {
			f.OrdersPerSec = float64(f.Orders) / res.Elapsed.Seconds()
		}
		r.PerServer = append(r.PerServer, f)
		r.Failed += res.Failed
		r.Duration = max(r.Duration, results[i].Elapsed)
		r.GeneratorRSSMB = max(r.GeneratorRSSMB, res.MaxRSSMB)
	}
	r.Orders = len(all)
	if r.Duration > 0 {
		r.OrdersPerSec = float64(r.Orders) / r.Duration.Seconds()
	}
	r.P50, r.P99 = percentile(all, 50), percentile(all, 99)

	// The burst, each unsubscribe to the next server in turn.
	links := db.Keys.LinkTokens()
	customers = customers[:min(burst, len(customers))]
	urls := make([]string, len(customers))
	for i, id := range customers {
		urls[i] = bases[i%len(bases)] + "/u/" + links.Make(consent.UnsubscribeToken, id)
	}
	unsub, err := runTraffic(ctx, trafficSpec{Mode: "burst", URLs: urls})
	if err != nil {
		return r, err
	}
	ulat := durations(unsub.Latencies)
	r.Unsubscribes, r.UnsubFailed = len(ulat), unsub.Failed
	if unsub.Elapsed > 0 {
		r.UnsubPerSec = float64(r.Unsubscribes) / unsub.Elapsed.Seconds()
	}
	r.UnsubP99 = percentile(ulat, 99)
	r.GeneratorRSSMB = max(r.GeneratorRSSMB, unsub.MaxRSSMB)
	for i, p := range procs {
		rss := pidStatusKB(p.Process.Pid, "VmHWM") / 1024
		r.PerServer[i].MaxRSSMB = rss
		r.MaxRSSMB = max(r.MaxRSSMB, rss)
	}

	return r, r.ledgerAndMails(ctx, db)
}

var listeningRE = regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`)

// startLoadServer starts "consentdesk serve" (the binary at server) on a
// free port of 127.0.0.1 and waits for its address; its log goes to log.
func startLoadServer(ctx context.Context, server, dbURL, files, mailDir string, log io.Writer) (*exec.Cmd, string, error) {
	cmd := exec.CommandContext(ctx, server, "serve", "--db", dbURL, "--files", files, "--addr", "127.0.0.1:0", "--backup-dir", "off", "--mail-dir", mailDir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Fprintln(log, sc.Text())
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case base := <-found:
		return cmd, base, nil
	case <-time.After(30 * time.Second):
		return cmd, "", errors.New("did not start within 30 s (see the server log)")
	}
}

// pidStatusKB is procStatusKB for another process.
func pidStatusKB(pid int, field string) float64 {
	return statusKB("/proc/"+strconv.Itoa(pid)+"/status", field)
}

// lockedWriter lets several processes' logs share one file, line by line.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
