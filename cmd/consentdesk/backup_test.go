package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/orderstest"
	"github.com/consentdesk/consentdesk/orders/store"
)

func TestNextBackup(t *testing.T) {
	at := func(s string) time.Time {
		v, _ := time.ParseInLocation("2006-01-02 15:04", s, orders.Berlin)
		return v
	}
	for _, c := range []struct{ now, at, want string }{
		{"2026-11-22 01:00", "02:30", "2026-11-22 02:30"},
		{"2026-11-22 02:30", "02:30", "2026-11-23 02:30"},
		{"2026-11-22 23:59", "00:00", "2026-11-23 00:00"},
		{"2026-03-28 12:00", "02:30", "2026-03-29 02:30"}, // the night the clocks go forward
	} {
		got, err := nextBackup(at(c.now), c.at)
		if err != nil || !got.Equal(at(c.want)) {
			t.Errorf("%s at %s: %v %v", c.now, c.at, got, err)
		}
	}
	for _, bad := range []string{"", "2:3:0", "24:00", "12:60", "noon", "-1:00"} {
		if _, err := nextBackup(time.Now(), bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func events(t *testing.T, db string) int64 {
	t.Helper()
	if !orderstest.Postgres() {
		v, _, _, err := store.VerifyFile(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		return v.Events
	}
	// On PostgreSQL a file is a backup (pg_dump's archive), read back
	// into a database of its own; a database is named by the test's path
	// or, moved aside by a restore, by its name.
	var loc string
	switch _, err := os.Stat(db); {
	case err == nil:
		loc, _ = orderstest.Restore(t, db, fmt.Sprintf("%s.read-%d", db, scratch.Add(1)))
	case strings.Contains(db, "_before_restore_"):
		loc = orderstest.Named(t, db)
	default:
		loc, _ = orderstest.Location(t, db)
	}
	h, err := store.OpenSQL(loc)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	v, err := consent.Verify(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	return v.Events
}

// scratch numbers the read-back copies; tests run side by side.
var scratch atomic.Int64

// tamperedCopy writes a copy of backup with an event changed behind the
// ledger's back: the file edited on SQLite; on PostgreSQL the archive
// restored, edited and dumped again.
func tamperedCopy(t *testing.T, backup, bad string) {
	t.Helper()
	if !orderstest.Postgres() {
		if err := copyFile(backup, bad); err != nil {
			t.Fatal(err)
		}
		tamper(t, bad)
		return
	}
	loc, _ := orderstest.Restore(t, backup, bad+".work")
	tamper(t, bad+".work")
	if out, err := exec.Command("pg_dump", "--format=custom", "--file="+bad, "--dbname="+loc).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v: %s", err, out)
	}
}

// TestBackupRotateRestoreAndServe: nightly copies rotate; a restore
// refuses a live database and a tampered backup, keeps the old database
// aside, verifies, and the server runs on the result.
func TestBackupRotateRestoreAndServe(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "store.db")
	token, err := run(t, "token", "create", "--name", "erp", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	token = strings.TrimSpace(token)
	if _, err := run(t, "demo", "--db", db); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 20, 1, 30, 0, 0, time.UTC)
	var night atomic.Int64 // the clock is fixed at Open: it reads which night it is
	store, err := orderstest.Open(ctx, t, db, assets.Migrations(), orders.Options{Now: func() time.Time { return day.AddDate(0, 0, int(night.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	backups := filepath.Join(dir, "backups")
	var last string
	for i := 0; i < 3; i++ {
		night.Store(int64(i))
		if last, err = store.BackupInto(ctx, backups, 2); err != nil {
			t.Fatal(err)
		}
	}
	ext := ".db"
	if orderstest.Postgres() {
		ext = ".dump" // pg_dump's archive
	}
	files, _ := filepath.Glob(filepath.Join(backups, "*"))
	if len(files) != 4 || filepath.Base(files[0]) != "consentdesk-20261121-013000"+ext {
		t.Errorf("after rotation: %v", files)
	}
	seq, hash, _ := consent.Head(ctx, store.SQL())
	head, _ := os.ReadFile(last + ".head")
	if !strings.Contains(string(head), hash) || !strings.Contains(string(head), "head_seq: "+itoa(seq)) {
		t.Errorf("head file %q, chain head %d %s", head, seq, hash)
	}
	// The heads file beside the database keeps every night's head; the
	// rotation inside the backups folder never touches it.
	// Each line ends with the head of every store's chain (one store
	// here).
	if heads, err := os.ReadFile(db + ".heads"); err != nil || strings.Count(string(heads), "\nhead ")+1 != 3 ||
		!strings.HasSuffix(string(heads), " "+itoa(seq)+" "+hash+" "+last+" store:1:"+itoa(seq)+":"+hash+"\n") {
		t.Errorf("heads file after three nights and a rotation: %v\n%s", err, heads)
	}
	want := events(t, last)
	// The store goes on after the backup.
	if _, err := store.Demo(ctx); err != nil {
		t.Fatal(err)
	}
	store.Close()
	if events(t, db) <= want {
		t.Fatal("no new events after the backup")
	}

	// A running server: the restore refuses.
	srv := startServer(t, db)
	if _, err := run(t, "restore", "--from", last, "--db", db); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("restore over a running server: %v", err)
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()

	// A tampered backup: refused, nothing changed.
	bad := filepath.Join(dir, "bad.db")
	tamperedCopy(t, last, bad)
	before := events(t, db)
	if _, err := run(t, "restore", "--from", bad, "--db", db); err == nil || !strings.Contains(err.Error(), "broken") {
		t.Errorf("tampered backup restored: %v", err)
	}
	if events(t, db) != before {
		t.Error("a refused restore changed the database")
	}
	if _, err := run(t, "restore", "--db", db); err == nil {
		t.Error("restore without --from")
	}

	out, err := run(t, "restore", "--from", last, "--db", db)
	if err != nil || !strings.Contains(out, "intact") || !regexp.MustCompile(`kept as \S+(\.before-restore-|_before_restore_)`).MatchString(out) {
		t.Fatalf("restore: %v %q", err, out)
	}
	if got := events(t, db); got != want {
		t.Errorf("restored %d events, the backup had %d", got, want)
	}
	aside, _ := filepath.Glob(db + ".before-restore-*")
	if orderstest.Postgres() { // a database beside it, by name
		aside = regexp.MustCompile(`kept as (\S+)`).FindStringSubmatch(out)[1:]
	}
	if len(aside) == 0 || events(t, aside[0]) != before {
		t.Errorf("previous database not kept: %v", aside)
	}

	// Serve from it: the token made before the backup works.
	srv = startServer(t, db)
	req, _ := http.NewRequest(http.MethodGet, "http://"+srv.addr+"/api/v1/orders/1", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("order from the restored database: %v %v", err, res)
	}
	res.Body.Close()
	srv.cmd.Process.Signal(syscall.SIGTERM)
	srv.cmd.Wait()
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

// Erasure and backups: restoring a backup from before an erasure would
// bring the customer back. The erasure list, kept beside the
// database and apart from the backups, erases them again at once; the
// ledger shows it, and still verifies.
func TestRestoreErasesAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "store.db")
	if _, err := run(t, "demo", "--db", db); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "before-erasure.db")
	if _, err := run(t, "backup", "--to", backup, "--db", db); err != nil {
		t.Fatal(err)
	}
	store, err := orderstest.Open(ctx, t, db, assets.Migrations(), orders.Options{BackupKeep: 14})
	if err != nil {
		t.Fatal(err)
	}
	e, err := store.Erase(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().In(orders.Berlin)
	if !e.Backups.Listed || e.Backups.HeldUntil != today.AddDate(0, 0, 14).Format("2006-01-02") || !strings.Contains(e.Backups.Note, "erasure list") {
		t.Errorf("the erasure's answer on backups: %+v", e.Backups)
	}
	store.Close()
	if list, _ := os.ReadFile(db + ".erased"); !regexp.MustCompile(`^erased \S+ 1\n$`).Match(list) {
		t.Errorf("erasure list: %q", list)
	}

	out, err := run(t, "restore", "--from", backup, "--db", db)
	if err != nil || !strings.Contains(out, "1 customer(s) erased again") || !strings.Contains(out, "until") {
		t.Fatalf("restore: %v %q", err, out)
	}
	store, err = orderstest.Open(ctx, t, db, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	c, err := store.Customer(ctx, 1)
	if err != nil || !c.Erased() || c.LastName != "" || c.Email != "" {
		t.Errorf("customer 1 after the restore: %+v %v", c, err)
	}
	evs, _ := consent.Events(ctx, store.SQL(), 1)
	if last := evs[len(evs)-1]; last.Action != consent.Erase || last.Actor != consent.BySystem {
		t.Errorf("the ledger does not show the repeated erasure: %+v", last)
	}
	if v, _ := store.Verify(ctx); !v.OK {
		t.Errorf("ledger after the repeated erasure: %+v", v)
	}
	// Applying the list again finds nothing more to do.
	if again, err := store.ReapplyErasures(ctx); err != nil || len(again) != 0 {
		t.Errorf("second application: %v %v", again, err)
	}
	// A line lost to a full disk comes back from the database.
	os.Remove(db + ".erased")
	if n, err := store.SyncErasureList(ctx); err != nil || n != 1 {
		t.Errorf("sync: %d %v", n, err)
	}
}

// The copies a restore moved aside hold erased data: deleted after
// store.AsideKeep, by the time in their name.
func TestOldCopiesFromBeforeARestoreAreDeleted(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "store.db")
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	old := db + ".before-restore-" + now.Add(-store.AsideKeep-time.Hour).Format("20060102-150405")
	fresh := db + ".before-restore-" + now.Add(-time.Hour).Format("20060102-150405")
	for _, f := range []string{old, old + "-wal", fresh, db} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	gone, err := store.RemoveOldAside(db, store.AsideKeep, now)
	if err != nil || len(gone) != 2 {
		t.Fatalf("removed %v: %v", gone, err)
	}
	for f, want := range map[string]bool{old: false, old + "-wal": false, fresh: true, db: true} {
		if _, err := os.Stat(f); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", filepath.Base(f), err == nil, want)
		}
	}
}

// Withdrawals and objections made after a backup stand after its
// restore: the withdrawal journal beside the database records them again
// (GDPR Art. 7(3), Art. 21(3)), and puts their contacts back on the
// blocking list, that of a customer the backup does not hold included.
// The restore lists what it could not record again.
func TestRestoreKeepsWithdrawalsAndObjections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "store.db")
	if _, err := run(t, "demo", "--db", db); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "before-objections.db")
	if _, err := run(t, "backup", "--to", backup, "--db", db); err != nil {
		t.Fatal(err)
	}
	s, err := orderstest.Open(ctx, t, db, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	// Customer 2 objects to SMS (granted at the counter) and withdraws
	// the offers by e-mail; customer 1 withdraws post.
	for _, ch := range []orders.ConsentChange{
		{CustomerID: 2, Source: consent.PreferencePage, ByCustomer: true, Object: true, Channels: map[consent.Channel]bool{consent.SMS: false}},
		{CustomerID: 2, Source: consent.PreferencePage, ByCustomer: true, Cells: map[consent.Channel]map[string]bool{consent.Email: {consent.TopicOffers: false}}},
		{CustomerID: 1, Source: consent.PhoneRequest, Channels: map[consent.Channel]bool{consent.Post: false}},
	} {
		if _, err := s.RecordConsents(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	// A customer who came after the backup, and objected to e-mail.
	if _, err := s.ImportCustomers(ctx, []orders.Customer{{Salutation: "Frau", FirstName: "Nach", LastName: "Sicherung", Email: "nach.sicherung@example.org"}}); err != nil {
		t.Fatal(err)
	}
	var late int64
	if err := s.SQL().QueryRow(`SELECT MAX(id) FROM customers`).Scan(&late); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordConsents(ctx, orders.ConsentChange{CustomerID: late, Source: consent.EmailLink, ByCustomer: true, Object: true,
		Channels: map[consent.Channel]bool{consent.Email: false}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if j, _ := os.ReadFile(db + ".withdrawals"); !strings.Contains(string(j), "withdraw ") || !strings.Contains(string(j), "block ") ||
		strings.Contains(string(j), "example.org") || strings.Contains(string(j), "+49") {
		t.Errorf("the withdrawal journal (numbers and hashes only):\n%s", j)
	}

	out, err := run(t, "restore", "--from", backup, "--db", db)
	if err != nil || !strings.Contains(out, "withdrawal journal applied: 3 withdrawal(s) recorded again, 3 contact(s) put back") ||
		!strings.Contains(out, fmt.Sprintf("customer %d, email/all topics", late)) || !strings.Contains(out, "not in the restored database") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	s, err = orderstest.Open(ctx, t, db, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	two, err := s.ConsentTopics(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	sms := consent.Summary(two[consent.SMS])
	if sms.State != consent.Withdrawn {
		t.Errorf("customer 2's SMS after the restore: %+v", two[consent.SMS])
	}
	if two[consent.Email][consent.TopicOffers].State != consent.Withdrawn {
		t.Errorf("customer 2's e-mail offers after the restore: %+v", two[consent.Email])
	}
	c2, _ := s.Customer(ctx, 2)
	if b, err := s.BlockedChannels(ctx, c2); err != nil || !b[consent.SMS] || b[consent.Email] {
		t.Errorf("customer 2's blocked channels after the restore: %v %v", b, err)
	}
	one, _ := s.ConsentTopics(ctx, 1)
	if consent.Summary(one[consent.Post]).State != consent.Withdrawn {
		t.Errorf("customer 1's post after the restore: %+v", one[consent.Post])
	}
	evs, _ := consent.Events(ctx, s.SQL(), 2)
	if last := evs[len(evs)-1]; last.Action != consent.Withdraw || last.Actor != consent.BySystem || !strings.Contains(last.Note, "withdrawal journal") {
		t.Errorf("the ledger does not say the withdrawal was recorded again: %+v", last)
	}
	if v, _ := s.Verify(ctx); !v.OK {
		t.Errorf("ledger after the restore: %+v", v)
	}
	// The customer the backup does not hold: their contact stays blocked.
	c := orders.Customer{Email: "nach.sicherung@example.org"}
	if b, err := s.BlockedChannels(ctx, c); err != nil || !b[consent.Email] {
		t.Errorf("the contact of the customer lost with the restore is not blocked: %v %v", b, err)
	}
	// Applying the journal again finds nothing to do.
	if re, err := s.ReapplyWithdrawals(ctx); err != nil || re.Withdrawals != 0 || re.Blocks != 0 {
		t.Errorf("second application: %+v %v", re, err)
	}
}

// A restore refuses, before anything is changed, a backup that
// contradicts a head the heads file recorded (a rewritten ledger), one
// made with another key file, and any without a key file to open it.
func TestRestoreRefusesWhatContradictsTheRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "store.db")
	if _, err := run(t, "demo", "--db", db); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "backup", "--to", filepath.Join(dir, "b1.db"), "--db", db); err != nil {
		t.Fatal(err)
	}
	// The same store's key, another ledger of the same length: a ledger
	// rewritten after its head was recorded.
	other := filepath.Join(dir, "rewritten.db")
	key, err := os.ReadFile(db + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other+".key", key, 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // other times, other hashes
	if _, err := run(t, "demo", "--db", other); err != nil {
		t.Fatal(err)
	}
	rewritten := filepath.Join(dir, "b-rewritten.db")
	if _, err := run(t, "backup", "--to", rewritten, "--db", other); err != nil {
		t.Fatal(err)
	}
	// Another store: another key file.
	third := filepath.Join(dir, "third.db")
	if _, err := run(t, "demo", "--db", third); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "b-foreign.db")
	if _, err := run(t, "backup", "--to", foreign, "--db", third); err != nil {
		t.Fatal(err)
	}
	before, err := run(t, "verify", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, want string }{
		{rewritten, "contradicts a recorded head"},
		{foreign, "another key file"},
	} {
		out, err := run(t, "restore", "--from", c.from, "--db", db)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "nothing was changed") {
			t.Errorf("restore --from %s: %v\n%s", filepath.Base(c.from), err, out)
		}
	}
	if after, err := run(t, "verify", "--db", db); err != nil || after != before {
		t.Errorf("a refused restore changed the database: %v\n%s\n%s", err, before, after)
	}
	if aside, _ := filepath.Glob(db + ".before-restore-*"); len(aside) > 0 {
		t.Errorf("a refused restore moved the database aside: %v", aside)
	}
	// Without any key file: refused, nothing changed.
	if err := os.Rename(db+".key", db+".key.elsewhere"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "restore", "--from", filepath.Join(dir, "b1.db"), "--db", db); err == nil || !strings.Contains(err.Error(), "no key file") {
		t.Errorf("restore without a key file: %v", err)
	}
	if err := os.Rename(db+".key.elsewhere", db+".key"); err != nil {
		t.Fatal(err)
	}
	// The backup that agrees with the record restores.
	if out, err := run(t, "restore", "--from", filepath.Join(dir, "b1.db"), "--db", db); err != nil {
		t.Errorf("restore of the store's own backup: %v\n%s", err, out)
	}
}
