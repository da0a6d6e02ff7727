package consent

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// Event is one entry of the consent ledger. The fields up to CreatedAt are
// hashed into the chain; Contact and Note are personal details kept beside
// it, so that an erasure can remove them without breaking the chain.
type Event struct {
	Seq             int64      `json:"id"`
	CustomerID      int64      `json:"customer_id"`
	Channel         Channel    `json:"channel"`
	Action          Action     `json:"action"`
	OptInLevel      OptInLevel `json:"opt_in_level,omitempty"`
	LegalBasis      LegalBasis `json:"legal_basis"`
	Source          Source     `json:"source"`
	Actor           Actor      `json:"actor"`
	NoticeVersionID string     `json:"notice_version,omitempty"`
	NoticeSHA256    string     `json:"notice_sha256,omitempty"`
	OrderID         int64      `json:"order_id,omitempty"`
	StaffID         int64      `json:"staff_id,omitempty"`
	EvidenceSHA256  string     `json:"evidence_sha256,omitempty"` // signature image or scanned form
	CreatedAt       string     `json:"created_at"`                // RFC 3339, UTC, as stored
	// APIToken is the name of the API token that entered the event, when
	// the actor is ByAPI.
	APIToken string `json:"api_token,omitempty"`
	// RepresentativeOf is the relationship ("mother", "father",
	// "guardian") of the parent or guardian who decided for a child under
	// 16 (Art. 8 GDPR by analogy); their name is Representative, kept
	// beside the chain like Contact.
	RepresentativeOf string `json:"representative_relationship,omitempty"`
	// Topic is what the event is about (a topic key), AllTopics for every
	// topic of its channel, "" for events from before topics (= offers).
	Topic string `json:"topic,omitempty"`
	// StoreID is the store where the event happened; each store's events
	// form a hash chain of their own. 0 for events from before stores,
	// which belong to the first store's chain (FirstStore).
	StoreID int64 `json:"store_id,omitempty"`
	// Position is the event's place in its store's chain (1, 2, 3, …);
	// 0 for events from before stores, whose place is their Seq. Not
	// hashed: the chain's links cover its order.
	Position int64 `json:"position,omitempty"`
	// JoinedFrom is the hash of the event this one records again: a
	// store's ledger that joined the chain (orders.JoinChain) keeps its
	// events as they were in joined_events, and each is recorded again
	// in the chain's ledger with the chain's numbers.
	JoinedFrom string `json:"joined_from,omitempty"`
	PrevHash   string `json:"prev_hash"`
	Hash       string `json:"hash"`

	Contact        string `json:"contact,omitempty"` // the address or number the consent covered
	Note           string `json:"note,omitempty"`
	Representative string `json:"representative,omitempty"` // the parent's or guardian's name
}

// GenesisHash is the PrevHash of the first event.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// ComputeHash returns the SHA-256 over the event's hashed fields and its
// PrevHash. The bytes hashed are a JSON array of strings in a fixed order,
// written by hashInput exactly as docs/data-and-backups.md, "The ledger's hash", says,
// so that an auditor can re-implement verify in another language from
// that text alone. APIToken and RepresentativeOf, added later, are
// appended only when set, so that every event written before them still
// hashes as it did.
func (e *Event) ComputeHash() string {
	sum := sha256.Sum256(hashInput(e.hashedFields()))
	return hex.EncodeToString(sum[:])
}

// hashChecker tells whether events' hashes hold, with its buffers reused
// from one event to the next (verify).
type hashChecker struct {
	input []byte
	hex   [2 * sha256.Size]byte
}

