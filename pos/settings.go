package pos

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/gin-gonic/gin"
)

// settingsFields are the store settings' form fields, in order.
var settingsFields = []string{"name", "street", "postal_code", "city", "email", "phone", "website", "dpo_contact", "supervisory_authority",
	"public_url", "legal_form", "registered_seat", "register_court", "register_number", "managing_directors", "vat_id", "privacy_url", "rx_retention_reason"}

// settingsNumbers are whole numbers of years or months; empty means the
// default.
var settingsNumbers = []string{"letter_retention_years", "order_retention_years", "books_retention_years", "rx_retention_years", "renewal_months",
	"eye_test_months", "contact_lens_lead_days"}

type settingsView struct {
	Values      map[string]string
	Fields      []string
	HealthBasis string
	PostBasis   string
	DoubleOptIn bool
	LoginList   bool
	// Topics are the store's topics, as rows of the form (and an empty
	// one to add a topic).
	Topics      []consent.Topic
	Ads         bool
	ConfirmDays string
	HasLogo     bool
	Numbers     map[string]string
	NumberNames []string
	// LocalURL is the public address while it points at this machine or
	// the store's network: printed QR codes and mail links then work
	// nowhere else.
	LocalURL string
	// Labels are the catalogue keys of labels that depend on the
	// settings, by field: a sole trader's "Inhaber/in".
	Labels map[string]string
}

// localURL returns the public URL when its host is loopback, a private
// network address or a .local name; "" when customers can reach it.
func localURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return raw
	}
	host := u.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".local") || strings.HasSuffix(host, ".lan") || !strings.Contains(host, ".") {
		return raw
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast()) {
		return raw
	}
	return ""
}

// settingsLabels are the labels that depend on the company: a sole
// trader has an owner, not managing directors (§19(1) Nr. 1 HGB).
func settingsLabels(legalForm, name string) map[string]string {
	if consent.SoleTrader(legalForm, name) {
		return map[string]string{"managing_directors": "company.owner"}
	}
	return map[string]string{}
}

func numberValues(c consent.Controller) map[string]string {
	return map[string]string{"order_retention_years": strconv.Itoa(c.OrderRetention()), "rx_retention_years": strconv.Itoa(c.RxRetention()),
		"letter_retention_years": strconv.Itoa(c.LetterRetention()), "books_retention_years": strconv.Itoa(c.BooksRetention()),
		"renewal_months": strconv.Itoa(c.Renewal()), "eye_test_months": strconv.Itoa(c.EyeTestRecallMonths()),
		"contact_lens_lead_days": strconv.Itoa(c.ContactLensLead())}
}

func controllerValues(c consent.Controller) map[string]string {
	return map[string]string{"name": c.Name, "street": c.Street, "postal_code": c.PostalCode, "city": c.City, "email": c.Email, "phone": c.Phone,
		"website": c.Website, "dpo_contact": c.DPOContact, "supervisory_authority": c.Authority, "public_url": c.PublicURL, "legal_form": c.LegalForm,
		"registered_seat": c.Seat, "register_court": c.RegCourt, "register_number": c.RegNumber, "managing_directors": c.Directors, "vat_id": c.VATID, "privacy_url": c.PrivacyURL,
		"rx_retention_reason": c.RxReason()}
}

