package orders

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"

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
		n, err := strconv.Atoi(f[1%len(f)])
		switch {
		case err != nil || n < 1:
			return k, damaged("version " + strconv.Quote(f[1%len(f)]))
		case f[0] == "secret" && len(f) == 3:
			secret, err := hex.DecodeString(f[2])
			if err != nil || len(secret) != 32 {
				return k, damaged("secret " + f[1])
			}
			if _, dup := k.secrets[n]; dup {
				return k, damaged("secret " + f[1] + " twice")
			}
			k.secrets[n] = secret
		case f[0] == "retired" && len(f) == 2:
			k.retired[n] = true
		default:
			return k, damaged("line " + strconv.Quote(line))
		}
	}
	if _, ok := k.secrets[1]; !ok {
		return k, damaged("no secret 1")
	}
	for n := range k.retired {
		if _, ok := k.secrets[n]; !ok {
			return k, damaged("retired " + strconv.Itoa(n) + " names no secret")
		}
	}
	return k, nil
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
	return keys, nil
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
	}
	var b strings.Builder
	b.WriteString("# ConsentDesk key file: keep it beside the database, never inside it, and back it up apart\n")
	b.WriteString("# from the backups. The newest secret signs links and seals new prescriptions; older ones\n")
	b.WriteString("# open older prescriptions and, unless retired, still check links (README, \"Keys\").\n")
	for _, v := range k.versions() {
		fmt.Fprintf(&b, "secret %d %s\n", v, hex.EncodeToString(k.secrets[v]))
	}
	for _, v := range k.versions() {
		if k.retired[v] {
			fmt.Fprintf(&b, "retired %d\n", v)
		}
	}
	tmp := file + ".new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("write key file: %w", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		os.Remove(tmp)
		return 0, fmt.Errorf("write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return 0, fmt.Errorf("write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return 0, err
	}
	if err := os.Rename(tmp, file); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("write key file: %w", err)
	}
	return next, nil
}