// holds says whether e.Hash is the hash of e's fields, as ComputeHash.
// It writes hashInput(e.hashedFields()) straight into its buffer, the
// numbers by strconv.AppendInt and a prefixed field's prefix and text
// one after the other, so that an event costs no allocation: at a
// chain's 10,000,000 events the list of fields and its numbers as
// strings were a tenth of verify's time. TestHashCheckerAgreesWithComputeHash
// holds the two ways to the same bytes.
func (h *hashChecker) holds(e *Event) bool {
	b := append(h.input[:0], '[')
	b = appendJSONInt(b, e.Seq)
	b = appendJSONInt(append(b, ','), e.CustomerID)
	for _, f := range [...]string{string(e.Channel), string(e.Action), string(e.OptInLevel), string(e.LegalBasis),
		string(e.Source), string(e.Actor), e.NoticeVersionID, e.NoticeSHA256} {
		b = appendJSONString(append(b, ','), "", f)
	}
	b = appendJSONInt(append(b, ','), e.OrderID)
	b = appendJSONInt(append(b, ','), e.StaffID)
	for _, f := range [...]string{e.EvidenceSHA256, e.CreatedAt, e.PrevHash} {
		b = appendJSONString(append(b, ','), "", f)
	}
	// The later fields, as appendHashedFields adds them.
	if e.APIToken != "" {
		b = appendJSONString(append(b, ','), "", e.APIToken)
	}
	if e.RepresentativeOf != "" {
		b = appendJSONString(append(b, ','), representativePrefix, e.RepresentativeOf)
	}
	if e.Topic != "" {
		b = appendJSONString(append(b, ','), topicPrefix, e.Topic)
	}
	if e.StoreID != 0 {
		b = append(b, ',', '"')
		b = append(b, storePrefix...)
		b = append(strconv.AppendInt(b, e.StoreID, 10), '"')
	}
	if e.JoinedFrom != "" {
		b = appendJSONString(append(b, ','), joinedPrefix, e.JoinedFrom)
	}
	h.input = append(b, ']')
	sum := sha256.Sum256(h.input)
	hex.Encode(h.hex[:], sum[:])
	return string(h.hex[:]) == e.Hash
}

// appendJSONInt writes n as the string hashInput writes for it: digits
// need no escaping.
func appendJSONInt(b []byte, n int64) []byte {
	b = append(b, '"')
	return append(strconv.AppendInt(b, n, 10), '"')
}

// hashedFields lists the hashed fields in their order.
func (e *Event) hashedFields() []string {
	return e.appendHashedFields(nil)
}

// appendHashedFields is hashedFields into fields, which verify reuses.
func (e *Event) appendHashedFields(fields []string) []string {
	fields = append(fields,
		strconv.FormatInt(e.Seq, 10),
		strconv.FormatInt(e.CustomerID, 10),
		string(e.Channel),
		string(e.Action),
		string(e.OptInLevel),
		string(e.LegalBasis),
		string(e.Source),
		string(e.Actor),
		e.NoticeVersionID,
		e.NoticeSHA256,
		strconv.FormatInt(e.OrderID, 10),
		strconv.FormatInt(e.StaffID, 10),
		e.EvidenceSHA256,
		e.CreatedAt,
		e.PrevHash,
	)
	// Later fields are appended only when set, each with its name, so
	// that every event written before them still hashes as it did.
	if e.APIToken != "" {
		fields = append(fields, e.APIToken)
	}
	if e.RepresentativeOf != "" {
		fields = append(fields, representativePrefix+e.RepresentativeOf)
	}
	if e.Topic != "" {
		fields = append(fields, topicPrefix+e.Topic)
	}
	if e.StoreID != 0 {
		fields = append(fields, storePrefix+strconv.FormatInt(e.StoreID, 10))
	}
	if e.JoinedFrom != "" {
		fields = append(fields, joinedPrefix+e.JoinedFrom)
	}
	return fields
}

// representativePrefix names the 17th field. An API token's name may not
// start with it (Append refuses), or a token named "representative:x"
// would hash like a representative without a token.
const representativePrefix = "representative:"

// topicPrefix names the 18th field; an API token's name may not start
// with it either.
const topicPrefix = "topic:"

// storePrefix names the 19th field, the store; nor may a token's name
// start with it.
const storePrefix = "store:"

// joinedPrefix names the 20th field, the hash of the original of an event
// recorded again from a joined store's ledger; nor may a token's name
// start with it.
const joinedPrefix = "joined:"

// ReservedPrefixes are the prefixes of the hashed fields after the
// API token's name: a token's name may start with none of them.
var ReservedPrefixes = []string{representativePrefix, topicPrefix, storePrefix, joinedPrefix}

// FirstStore is the store that every database has from the start: the
// events, orders and mails from before stores belong to it.
const FirstStore int64 = 1

// Chain is the store whose hash chain the event belongs to.
func (e *Event) Chain() int64 {
	if e.StoreID == 0 {
		return FirstStore
	}
	return e.StoreID
}
