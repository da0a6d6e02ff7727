package consent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/consentdesk/consentdesk"
)

// Controller holds the store's details as the controller of personal data
// (GDPR Art. 4(7), Art. 13(1)(a)) and as the sender of business letters
// (§37a HGB, §35a GmbHG), plus the store's consent settings.
type Controller struct {
	Name        string `json:"name"` // "Optik Müller GmbH"
	Street      string `json:"street"`
	PostalCode  string `json:"postal_code"`
	City        string `json:"city"`
	Email       string `json:"email"`
	Phone       string `json:"phone"`
	Website     string `json:"website"`
	DPOContact  string `json:"dpo_contact"`           // data protection officer, Art. 13(1)(b)
	Authority   string `json:"supervisory_authority"` // Art. 13(2)(d)
	PublicURL   string `json:"public_url"`            // base of links and QR codes
	LegalForm   string `json:"legal_form"`            // §37a HGB
	Seat        string `json:"registered_seat"`
	RegCourt    string `json:"register_court"`
	RegNumber   string `json:"register_number"`
	Directors   string `json:"managing_directors"`
	VATID       string `json:"vat_id"`
	HealthBasis string `json:"health_data_basis"` // "explicit_consent" (default) or "health_care"
	DoubleOptIn bool   `json:"double_opt_in"`     // e-mail consent waits for confirmation
	// ConfirmDays is how long a pending e-mail consent waits for its
	// confirmation before it expires; 0 means DefaultConfirmDays.
	ConfirmDays int `json:"confirm_days,omitempty"`
	// ExistingCustomerAds uses §7(3) UWG: advertising for the store's own
	// similar goods to the e-mail address given with a purchase, without
	// consent, as long as the customer has not objected.
	ExistingCustomerAds bool `json:"existing_customer_ads"`
	// PostBasis is "consent" (the default: an opt-in box for letters) or
	// "legitimate_interest": letters without consent, subject to
	// objection (recital 47, Art. 21; OLG Frankfurt 6 U 54/19).
	PostBasis string `json:"post_basis,omitempty"`
	// PostBasisSince is when letters moved to legitimate interest. A
	// customer asked for a post consent before and who did not give it is
	// not written to on the new basis instead (EDPB 05/2020: no switching
	// of the legal basis afterwards); set by SaveController.
	PostBasisSince string `json:"post_basis_since,omitempty"`
	// PrivacyURL is where the store publishes its privacy notice; the
	// consent receipt names it as policyUrl.
	PrivacyURL string `json:"privacy_url,omitempty"`
	// Retention periods in years, counted from the end of the calendar
	// year of the order; 0 means the default (see RetentionYears).
	// OrderRetentionYears is for accounting vouchers (Buchungsbelege): an
	// order with a deposit, whose confirmation is the receipt.
	OrderRetentionYears int `json:"order_retention_years,omitempty"`
	// LetterRetentionYears is for commercial letters sent and received
	// (Handelsbriefe): an order confirmation without a deposit, the sent
	// order mails.
	LetterRetentionYears int `json:"letter_retention_years,omitempty"`
	// BooksRetentionYears is for books and annual statements; ConsentDesk
	// keeps none, the notice names the period.
	BooksRetentionYears int `json:"books_retention_years,omitempty"`
	RxRetentionYears    int `json:"rx_retention_years,omitempty"`
	// RxRetentionReason says why the store keeps prescriptions as long as
	// it does: no rule fixes it (practice varies from 2 to 10 years).
	RxRetentionReason string `json:"rx_retention_reason,omitempty"`
	// RenewalMonths flags a consent older than this for renewal on the
	// dashboard (EDPB 05/2020); 0, the default, means off: consent does
	// not expire with time (BGH III ZR 196/17).
	RenewalMonths int `json:"renewal_months,omitempty"`
	// LoginStaffList shows the staff's names to choose from on the
	// sign-in screen. Off, the default, asks for the name instead: the
	// screen is reachable from anywhere on the store's network, and a list
	// tells a stranger whose account to guess.
	LoginStaffList bool `json:"login_staff_list,omitempty"`
	// Topics are what a customer may hear about (consent per channel and
	// topic); empty means DefaultTopics. The notice names them.
	Topics []Topic `json:"topics,omitempty"`
	// EyeTestMonths is how long after the last measuring the eye test
	// recall is due; 0 means 24. ContactLensLeadDays is how many days
	// before the end of a contact-lens supply the reorder recall is due;
	// 0 means 7.
	EyeTestMonths       int `json:"eye_test_months,omitempty"`
	ContactLensLeadDays int `json:"contact_lens_lead_days,omitempty"`

	// Franchise makes each store of the chain its own controller, for
	// franchise groups: a store's customers, their consents,
	// orders and mails are its own and no other store sees them; each
	// store names its own company (Company) on its letterhead and in its
	// privacy notice. Changed only by SetFranchise, never by the settings
	// form (SaveController keeps it).
	Franchise bool `json:"franchise,omitempty"`

	// Set from store_settings, not part of the JSON.
	Logo     []byte `json:"-"`
	LogoMIME string `json:"-"`
	// Branch and OpeningHours are the store's, in a chain of stores: set
	// by the letterhead of a store (orders.StoreLetterhead), never saved
	// with the settings. Branch is empty where the chain has one store.
	Branch       string `json:"-"`
	OpeningHours string `json:"-"`
}

