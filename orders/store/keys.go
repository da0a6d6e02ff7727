package store

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk/consent"
)

// Keys are derived from secrets kept in a file beside the database, never
// inside it: a copy of the database alone reveals no prescription and
// cannot forge a link token.
//
// The key file holds one or more versioned secrets:
//
//	# comment
//	secret 1 <64 hex digits>
//	secret 2 <64 hex digits>
//	retired 1
//
// A file of one line of 64 hex digits (as written before versions) is
// secret 1. The newest secret signs new link tokens and CSRF tokens and
// seals new prescriptions, each prescription recording its key version;
// every secret not retired still checks link tokens, so that printed QR
// codes keep working after a rotation; a retired one checks none, but
// still opens the prescriptions sealed with it. The blocking list's key
// always comes from secret 1: its hashes must match for ever (§35(3)
// BDSG).
type Keys struct {
	Prescription cipher.AEAD // AES-256-GCM for new health data (GDPR Art. 9, Art. 32)
	// PrescriptionVersion is the version of Prescription's secret, stored
	// with each ciphertext.
	PrescriptionVersion int
	Tokens              []byte   // HMAC key of new link tokens (the newest secret)
	OlderTokens         [][]byte // keys of older secrets, not retired: links made with them still work
	CSRF                []byte   // HMAC key of the forms' CSRF tokens
	Block               []byte   // HMAC key of the blocking list's hashes (§35(3) BDSG), from secret 1

	prescriptions map[int]cipher.AEAD // every version, to open old ciphertexts

	// Joined are the keys of stores' databases that joined the chain
	// (JoinChain), by the name the chain knows each by.
	Joined []JoinedKeys
}

// JoinedKeys are what a joined store's secrets still do in the chain:
// check the links and QR codes the store printed and mailed (they name
// the store's customer numbers, which the chain maps to its own), and
// match contacts against the blocking-list entries the store made
// (§35(3) BDSG: an objection holds after the move, also of a customer
// erased before it, whose contact cannot be hashed anew).
type JoinedKeys struct {
	Source string
	// Tokens check the store's links; nil once all its secrets are
	// retired.
	Tokens *consent.Tokens
	Block  []byte
}

// LinkTokens makes and checks the customers' link tokens with every
// secret that is not retired.
func (k *Keys) LinkTokens() *consent.Tokens { return consent.NewTokens(k.Tokens, k.OlderTokens...) }

// PrescriptionKey returns the key of a version, for opening a ciphertext.
func (k *Keys) PrescriptionKey(version int) (cipher.AEAD, bool) {
	a, ok := k.prescriptions[version]
	return a, ok
}

// keyFile is the parsed key file.
type keyFile struct {
	secrets map[int][]byte
	retired map[int]bool
	joined  map[string]*keyFile // by the joined database's name for the chain (joinSource)
}

func (f keyFile) versions() []int {
	var v []int
	for n := range f.secrets {
		v = append(v, n)
	}
	sort.Ints(v)
	return v
}

func parseKeyFile(file string, raw []byte) (keyFile, error) {
	damaged := func(why string) error {
		return fmt.Errorf("key file %s is damaged (%s): it must hold 64 hex digits, or lines \"secret N <64 hex digits>\"", file, why)
	}
	k := keyFile{secrets: map[int][]byte{}, retired: map[int]bool{}}
	text := strings.TrimSpace(string(raw))
	if !strings.Contains(text, " ") && !strings.Contains(text, "\n") {
		secret, err := hex.DecodeString(text)
		if err != nil || len(secret) != 32 {
			return k, damaged("not 64 hex digits")
		}
		k.secrets[1] = secret
		return k, nil
	}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		// "joined SOURCE secret N HEX", "joined SOURCE retired N": the
		// secrets of a store's database that joined the chain
		// (JoinChain), which its printed QR codes and mails and its
		// blocking list were made with.
		into := &k
		if f[0] == "joined" && len(f) >= 4 {
			if k.joined == nil {
				k.joined = map[string]*keyFile{}
			}
			if k.joined[f[1]] == nil {
				k.joined[f[1]] = &keyFile{secrets: map[int][]byte{}, retired: map[int]bool{}}
			}
			into, f = k.joined[f[1]], f[2:]
		}
		if err := into.parseLine(f); err != "" {
			return k, damaged(err)
		}
	}
	for _, kf := range append([]*keyFile{&k}, slices.Collect(maps.Values(k.joined))...) {
		if _, ok := kf.secrets[1]; !ok {
			return k, damaged("no secret 1")
		}
		for n := range kf.retired {
			if _, ok := kf.secrets[n]; !ok {
				return k, damaged("retired " + strconv.Itoa(n) + " names no secret")
			}
		}
	}
	return k, nil
}

