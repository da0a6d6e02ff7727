package consent

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Receipt is a consent receipt with the fields of the Kantara Initiative
// Consent Receipt Specification v1.1, plus the ledger hashes that let a
// reader check it against the store's chain.
type Receipt struct {
	Version          string              `json:"version"`
	Jurisdiction     string              `json:"jurisdiction"`
	ConsentTimestamp int64               `json:"consentTimestamp"` // seconds since 1970, of the latest event
	CollectionMethod string              `json:"collectionMethod"`
	ConsentReceiptID string              `json:"consentReceiptID"`
	Language         string              `json:"language"`
	PIIPrincipalID   string              `json:"piiPrincipalId"`
	PIIControllers   []ReceiptController `json:"piiControllers"`
	PolicyURL        string              `json:"policyUrl"`
	Services         []ReceiptService    `json:"services"`
	Sensitive        bool                `json:"sensitive"`
	SPICat           []string            `json:"spiCat"`

	// Extensions (the specification allows more fields).
	Ledger ReceiptLedger `json:"ledger"`
}

// ReceiptController is the store as the controller.
type ReceiptController struct {
	PIIController    string         `json:"piiController"`
	OnBehalf         bool           `json:"onBehalf"`
	Contact          string         `json:"contact"`
	Address          ReceiptAddress `json:"address"`
	Email            string         `json:"email"`
	Phone            string         `json:"phone"`
	PIIControllerURL string         `json:"piiControllerUrl,omitempty"`
}

// ReceiptAddress is the controller's postal address as an object, as the
// Kantara Consent Receipt v1.1 schema has it (found by an outside
// validator: a string there does not validate).
type ReceiptAddress struct {
	StreetAddress   string `json:"streetAddress"`
	PostalCode      string `json:"postalCode"`
	AddressLocality string `json:"addressLocality"`
	AddressCountry  string `json:"addressCountry"`
}

// ReceiptService is one service with its purposes: here, one per
// marketing channel with a purpose per topic, and one for the
// prescription.
type ReceiptService struct {
	Service  string           `json:"service"`
	Purposes []ReceiptPurpose `json:"purposes"`
}

// ReceiptPurpose is one purpose of a service.
type ReceiptPurpose struct {
	Purpose              string   `json:"purpose"`
	PurposeCategory      []string `json:"purposeCategory"`
	ConsentType          string   `json:"consentType"`
	PIICategory          []string `json:"piiCategory"`
	PrimaryPurpose       bool     `json:"primaryPurpose"`
	Termination          string   `json:"termination"`
	ThirdPartyDisclosure bool     `json:"thirdPartyDisclosure"`
	// Extensions: the cell's topic, where the consent stands now, and
	// its legal basis.
	Topic         string     `json:"topic,omitempty"`
	State         State      `json:"state"`
	LegalBasis    LegalBasis `json:"legalBasis"`
	NoticeVersion string     `json:"noticeVersion,omitempty"`
	NoticeSHA256  string     `json:"noticeSha256,omitempty"`
	GrantedAt     string     `json:"grantedAt,omitempty"`
}

// ReceiptLedger ties the receipt to the hash chain.
type ReceiptLedger struct {
	Algorithm string          `json:"algorithm"`
	Events    []ReceiptEvent  `json:"events"`
	Head      ReceiptEventRef `json:"head"` // the chain's newest event when the receipt was made
	Verified  bool            `json:"verified"`
}

// ReceiptEvent is one of the customer's events, by its hashes.
type ReceiptEvent struct {
	Seq       int64   `json:"seq"`
	Channel   Channel `json:"channel"`
	Topic     string  `json:"topic,omitempty"`
	Action    Action  `json:"action"`
	Source    Source  `json:"source"`
	CreatedAt string  `json:"created_at"`
	PrevHash  string  `json:"prev_hash"`
	Hash      string  `json:"hash"`
}

// ReceiptEventRef names one event of the chain.
type ReceiptEventRef struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// ReceiptInput is what BuildReceipt needs.
type ReceiptInput struct {
	Store          Controller
	CustomerID     int64
	Lang           string
	Events         []Event
	PreferencesURL string
	HeadSeq        int64
	HeadHash       string
	Verified       bool
	// T translates a message key into Lang.
	T func(key string, args ...any) string
}