// DefaultController is the placeholder store a fresh database starts with.
func DefaultController() Controller {
	return Controller{
		Name:        "Optik Muster GmbH",
		Street:      "Musterstraße 1",
		PostalCode:  "79098",
		City:        "Freiburg im Breisgau",
		Email:       "info@optik-muster.example",
		Phone:       "+49 761 000000",
		Website:     "https://optik-muster.example",
		DPOContact:  "Datenschutzbeauftragte/r, Musterstraße 1, 79098 Freiburg, datenschutz@optik-muster.example",
		Authority:   "Der Landesbeauftragte für den Datenschutz und die Informationsfreiheit Baden-Württemberg, Lautenschlagerstraße 20, 70173 Stuttgart",
		PublicURL:   "http://127.0.0.1:8080",
		LegalForm:   "GmbH",
		Seat:        "Freiburg im Breisgau",
		RegCourt:    "Amtsgericht Freiburg",
		RegNumber:   "HRB 000000",
		Directors:   "Max Muster",
		HealthBasis: string(BasisExplicitConsent),
		DoubleOptIn: true,
	}
}

// Default retention periods.
//
// Orders: 8 years. An order with a deposit is an accounting voucher
// (Buchungsbeleg), kept 8 years under §147(1) Nr. 4, (3) AO and §257(1)
// Nr. 4, (4) HGB as amended by the Fourth Bureaucracy Relief Act (BEG IV,
// from 2025); the confirmation as a commercial letter needs only 6 years
// (§257(1) Nr. 3 HGB), so the longer period covers both.
//
// Prescriptions: 3 years. Practice varies from 2 to 10 years and no rule
// fixes it; 3 years covers the two-year warranty on the glasses (§438
// BGB) within the general limitation period (§195 BGB). A store may set
// another period and should note its reason.
const (
	DefaultOrderRetentionYears  = 8
	DefaultLetterRetentionYears = 6
	DefaultBooksRetentionYears  = 10
	DefaultRxRetentionYears     = 3
	// DefaultRxRetentionReason is the stated reason of the default.
	DefaultRxRetentionReason = "Gewährleistung auf die Brille (2 Jahre, § 438 BGB) innerhalb der regelmäßigen Verjährung (3 Jahre, § 195 BGB)"
	DefaultRenewalMonths     = 0 // off (BGH III ZR 196/17)
)

// OrderRetention is the retention of order records in years.
func (c Controller) OrderRetention() int {
	return orDefault(c.OrderRetentionYears, DefaultOrderRetentionYears)
}

// orDefault is v, or def where v is not set (0 or less).
func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// LetterRetention is the retention of commercial letters in years.
func (c Controller) LetterRetention() int {
	return orDefault(c.LetterRetentionYears, DefaultLetterRetentionYears)
}