// allRetired says whether every secret is retired: then no link made
// with any of them is checked (a joined store's, after keys rotate
// --retire-old-links).
func (k *keyFile) allRetired() bool {
	for v := range k.secrets {
		if !k.retired[v] {
			return false
		}
	}
	return true
}

// parseLine reads one "secret N HEX" or "retired N" line; it returns
// what is wrong with it, or "".
func (k *keyFile) parseLine(f []string) string {
	n, err := strconv.Atoi(f[1%len(f)])
	switch {
	case err != nil || n < 1:
		return "version " + strconv.Quote(f[1%len(f)])
	case f[0] == "secret" && len(f) == 3:
		secret, err := hex.DecodeString(f[2])
		if err != nil || len(secret) != 32 {
			return "secret " + f[1]
		}
		if _, dup := k.secrets[n]; dup {
			return "secret " + f[1] + " twice"
		}
		k.secrets[n] = secret
	case f[0] == "retired" && len(f) == 2:
		k.retired[n] = true
	default:
		return "line " + strconv.Quote(strings.Join(f, " "))
	}
	return ""
}

// LoadOrCreateKeys reads the key file, creating it on first start.
func LoadOrCreateKeys(file string) (*Keys, error) {
	raw, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		raw = []byte(hex.EncodeToString(secret) + "\n")
		// O_EXCL: two processes starting at once must not each write a key.
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return LoadOrCreateKeys(file)
			}
			return nil, fmt.Errorf("create key file: %w", err)
		}
		if _, err := f.Write(raw); err != nil {
			f.Close()
			return nil, fmt.Errorf("write key file: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	k, err := parseKeyFile(file, raw)
	if err != nil {
		return nil, err
	}
	return deriveKeys(k)
}

func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("consentdesk/" + label))
	return m.Sum(nil)
}

func deriveKeys(k keyFile) (*Keys, error) {
	versions := k.versions()
	newest := versions[len(versions)-1]
	keys := &Keys{prescriptions: map[int]cipher.AEAD{}, PrescriptionVersion: newest,
		Tokens: derive(k.secrets[newest], "link-tokens"), CSRF: derive(k.secrets[newest], "csrf"), Block: derive(k.secrets[1], "block-list")}
	for _, v := range versions {
		block, err := aes.NewCipher(derive(k.secrets[v], "prescription-aes-256-gcm"))
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		keys.prescriptions[v] = aead
		if v != newest && !k.retired[v] {
			keys.OlderTokens = append([][]byte{derive(k.secrets[v], "link-tokens")}, keys.OlderTokens...)
		}
	}
	keys.Prescription = keys.prescriptions[newest]
	for _, source := range slices.Sorted(maps.Keys(k.joined)) {
		j, err := deriveKeys(*k.joined[source])
		if err != nil {
			return nil, err
		}
		jk := JoinedKeys{Source: source, Block: j.Block}
		if !k.joined[source].allRetired() {
			jk.Tokens = j.LinkTokens()
		}
		keys.Joined = append(keys.Joined, jk)
	}
	return keys, nil
}

// BlockKeys are the keys of the blocking list's hashes: the chain's
// first, then each joined store's.
func (k *Keys) BlockKeys() [][]byte {
	out := [][]byte{k.Block}
	for _, j := range k.Joined {
		out = append(out, j.Block)
	}
	return out
}

