package consent

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
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

	// Set from store_settings, not part of the JSON.
	Logo     []byte `json:"-"`
	LogoMIME string `json:"-"`
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
	f := FieldErrors{}
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

// LoadController reads the store settings.
func LoadController(ctx context.Context, q Querier) (Controller, error) {
	var data string
	var c Controller
	err := q.QueryRowContext(ctx, `SELECT data, COALESCE(logo, x''), logo_mime FROM store_settings WHERE id = 1`).Scan(&data, &c.Logo, &c.LogoMIME)
	if errors.Is(err, sql.ErrNoRows) {
		return Controller{}, Errorf(NotFound, "err.store_not_set_up")
	}
	if err != nil {
		return Controller{}, fmt.Errorf("consent: load store settings: %w", err)
	}
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return Controller{}, fmt.Errorf("consent: decode store settings: %w", err)
	}
	return c, nil
}

// SaveController writes the settings (not the logo).
func SaveController(ctx context.Context, q Querier, c Controller, now string) error {
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