// BooksRetention is the retention of books in years.
func (c Controller) BooksRetention() int {
	return orDefault(c.BooksRetentionYears, DefaultBooksRetentionYears)
}

// OrderRetentionFor is how long one order is kept: as an accounting
// voucher when a deposit was paid, else as a commercial letter (§147(1)
// Nr. 2, 4 AO, §257(1) Nr. 3, 4 HGB as amended by BEG IV).
func (c Controller) OrderRetentionFor(depositCents int64) int {
	if depositCents > 0 {
		return c.OrderRetention()
	}
	return c.LetterRetention()
}

// RxReason is the stated reason of the prescriptions' period.
func (c Controller) RxReason() string {
	if strings.TrimSpace(c.RxRetentionReason) == "" {
		return DefaultRxRetentionReason
	}
	return c.RxRetentionReason
}

// RxRetention is the retention of prescriptions in years.
func (c Controller) RxRetention() int {
	return orDefault(c.RxRetentionYears, DefaultRxRetentionYears)
}

// Renewal is the age in months after which a consent is due for renewal.
func (c Controller) Renewal() int {
	return orDefault(c.RenewalMonths, DefaultRenewalMonths)
}

// RenewalOn reports whether old consents are flagged for renewal.
func (c Controller) RenewalOn() bool { return c.Renewal() > 0 }

// RetainUntil is the last day a record made at t is kept for a period
// of years: periods run from the end of the calendar year (§147(4) AO,
// §257(5) HGB), so a record of 2026 with 8 years is kept until the end of
// 2034.
//
// The calendar year is the store's: an order placed at 00:30 on New Year's
// Day in Berlin is stored as 23:30 UTC of the old year, and belongs to the
// new one.
func RetainUntil(t time.Time, years int) time.Time {
	return time.Date(t.In(Berlin).Year()+years, 12, 31, 0, 0, 0, 0, time.UTC)
}

// Berlin is the stores' time zone (consentdesk.Berlin, loaded once).
var Berlin = consentdesk.Berlin

// DefaultConfirmDays is how long a double opt-in link waits by default.
const DefaultConfirmDays = 30

// ConfirmWindow is how long a pending e-mail consent waits.
func (c Controller) ConfirmWindow() int {
	if c.ConfirmDays <= 0 {
		return DefaultConfirmDays
	}
	return c.ConfirmDays
}

// MayAdvertiseByEmail tells whether a mail about one topic may go to
// this customer, from the state of that cell (e-mail, topic): with a
// confirmed (or single opt-in) consent, or under §7(3) UWG when the store
// uses it, the customer has not objected and was never asked for that
// cell. A consent still waiting for its confirmation is not enough (BGH
// I ZR 164/09).
func (c Controller) MayAdvertiseByEmail(cell ChannelState, saleAddress, child bool) bool {
	switch {
	case cell.State == Granted:
		return true
	case cell.State == Withdrawn, cell.State == Pending, cell.Expired:
		// A customer who ticked e-mail and has not confirmed has not
		// asked for advertising; §7(3) UWG does not step in for them.
		return false
	case cell.Declined:
		// Asked, and said no: no other basis after asking (EDPB
		// Guidelines 05/2020, §6).
		return false
	case child:
		// GDPR Art. 6(1)(f) "in particular where the data subject is a
		// child", recital 38: no advertising without consent to a child.
		return false
	}
	// §7(3) Nr. 1 UWG: only to the address obtained with a sale, not to
	// one added later by a correction.
	return c.ExistingCustomerAds && saleAddress
}

// CompanyLine is the footer with the mandatory details of §37a HGB. label
// translates the keys company.seat, company.court, company.directors and
// company.vat_id.
func (c Controller) CompanyLine(label func(key string) string) string {
	parts := []string{c.Name}
	if c.LegalForm != "" {
		// §37a(1) HGB, §35a GmbHG: the legal form, even where the name
		// seems to say it.
		parts = append(parts, label("company.legal_form")+": "+c.LegalForm)
	}
	if c.Seat != "" {
		parts = append(parts, label("company.seat")+": "+c.Seat)
	}
	if c.RegCourt != "" || c.RegNumber != "" {
		parts = append(parts, strings.TrimSpace(label("company.court")+": "+c.RegCourt+" "+c.RegNumber))
	}
	if c.Directors != "" {
		// A sole trader (e.K., §19(1) Nr. 1 HGB) has an owner, not
		// managing directors.
		key := "company.directors"
		if c.SoleTrader() {
			key = "company.owner"
		}
		parts = append(parts, label(key)+": "+c.Directors)
	}
	if c.VATID != "" {
		parts = append(parts, label("company.vat_id")+": "+c.VATID)
	}
	return strings.Join(parts, " · ")
}

