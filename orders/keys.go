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
	"strings"
)

// Keys are derived from one secret kept in a file beside the database,
// never inside it: a copy of the database alone reveals no prescription and
// cannot forge a link token.
type Keys struct {
	Prescription cipher.AEAD // AES-256-GCM for health data (GDPR Art. 9, Art. 32)
	Tokens       []byte      // HMAC key of the customers' link tokens
	CSRF         []byte      // HMAC key of the forms' CSRF tokens
	Block        []byte      // HMAC key of the blocking list's hashes (§35(3) BDSG)
}

// LoadOrCreateKeys reads the secret at file, creating it on first start.
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
	secret, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(secret) != 32 {
		return nil, fmt.Errorf("key file %s is damaged: it must hold 64 hex digits", file)
	}
	return deriveKeys(secret)
}

func deriveKeys(secret []byte) (*Keys, error) {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte("consentdesk/" + label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("prescription-aes-256-gcm"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keys{Prescription: aead, Tokens: derive("link-tokens"), CSRF: derive("csrf"), Block: derive("block-list")}, nil
}