// RotateKeys adds a new secret to the key file: from the next start, new
// links and QR codes are signed with it and new prescriptions sealed with
// it. Links made before keep working, unless retireOld, which makes every
// older secret check no link any more (a leaked secret): printed QR codes
// and links in mails sent before then lead to "link invalid". Older
// prescriptions stay readable either way. The file is replaced
// atomically; it returns the new version.
func RotateKeys(file string, retireOld bool) (int, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("read key file: %w", err)
	}
	k, err := parseKeyFile(file, raw)
	if err != nil {
		return 0, err
	}
	versions := k.versions()
	next := versions[len(versions)-1] + 1
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return 0, err
	}
	k.secrets[next] = secret
	if retireOld {
		for _, v := range versions {
			k.retired[v] = true
		}
		// A leaked key file leaks the joined stores' secrets with it: the
		// links and QR codes made with those are retired too.
		for _, j := range k.joined {
			for v := range j.secrets {
				j.retired[v] = true
			}
		}
	}
	if err := writeKeyFile(file, k); err != nil {
		return 0, err
	}
	return next, nil
}

// writeKeyFile replaces the key file atomically.
func writeKeyFile(file string, k keyFile) error {
	var b strings.Builder
	b.WriteString("# ConsentDesk key file: keep it beside the database, never inside it, and back it up apart\n")
	b.WriteString("# from the backups. The newest secret signs links and seals new prescriptions; older ones\n")
	b.WriteString("# open older prescriptions and, unless retired, still check links (docs/data-and-backups.md, \"Keys\").\n")
	write := func(prefix string, k keyFile) {
		for _, v := range k.versions() {
			fmt.Fprintf(&b, "%ssecret %d %s\n", prefix, v, hex.EncodeToString(k.secrets[v]))
		}
		for _, v := range k.versions() {
			if k.retired[v] {
				fmt.Fprintf(&b, "%sretired %d\n", prefix, v)
			}
		}
	}
	write("", k)
	if len(k.joined) > 0 {
		b.WriteString("# Secrets of stores' databases that joined the chain (consentdesk join-chain): their printed\n")
		b.WriteString("# QR codes and mailed links keep working, and their blocking lists keep blocking.\n")
	}
	for _, source := range slices.Sorted(maps.Keys(k.joined)) {
		write("joined "+source+" ", *k.joined[source])
	}
	tmp := file + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write key file: %w", err)
	}
	return nil
}

// AddJoinedKeys writes the secrets of a store's key file (storeFile)
// into the chain's key file (chainFile) as "joined" lines, once; the
// servers read them at their next start. It returns the name the chain
// knows the store's database by (as JoinChain records it).
func AddJoinedKeys(chainFile, storeFile string) (string, error) {
	raw, err := os.ReadFile(storeFile)
	if err != nil {
		return "", fmt.Errorf("read the store's key file: %w", err)
	}
	store, err := parseKeyFile(storeFile, raw)
	if err != nil {
		return "", err
	}
	if len(store.joined) > 0 {
		return "", fmt.Errorf("the key file %s is a chain's (it holds joined stores' secrets), not a store's", storeFile)
	}
	keys, err := deriveKeys(store)
	if err != nil {
		return "", err
	}
	source := JoinSource(keys)
	if raw, err = os.ReadFile(chainFile); err != nil {
		return "", fmt.Errorf("read the chain's key file: %w", err)
	}
	chain, err := parseKeyFile(chainFile, raw)
	if err != nil {
		return "", err
	}
	own, err := deriveKeys(chain)
	if err != nil {
		return "", err
	}
	if JoinSource(own) == source {
		return "", errors.New("the store's key file is the chain's own")
	}
	if have, ok := chain.joined[source]; ok {
		for v, secret := range store.secrets {
			if !bytes.Equal(have.secrets[v], secret) {
				return "", fmt.Errorf("the chain's key file holds other secrets for %s: edit neither by hand", storeFile)
			}
		}
		return source, nil
	}
	if chain.joined == nil {
		chain.joined = map[string]*keyFile{}
	}
	chain.joined[source] = &store
	return source, writeKeyFile(chainFile, chain)
}