// SoleTrader reports whether the legal form is a registered merchant
// (eingetragene/r Kaufmann/Kauffrau, "e.K.", "e.Kfm.", "e.Kfr.").
func (c Controller) SoleTrader() bool { return SoleTrader(c.LegalForm, c.Name) }

// SoleTrader says whether a company of that legal form and name is a
// sole trader (e.K., §19(1) Nr. 1 HGB), who has an owner, not managing
// directors.
func SoleTrader(legalForm, name string) bool {
	f := strings.ToLower(strings.ReplaceAll(legalForm, " ", ""))
	switch f {
	case "e.k.", "e.k", "e.kfm.", "e.kfr.", "einzelunternehmen", "eingetragenerkaufmann", "eingetragenekauffrau":
		return true
	}
	return strings.HasSuffix(strings.ToLower(strings.ReplaceAll(name, " ", "")), "e.k.")
}

// PostOnLegitimateInterest reports whether advertising letters rest on
// legitimate interest instead of consent.
func (c Controller) PostOnLegitimateInterest() bool {
	return c.PostBasis == string(BasisLegitimateInterest)
}

// BasisOf is the legal basis of marketing on a channel.
func (c Controller) BasisOf(ch Channel) LegalBasis {
	if ch == Post && c.PostOnLegitimateInterest() {
		return BasisLegitimateInterest
	}
	return BasisConsent
}

// HealthLegalBasis is the store's chosen basis for prescriptions.
func (c Controller) HealthLegalBasis() LegalBasis {
	if c.HealthBasis == string(BasisHealthCare) {
		return BasisHealthCare
	}
	return BasisExplicitConsent
}

// Address is the one-line postal address.
func (c Controller) Address() string {
	return strings.TrimSpace(c.Street + ", " + strings.TrimSpace(c.PostalCode+" "+c.City))
}

// Validate checks the settings a manager entered.
func (c Controller) Validate() error {
	f := consentdesk.FieldErrors{}
	if strings.TrimSpace(c.Name) == "" {
		f.Add("name", "err.required")
	}
	if strings.TrimSpace(c.Street) == "" {
		f.Add("street", "err.required")
	}
	if strings.TrimSpace(c.City) == "" {
		f.Add("city", "err.required")
	}
	if a, err := mail.ParseAddress(c.Email); err != nil || a.Address != c.Email {
		f.Add("email", "err.email_invalid")
	}
	for field, v := range map[string]string{"public_url": c.PublicURL, "website": c.Website} {
		if v == "" && field == "website" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			f.Add(field, "err.url_invalid")
		}
	}
	if key := PublicURLProblem(c.PublicURL); key != "" {
		f.Add("public_url", key)
	}
	validateTopics(f, c.Topics)
	if c.EyeTestMonths < 0 || c.EyeTestMonths > 120 {
		f.Add("eye_test_months", "err.number_range")
	}
	if c.ContactLensLeadDays < 0 || c.ContactLensLeadDays > 90 {
		f.Add("contact_lens_lead_days", "err.number_range")
	}
	if c.ConfirmDays < 0 || c.ConfirmDays > 365 {
		f.Add("confirm_days", "err.confirm_days_range")
	}
	// The legal minimums (§147(3) AO, §257(4) HGB as amended by BEG IV):
	// below them the store would break the law.
	for _, r := range []struct {
		field    string
		years    int
		min, key string
	}{
		{"order_retention_years", c.OrderRetentionYears, "8", "err.retention_vouchers"},
		{"letter_retention_years", c.LetterRetentionYears, "6", "err.retention_letters"},
		{"books_retention_years", c.BooksRetentionYears, "10", "err.retention_books"},
	} {
		min, _ := strconv.Atoi(r.min)
		if r.years < 0 || r.years > 30 || (r.years > 0 && r.years < min) {
			f.Add(r.field, r.key)
		}
	}
	if len([]rune(c.RxRetentionReason)) > 300 {
		f.Add("rx_retention_reason", "err.too_long")
	}
	if c.RxRetentionYears < 0 || c.RxRetentionYears > 30 {
		f.Add("rx_retention_years", "err.years_range")
	}
	if c.RenewalMonths < 0 || c.RenewalMonths > 120 {
		f.Add("renewal_months", "err.months_range")
	}
	if c.PrivacyURL != "" {
		if u, err := url.Parse(c.PrivacyURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			f.Add("privacy_url", "err.url_invalid")
		}
	}
	if c.PostBasis != "" && c.PostBasis != string(BasisConsent) && c.PostBasis != string(BasisLegitimateInterest) {
		f.Add("post_basis", "err.choice_invalid")
	}
	if c.HealthBasis != string(BasisExplicitConsent) && c.HealthBasis != string(BasisHealthCare) {
		f.Add("health_data_basis", "err.choice_invalid")
	}
	for field, v := range map[string]string{"name": c.Name, "street": c.Street, "city": c.City, "dpo_contact": c.DPOContact,
		"supervisory_authority": c.Authority, "managing_directors": c.Directors} {
		if len(v) > 300 {
			f.Add(field, "err.too_long")
		}
	}
	return f.Err()
}