// BuildReceipt makes the receipt of a customer's consents from their
// events. Its ID is derived from the customer and their newest event, so
// that the same state always gives the same receipt, and any change a new
// one.
func BuildReceipt(in ReceiptInput) Receipt {
	lang := in.Lang
	if lang != "en" {
		lang = "de"
	}
	// The notice the consents were given under: the store's own page of
	// it, else the notice on the customer's preference page. The home
	// page is no policy.
	policy := in.Store.PrivacyURL
	if policy == "" && in.PreferencesURL != "" {
		policy = in.PreferencesURL + "#notice"
	}
	r := Receipt{
		Version:        "KI-CR-v1.1.0",
		Jurisdiction:   "DE",
		Language:       lang,
		PIIPrincipalID: fmt.Sprintf("customer:%d", in.CustomerID),
		PIIControllers: []ReceiptController{{PIIController: in.Store.Name, Contact: in.Store.DataProtectionContact(), Address: ReceiptAddress{StreetAddress: in.Store.Street, PostalCode: in.Store.PostalCode, AddressLocality: in.Store.City, AddressCountry: "DE"},
			Email: in.Store.Email, Phone: in.Store.Phone, PIIControllerURL: in.Store.Website}},
		PolicyURL: policy,
		Services:  []ReceiptService{},
		SPICat:    []string{},
		Ledger:    ReceiptLedger{Algorithm: "SHA-256", Events: []ReceiptEvent{}, Head: ReceiptEventRef{Seq: in.HeadSeq, Hash: in.HeadHash}, Verified: in.Verified},
	}
	var methods []string
	seenMethod := map[Source]bool{}
	last := GenesisHash
	granted := map[Cell]bool{}
	health := false
	for _, e := range in.Events {
		r.Ledger.Events = append(r.Ledger.Events, ReceiptEvent{Seq: e.Seq, Channel: e.Channel, Topic: e.Topic, Action: e.Action, Source: e.Source,
			CreatedAt: e.CreatedAt, PrevHash: e.PrevHash, Hash: e.Hash})
		last = e.Hash
		if t, err := time.Parse(time.RFC3339Nano, e.CreatedAt); err == nil {
			r.ConsentTimestamp = t.Unix()
		}
		if e.Action == Grant {
			if e.Channel == HealthData {
				health = true
			} else {
				granted[Cell{e.Channel, EventTopic(e)}] = true
			}
			if !seenMethod[e.Source] {
				seenMethod[e.Source] = true
				methods = append(methods, in.T("receipt.method."+string(e.Source)))
			}
		}
	}
	r.CollectionMethod = strings.Join(methods, "; ")
	if r.CollectionMethod == "" {
		r.CollectionMethod = in.T("receipt.method.none")
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("consentdesk-receipt/%d/%s", in.CustomerID, last)))
	r.ConsentReceiptID = uuid8(sum[:16])

	termination := in.T("receipt.termination", in.PreferencesURL, in.Store.Email)
	// One service per channel, one purpose per cell (channel, topic) the
	// customer ever granted, with its state now: the unit of consent.
	topics := EventTopics(in.Events, in.Store.TopicKeys())
	byTopic := DeriveTopics(in.Events, topics)
	for _, ch := range Channels {
		var purposes []ReceiptPurpose
		for _, t := range topics {
			cell := Cell{ch, t}
			if !granted[cell] {
				continue
			}
			p := receiptPurpose(in, byTopic[ch][t], cell, termination)
			p.Purpose = in.Store.CellLabel(lang, cell, "")
			p.Topic = t
			purposes = append(purposes, p)
		}
		if len(purposes) > 0 {
			r.Services = append(r.Services, ReceiptService{Service: in.T("receipt.service." + string(ch)), Purposes: purposes})
		}
	}
	if health {
		p := receiptPurpose(in, Derive(in.Events)[HealthData], Cell{Channel: HealthData}, termination)
		p.Purpose = in.T("receipt.purpose.health_data")
		p.PrimaryPurpose = true // the glasses are made from these values
		r.Sensitive = true
		r.SPICat = append(r.SPICat, in.T("receipt.spicat.health"))
		r.Services = append(r.Services, ReceiptService{Service: in.T("receipt.service.health_data"), Purposes: []ReceiptPurpose{p}})
	}
	return r
}

// receiptPurpose is one cell's purpose, with the basis and notice of its
// newest grant.
func receiptPurpose(in ReceiptInput, st ChannelState, cell Cell, termination string) ReceiptPurpose {
	var basis LegalBasis = BasisConsent
	var noticeSHA string
	for _, e := range in.Events {
		if e.Channel == cell.Channel && e.Action == Grant && (cell.Channel == HealthData || EventTopic(e) == cell.Topic) {
			basis, noticeSHA = e.LegalBasis, e.NoticeSHA256
		}
	}
	return ReceiptPurpose{
		PurposeCategory: []string{in.T("receipt.category." + string(cell.Channel))},
		ConsentType:     "EXPLICIT",
		PIICategory:     []string{in.T("receipt.pii." + string(cell.Channel))},
		Termination:     termination,
		State:           st.State,
		LegalBasis:      basis,
		NoticeVersion:   st.NoticeVersion,
		NoticeSHA256:    noticeSHA,
		GrantedAt:       st.GrantedAt,
	}
}

// uuid8 formats 16 bytes as an RFC 9562 version 8 (custom) UUID.
func uuid8(b []byte) string {
	u := make([]byte, 16)
	copy(u, b)
	u[6] = (u[6] & 0x0f) | 0x80
	u[8] = (u[8] & 0x3f) | 0x80
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