// JoinSource names a store's database for the chain: a hash of its
// blocking-list key, which is derived from its first secret and never
// changes (keys.go), so that the same database joining twice is seen,
// and the key itself stays secret.
func JoinSource(k *Keys) string {
	h := sha256.Sum256(append([]byte("consentdesk/join-source/"), k.Block...))
	return hex.EncodeToString(h[:])
}

// Fingerprint names the key file for the database that was started with
// it: JoinSource, a hash of the blocking list's key, which no rotation
// changes.
func (k *Keys) Fingerprint() string { return JoinSource(k) }

// checkKeyFingerprint compares the key file with the one the database
// was first started with, and records it on the first start (and on the
// first start after an upgrade). Another key file would seal new
// prescriptions the others cannot open, sign links the other servers
// refuse and miss the blocking list's entries (§35(3) BDSG): the server
// does not start with it.
func (db *DB) checkKeyFingerprint(ctx context.Context, file string) error {
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	var migrated int
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, keyFingerprintMigration).Scan(&migrated); err != nil {
		return fmt.Errorf("key fingerprint: %w", err)
	}
	if migrated == 0 {
		return nil // a test's schema of an older version
	}
	mine := db.Keys.Fingerprint()
	if db.opts.ReadOnly {
		// Compared only: a database from before fingerprints has none.
		var want string
		err := db.sql.QueryRowContext(ctx, `SELECT sha256 FROM key_fingerprint WHERE id = 1`).Scan(&want)
		if errors.Is(err, sql.ErrNoRows) || err == nil && want == mine {
			return nil
		}
		if err != nil {
			return fmt.Errorf("key fingerprint: %w", err)
		}
		return fmt.Errorf("die Schlüsseldatei %s gehört nicht zu dieser Datenbank / the key file %s does not belong to this database (fingerprint %s, the database's %s)", abs, abs, short(mine), short(want))
	}
	if err := db.Tx(ctx, func(ctx context.Context, tx consent.Tx, now time.Time) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO key_fingerprint (id, sha256, key_file, created_at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			mine, abs, Stamp(now))
		return err
	}); err != nil {
		return fmt.Errorf("key fingerprint: %w", err)
	}
	var want, wantFile string
	if err := db.sql.QueryRowContext(ctx, `SELECT sha256, key_file FROM key_fingerprint WHERE id = 1`).Scan(&want, &wantFile); err != nil {
		return fmt.Errorf("key fingerprint: %w", err)
	}
	if want == mine {
		return nil
	}
	return fmt.Errorf("die Schlüsseldatei %s gehört nicht zu dieser Datenbank (Fingerabdruck %s); erwartet wird die Schlüsseldatei, mit der sie eingerichtet wurde (Fingerabdruck %s, damals %s): "+
		"bitte diese Datei an den Ort legen oder --files darauf zeigen lassen / the key file %s does not belong to this database (fingerprint %s); "+
		"it expects the key file it was set up with (fingerprint %s, then at %s): put that file in place or point --files at it. "+
		"Nothing was changed; with another key, prescriptions could not be read, links would fail and the blocking list would not match",
		abs, short(mine), short(want), wantFile, abs, short(mine), short(want), wantFile)
}

// keyFingerprintMigration made the table key_fingerprint.
const keyFingerprintMigration = 20

// short is a fingerprint's first 16 hex digits, enough to tell two apart.
func short(fp string) string { return fp[:min(16, len(fp))] }

// ForgetKeyFingerprint removes the recorded fingerprint from a database
// that is a template for others (the tests' migrated copy on
// PostgreSQL): each copy is started with a key file of its own, and
// records that one.
func ForgetKeyFingerprint(ctx context.Context, q consent.Querier) error {
	_, err := q.ExecContext(ctx, `DELETE FROM key_fingerprint`)
	return err
}