// DataProtectionContact is whom to ask about data protection: the data
// protection officer where the store named one, else the owner or the
// management (Directors) or the company, with the store's e-mail.
func (c Controller) DataProtectionContact() string {
	if d := strings.TrimSpace(c.DPOContact); d != "" {
		return d
	}
	who := strings.TrimSpace(c.Directors)
	if who == "" {
		who = c.Name
	}
	return strings.TrimSuffix(who+", "+c.Email, ", ")
}

// LoadController reads the store settings.
func LoadController(ctx context.Context, q Querier) (Controller, error) {
	var c Controller
	err := loadSettings(ctx, q, `SELECT data, logo, logo_mime FROM store_settings WHERE id = 1`, &c, &c.Logo, &c.LogoMIME)
	return c, err
}

// LoadSettings loads the store settings without the logo, for use cases
// that neither print nor mail: placing an order reads them inside the
// write transaction, where every microsecond holds up the next order.
func LoadSettings(ctx context.Context, q Querier) (Controller, error) {
	var c Controller
	err := loadSettings(ctx, q, `SELECT data FROM store_settings WHERE id = 1`, &c)
	return c, err
}

// loadSettings runs query, whose first column is the settings' JSON and
// whose others go into extra, and decodes the JSON into c.
func loadSettings(ctx context.Context, q Querier, query string, c *Controller, extra ...any) error {
	var data string
	err := q.QueryRowContext(ctx, query).Scan(append([]any{&data}, extra...)...)
	if errors.Is(err, sql.ErrNoRows) {
		*c = Controller{}
		return consentdesk.Errorf(consentdesk.NotFound, "err.store_not_set_up")
	}
	if err != nil {
		*c = Controller{}
		return fmt.Errorf("consent: load store settings: %w", err)
	}
	d := decoded.Load()
	if d == nil || d.data != data {
		d = &decodedSettings{data: data}
		if err := json.Unmarshal([]byte(data), &d.c); err != nil {
			*c = Controller{}
			return fmt.Errorf("consent: decode store settings: %w", err)
		}
		decoded.Store(d)
	}
	logo, mime := c.Logo, c.LogoMIME
	*c = d.c
	c.Topics = slices.Clone(d.c.Topics) // the caller's to change
	c.Logo, c.LogoMIME = logo, mime
	return nil
}

// decoded is the settings' JSON decoded last. The text is read from the
// database every time, so a change is seen at once; only decoding the
// same text again is saved (16 µs of a one-click withdrawal's 190, in
// the one writer, which sets the pace of a burst of unsubscribes).
var decoded atomic.Pointer[decodedSettings]

