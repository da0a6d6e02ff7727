// Package consent holds the rules of marketing consent: channels, the
// append-only ledger of consent events and the state derived from it,
// privacy notice versions, the store's controller details, and the tokens
// that let a customer withdraw without logging in. It knows nothing of
// HTTP or PDF.
package consent

// Channel is a way the store may contact a customer for marketing. Each
// one is consented to on its own (GDPR Art. 7(4), recital 43; UWG §7(2)).
type Channel string

const (
	Post  Channel = "post"
	Email Channel = "email"
	SMS   Channel = "sms"
	Phone Channel = "phone"
)

// Channels in the order they are shown everywhere.
var Channels = []Channel{Post, Email, SMS, Phone}

// HealthData is not a marketing channel but a purpose recorded in the same
// ledger: explicit consent to store the spectacle prescription (GDPR
// Art. 9(2)(a)), kept apart from marketing.
const HealthData Channel = "health_data"

// Valid reports whether c is a marketing channel.
func (c Channel) Valid() bool {
	switch c {
	case Post, Email, SMS, Phone:
		return true
	}
	return false
}

// Action is what an event does to a channel's state.
type Action string

const (
	Grant    Action = "grant"    // a clear affirmative act of the customer
	Confirm  Action = "confirm"  // the customer confirmed a pending e-mail consent (double opt-in)
	Withdraw Action = "withdraw" // GDPR Art. 7(3), or an objection under Art. 21
	Expire   Action = "expire"   // a pending consent was never confirmed
	// Erase marks the customer's erasure (GDPR Art. 17): the channel is
	// closed for good, and the event is the pseudonymous trace that the
	// erasure happened.
	Erase Action = "erase"
	// Use records one advertising use of a granted channel. For phone it
	// is what §7a UWG asks: the consent's proof is kept five years from
	// the grant and from each use.
	Use Action = "use"
	// Unblock records that a fresh explicit consent of the customer lifted
	// the block an earlier objection or erasure left on this contact
	// (§35(3) BDSG); a grant follows it in the same transaction.
	Unblock Action = "unblock"
	// Close ends a consent because its address or number was changed: it
	// covered the old contact, not the new one, which needs a fresh grant.
	// It is no objection of the customer's, so nothing is blocked.
	Close Action = "close"
	// Merge records that a store's database joined the chain and its
	// customer was merged into one the chain knew (same e-mail or mobile):
	// the two consent histories stand side by side from here.
	// It concerns the customer, not a channel (Channel ""), and changes
	// no channel's state.
	Merge Action = "merge"
	// Decline records a cell the customer was shown and left off: at the
	// counter, on a signed paper form, or in an order sent through the
	// API. It changes no state. It tells §7(3) UWG who was asked: a
	// customer who said no to a channel and topic is never advertised to
	// on it under another basis (EDPB Guidelines 05/2020, §6: no switch
	// of the legal basis after asking).
	Decline Action = "decline"
)

func (a Action) Valid() bool {
	switch a {
	case Grant, Confirm, Withdraw, Expire, Erase, Use, Unblock, Close, Merge, Decline:
		return true
	}
	return false
}

// Source says how an event reached the ledger.
type Source string

const (
	CounterTablet  Source = "counter_tablet"
	PaperForm      Source = "paper_form"
	EmailLink      Source = "email_link"
	QRCode         Source = "qr_code"
	PreferencePage Source = "preference_page"
	PhoneRequest   Source = "phone_request"
	InPerson       Source = "in_person"
	DoubleOptIn    Source = "double_opt_in"
	API            Source = "api"
	System         Source = "system"
	ErasureRequest Source = "erasure_request" // GDPR Art. 17, recorded by staff or the API
	// FromBlockList: a new record matched the blocking list of an earlier
	// objection or erasure (§35(3) BDSG, OLG Frankfurt 6 U 54/19), so
	// the channel starts withdrawn.
	FromBlockList Source = "block_list"
	// BackOffice: staff recorded something the store did, such as an
	// advertising call (§7a UWG), on the customer page.
	BackOffice Source = "back_office"
)

func (s Source) Valid() bool {
	switch s {
	case CounterTablet, PaperForm, EmailLink, QRCode, PreferencePage, PhoneRequest, InPerson, DoubleOptIn, API, System, ErasureRequest, FromBlockList, BackOffice:
		return true
	}
	return false
}

// Actor is who made the input: the customer on the customer screen, or a
// staff member transcribing a paper form or a phone call (CJEU C-61/19:
// a box ticked by the company proves nothing).
type Actor string

const (
	ByCustomer Actor = "customer"
	ByStaff    Actor = "staff"
	BySystem   Actor = "system"
	// ByAPI is another program (the store's ERP) through the JSON API; the
	// event names its token in APIToken. It never passes for a tap of the
	// customer on the counter tablet (CJEU C-61/19, Art. 7(1)).
	ByAPI Actor = "api"
)

// LegalBasis is recorded with every event (EDPB 05/2020: no switching of
// the basis afterwards).
type LegalBasis string

const (
	BasisConsent         LegalBasis = "consent"          // GDPR Art. 6(1)(a); UWG §7(2)
	BasisExplicitConsent LegalBasis = "explicit_consent" // GDPR Art. 9(2)(a), health data
	BasisHealthCare      LegalBasis = "health_care"      // GDPR Art. 9(2)(h) with §22 BDSG
	// BasisUWG73 is advertising by e-mail to an existing customer without
	// consent (§7(3) UWG), recorded with each such mail sent.
	BasisUWG73 LegalBasis = "uwg_7_3"
	// BasisLegitimateInterest is advertising by letter without consent
	// (GDPR Art. 6(1)(f), recital 47), subject to objection (Art. 21).
	BasisLegitimateInterest LegalBasis = "legitimate_interest"
)

// OptInLevel says whether a grant needs confirming.
type OptInLevel string

const (
	SingleOptIn    OptInLevel = "single"
	ConfirmedOptIn OptInLevel = "confirmed" // double opt-in (BGH I ZR 164/09)
)

// State of one channel for one customer, derived from its events.
type State string

const (
	None      State = "none"
	Pending   State = "pending"
	Granted   State = "granted"
	Withdrawn State = "withdrawn"
)
