package consent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
)

// TokenPurpose binds a token to one use: a preference-page token cannot
// confirm an opt-in, and an unsubscribe token cannot open the page.
type TokenPurpose byte

const (
	PreferencesToken TokenPurpose = 'p'
	UnsubscribeToken TokenPurpose = 'u'
	ConfirmToken     TokenPurpose = 'c' // before tokens were bound to an address; see MakeFor
	// ConfirmAddressToken confirms a pending e-mail consent for the one
	// address it was sent to: after a change of address it confirms
	// nothing.
	ConfirmAddressToken TokenPurpose = 'e'
)

// Tokens makes and checks the links that let a customer act without
// logging in. A token is the purpose, the customer id and an
// HMAC-SHA-256 over both (truncated to 128 bits), base64url-encoded: it is
// unguessable without the server's secret, and stays valid as long as the
// secret does, so a printed QR code keeps working.
type Tokens struct {
	key []byte
	// older are keys of earlier secrets that still check tokens: a
	// rotated secret leaves the printed QR codes working (orders.Keys).
	older []*Tokens
}

// NewTokens makes tokens with key (at least 32 bytes of the server
// secret) and checks them with key and any older keys.
func NewTokens(key []byte, older ...[]byte) *Tokens {
	t := &Tokens{key: key}
	for _, k := range older {
		t.older = append(t.older, &Tokens{key: k})
	}
	return t
}

const tokenMACLen = 16

func (t *Tokens) mac(p TokenPurpose, customerID int64) []byte {
	m := hmac.New(sha256.New, t.key)
	var buf [9]byte
	buf[0] = byte(p)
	binary.BigEndian.PutUint64(buf[1:], uint64(customerID))
	m.Write(buf[:])
	return m.Sum(nil)[:tokenMACLen]
}

// macFor is the MAC over purpose, customer and a bound subject.
func (t *Tokens) macFor(p TokenPurpose, customerID int64, subject string) []byte {
	m := hmac.New(sha256.New, t.key)
	var buf [9]byte
	buf[0] = byte(p)
	binary.BigEndian.PutUint64(buf[1:], uint64(customerID))
	m.Write(buf[:])
	m.Write([]byte(subject))
	return m.Sum(nil)[:tokenMACLen]
}

// MakeFor returns a token bound to a subject as well, such as the address
// a confirmation link was sent to. It checks only with that subject.
func (t *Tokens) MakeFor(p TokenPurpose, customerID int64, subject string) string {
	raw := make([]byte, 9, 9+tokenMACLen)
	raw[0] = byte(p)
	binary.BigEndian.PutUint64(raw[1:], uint64(customerID))
	raw = append(raw, t.macFor(p, customerID, subject)...)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// CheckFor returns the customer id of a valid token bound to a subject;
// subject gives the subject that customer has now (e.g. their address).
func (t *Tokens) CheckFor(p TokenPurpose, token string, subject func(customerID int64) (string, bool)) (int64, bool) {
	id, mac, ok := parseToken(p, token)
	if !ok {
		return 0, false
	}
	want, ok := subject(id)
	if !ok {
		return 0, false
	}
	for _, k := range t.all() {
		if hmac.Equal(mac, k.macFor(p, id, want)) {
			return id, true
		}
	}
	return 0, false
}

func (t *Tokens) all() []*Tokens { return append([]*Tokens{t}, t.older...) }

func parseToken(p TokenPurpose, token string) (int64, []byte, bool) {
	if len(token) != base64.RawURLEncoding.EncodedLen(9+tokenMACLen) {
		return 0, nil, false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token) // Strict: no two spellings of one token
	if err != nil || len(raw) != 9+tokenMACLen || TokenPurpose(raw[0]) != p {
		return 0, nil, false
	}
	id := int64(binary.BigEndian.Uint64(raw[1:9]))
	if id <= 0 {
		return 0, nil, false
	}
	return id, raw[9:], true
}

// Make returns the token for a customer and purpose.
func (t *Tokens) Make(p TokenPurpose, customerID int64) string {
	raw := make([]byte, 9, 9+tokenMACLen)
	raw[0] = byte(p)
	binary.BigEndian.PutUint64(raw[1:], uint64(customerID))
	raw = append(raw, t.mac(p, customerID)...)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// Check returns the customer id of a valid token for purpose p. The MAC
// is compared in constant time.
func (t *Tokens) Check(p TokenPurpose, token string) (int64, bool) {
	id, mac, ok := parseToken(p, token)
	if !ok {
		return 0, false
	}
	for _, k := range t.all() {
		if hmac.Equal(mac, k.mac(p, id)) {
			return id, true
		}
	}
	return 0, false
}