type decodedSettings struct {
	data string
	c    Controller // without Logo and LogoMIME, which are not in the JSON
}

// SaveController writes the settings (not the logo, and not whether each
// store is its own controller: SetFranchise).
func SaveController(ctx context.Context, q Querier, c Controller, now string) error {
	old, oldErr := LoadSettings(ctx, q)
	c.Franchise = oldErr == nil && old.Franchise
	return saveSettings(ctx, q, c, old, oldErr, now)
}

// SetFranchise makes each store its own controller, or the chain the one
// controller again; the caller checks that the chain's data allows it.
func SetFranchise(ctx context.Context, q Querier, on bool, now string) error {
	c, err := LoadSettings(ctx, q)
	if err != nil {
		return err
	}
	c.Franchise = on
	return saveSettings(ctx, q, c, c, nil, now)
}

func saveSettings(ctx context.Context, q Querier, c, old Controller, oldErr error, now string) error {
	if oldErr == nil && old.PostOnLegitimateInterest() && c.PostOnLegitimateInterest() {
		c.PostBasisSince = old.PostBasisSince
	} else if c.PostOnLegitimateInterest() {
		c.PostBasisSince = now
	} else {
		c.PostBasisSince = ""
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO store_settings (id, data, updated_at) VALUES (1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`, string(data), now)
	if err != nil {
		return fmt.Errorf("consent: save store settings: %w", err)
	}
	return nil
}

// SaveLogo replaces the logo; mime is image/png or image/jpeg.
func SaveLogo(ctx context.Context, q Querier, logo []byte, mime, now string) error {
	_, err := q.ExecContext(ctx, `UPDATE store_settings SET logo = ?, logo_mime = ?, updated_at = ? WHERE id = 1`, logo, mime, now)
	if err != nil {
		return fmt.Errorf("consent: save logo: %w", err)
	}
	return nil
}

// PublicURLProblem says why a public URL cannot carry the customers'
// links, "" when it can: it must be https://, unless its host is this
// machine itself (127.0.0.1, ::1, localhost), where nobody outside sees
// it. RFC 8058 wants the one-click unsubscribe over HTTPS, and Gmail and
// Yahoo ignore anything else; over http:// the preference page would
// travel unencrypted (GDPR Art. 32).
func PublicURLProblem(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "err.url_invalid"
	}
	if u.Scheme == "https" {
		return ""
	}
	host := u.Hostname()
	if host == "localhost" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return ""
	}
	return "err.public_url_http"
}

// Company is a store's own company where each store of a chain is its
// own controller (Controller.Franchise): the controller its letterhead
// and its privacy notice name (Art. 13(1)(a) GDPR, §37a HGB).
type Company struct {
	Name       string `json:"name"`
	LegalForm  string `json:"legal_form,omitempty"`
	Seat       string `json:"registered_seat,omitempty"`
	RegCourt   string `json:"register_court,omitempty"`
	RegNumber  string `json:"register_number,omitempty"`
	Directors  string `json:"managing_directors,omitempty"`
	VATID      string `json:"vat_id,omitempty"`
	DPOContact string `json:"dpo_contact,omitempty"`
	Authority  string `json:"supervisory_authority,omitempty"`
	Website    string `json:"website,omitempty"`
}

// AsCompany is the controller as a store's own company (Company): the
// company's fields of c, every one replaced, so that nothing of the
// chain's company stays on the letterhead or in the notice of a store
// that is its own controller. An empty field stays empty, except the
// supervisory authority, which a store in the same state shares.
func (c Controller) AsCompany(co Company) Controller {
	c.Name, c.LegalForm, c.Seat, c.RegCourt, c.RegNumber = co.Name, co.LegalForm, co.Seat, co.RegCourt, co.RegNumber
	c.Directors, c.VATID, c.DPOContact, c.Website = co.Directors, co.VATID, co.DPOContact, co.Website
	if co.Authority != "" {
		c.Authority = co.Authority
	}
	return c
}