func (s *Server) settingsPage(c *gin.Context) {
	ctrl, err := s.db.Controller(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	flash := ""
	if c.Query("saved") == "1" {
		flash = assets.T(s.lang(c), "msg.saved")
		if p := c.Query("published"); p != "" {
			flash += " " + assets.T(s.lang(c), "s.notice_published", p)
		}
	}
	s.render(c, http.StatusOK, "settings", view{Title: assets.T(s.lang(c), "title.settings"), Flash: flash,
		Data: settingsView{Values: controllerValues(ctrl), Fields: settingsFields, HealthBasis: ctrl.HealthBasis, PostBasis: ctrl.PostBasis, DoubleOptIn: ctrl.DoubleOptIn, LoginList: ctrl.LoginStaffList, Topics: append(ctrl.TopicList(), consent.Topic{}),
			Ads: ctrl.ExistingCustomerAds, ConfirmDays: strconv.Itoa(ctrl.ConfirmWindow()), HasLogo: len(ctrl.Logo) > 0,
			Numbers: numberValues(ctrl), NumberNames: settingsNumbers, LocalURL: localURL(s.baseURL(ctrl)), Labels: settingsLabels(ctrl.LegalForm, ctrl.Name)}})
}

func (s *Server) settingsSubmit(c *gin.Context) {
	ctx := c.Request.Context()
	old, err := s.db.Controller(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	v := map[string]string{}
	for _, f := range settingsFields {
		v[f] = strings.TrimSpace(c.PostForm(f))
	}
	n := consent.Controller{Name: v["name"], Street: v["street"], PostalCode: v["postal_code"], City: v["city"], Email: v["email"], Phone: v["phone"],
		Website: v["website"], DPOContact: v["dpo_contact"], Authority: v["supervisory_authority"], PublicURL: v["public_url"], LegalForm: v["legal_form"],
		Seat: v["registered_seat"], RegCourt: v["register_court"], RegNumber: v["register_number"], Directors: v["managing_directors"], VATID: v["vat_id"],
		HealthBasis: c.PostForm("health_data_basis"), PostBasis: c.PostForm("post_basis"), DoubleOptIn: c.PostForm("double_opt_in") == "on", Logo: old.Logo, LogoMIME: old.LogoMIME,
		ExistingCustomerAds: c.PostForm("existing_customer_ads") == "on", LoginStaffList: c.PostForm("login_staff_list") == "on", PrivacyURL: v["privacy_url"], RxRetentionReason: v["rx_retention_reason"]}
	if n.Topics = topicsFromForm(c); n.Topics == nil {
		n.Topics = old.Topics // a form without the topic rows leaves them as they are
	}
	numbers := map[string]string{}
	for _, f := range settingsNumbers {
		numbers[f] = strings.TrimSpace(c.PostForm(f))
		x := 0
		if numbers[f] != "" {
			if x, err = strconv.Atoi(numbers[f]); err != nil {
				x = -1 // refused by Validate with a message
			}
		}
		switch f {
		case "order_retention_years":
			n.OrderRetentionYears = x
		case "rx_retention_years":
			n.RxRetentionYears = x
		case "letter_retention_years":
			n.LetterRetentionYears = x
		case "books_retention_years":
			n.BooksRetentionYears = x
		case "renewal_months":
			n.RenewalMonths = x
		case "eye_test_months":
			n.EyeTestMonths = x
		case "contact_lens_lead_days":
			n.ContactLensLeadDays = x
		}
	}
	days := strings.TrimSpace(c.PostForm("confirm_days"))
	if days != "" { // empty: the default
		if n.ConfirmDays, err = strconv.Atoi(days); err != nil || n.ConfirmDays == 0 {
			n.ConfirmDays = -1 // refused by Validate with a message
		}
	}
	if s.switchLang(c) {
		// Only the language changed: the form again, as typed, unsaved.
		lang := s.lang(c)
		s.render(c, http.StatusOK, "settings", view{Title: assets.T(lang, "title.settings"), LangForm: "settings-form",
			Data: settingsView{Values: v, Fields: settingsFields, HealthBasis: n.HealthBasis, PostBasis: n.PostBasis, DoubleOptIn: n.DoubleOptIn, LoginList: n.LoginStaffList, Topics: append(n.TopicList(), consent.Topic{}),
				Ads: n.ExistingCustomerAds, ConfirmDays: days, HasLogo: len(old.Logo) > 0, Numbers: numbers, NumberNames: settingsNumbers, Labels: settingsLabels(n.LegalForm, n.Name)}})
		return
	}
	published, err := s.db.SaveSettings(ctx, n, staff(c).ID)
	if err != nil {
		if consentdesk.ErrorCode(err) != consentdesk.Invalid {
			s.fail(c, err)
			return
		}
		lang := s.lang(c)
		s.render(c, http.StatusUnprocessableEntity, "settings", view{Title: assets.T(lang, "title.settings"), Flash: assets.T(lang, "err.invalid_input"),
			Errors: translateFields(lang, err), LangForm: "settings-form", Data: settingsView{Values: v, Fields: settingsFields, HealthBasis: n.HealthBasis, PostBasis: n.PostBasis, DoubleOptIn: n.DoubleOptIn, LoginList: n.LoginStaffList, Topics: append(n.TopicList(), consent.Topic{}),
				Ads: n.ExistingCustomerAds, ConfirmDays: days, HasLogo: len(old.Logo) > 0, Numbers: numbers, NumberNames: settingsNumbers, Labels: settingsLabels(n.LegalForm, n.Name)}})
		return
	}
	q := "/settings?saved=1"
	if len(published) > 0 {
		q += "&published=" + url.QueryEscape(strings.Join(published, ", "))
	}
	c.Redirect(http.StatusSeeOther, q)
}

// logoSubmit takes a PNG or JPEG, judged by its content, never by its
// name; the file name is not used at all, so no path can come from it.
func (s *Server) logoSubmit(c *gin.Context) {
	fh, err := c.FormFile("logo")
	if err != nil {
		s.fail(c, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.logo_type"})
		return
	}
	f, err := fh.Open()
	if err != nil {
		s.fail(c, err)
		return
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 2<<20+1))
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.db.SaveLogo(c.Request.Context(), b); err != nil {
		s.fail(c, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.logo_type"})
		return
	}
	c.Redirect(http.StatusSeeOther, "/settings?saved=1")
}

// topicsFromForm reads the topic rows of the settings form; a row without
// a key and name is left out (that is how a topic is removed).
func topicsFromForm(c *gin.Context) []consent.Topic {
	keys, nde, nen := c.PostFormArray("topic_key"), c.PostFormArray("topic_name_de"), c.PostFormArray("topic_name_en")
	dde, den := c.PostFormArray("topic_desc_de"), c.PostFormArray("topic_desc_en")
	at := func(list []string, i int) string {
		if i < len(list) {
			return strings.TrimSpace(list[i])
		}
		return ""
	}
	var out []consent.Topic
	for i := range keys {
		t := consent.Topic{Key: at(keys, i), NameDE: at(nde, i), NameEN: at(nen, i), DescDE: at(dde, i), DescEN: at(den, i)}
		if t == (consent.Topic{}) {
			continue
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil // no rows sent (an older form): the list stays as it is
	}
	return out
}
