package send

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"image"
	"image/color"
	_ "image/jpeg" // a JPEG logo's size (logoBox)
	"image/png"
	"net/mail"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/consentdesk/consentdesk/followup"
	"github.com/consentdesk/consentdesk/orders"

	ics "github.com/arran4/golang-ical"
	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	qrcode "github.com/skip2/go-qrcode"
	gomail "github.com/wneessen/go-mail"
)

// letter is the data of the mail templates.
type letter struct {
	Kind followup.Kind
	// RecallText is a recall's message.
	RecallText     string
	Lang           string
	Subject        string
	Greeting       string
	Store          consent.Controller
	Order          orders.Order
	Marketing      bool
	PreferencesURL string
	UnsubscribeURL string // the one-click page of List-Unsubscribe
	ConfirmURL     string
	QRContentID    string
	LogoContentID  string // set when the store has a logo, an inline part too
	// LogoW and LogoH are the logo's size in the mail, within 240 × 64
	// pixels: a mail program that ignores CSS still shows it whole.
	LogoW, LogoH int
	Appointment  string
	Since        string
	Topics       string // what a double opt-in confirms, named
	ConfirmDays  int
	Because      string
	Company      string
}

// T translates a catalogue key into the mail's language.
func (l letter) T(key string, args ...any) string {
	return sentence(assets.T(l.Lang, key, args...), args)
}

// sentence drops the full stop a sentence adds after a name that ends in
// one already: "bei Optik Müller e.K.." becomes "bei Optik Müller e.K.".
func sentence(s string, args []any) string {
	for _, a := range args {
		if v, ok := a.(string); ok && strings.HasSuffix(v, ".") {
			s = strings.ReplaceAll(s, v+".", v)
		}
	}
	return s
}

// templates holds one parsed set per kind, format and language; they are
// parsed once, at start-up, from the embedded files.
type templateSet struct {
	html *htmltemplate.Template
	text *texttemplate.Template
}

var templates = parseTemplates()

func parseTemplates() map[string]templateSet {
	out := map[string]templateSet{}
	for _, lang := range []string{"de", "en"} {
		funcs := map[string]any{"money": func(c int64) string { return consentdesk.Money(lang, c) },
			// lines splits a store's opening hours for <br>: mail programs
			// do not all keep line breaks by CSS.
			"lines": func(s string) []string { return strings.Split(s, "\n") }}
		for _, k := range []followup.Kind{followup.ThankYou, followup.Pickup, followup.DoubleOptIn, followup.Recall} {
			h := htmltemplate.Must(htmltemplate.New("html").Funcs(funcs).ParseFS(assets.Mail, "mail/layout.html", "mail/"+string(k)+".html"))
			t := texttemplate.Must(texttemplate.New("text").Funcs(funcs).ParseFS(assets.Mail, "mail/layout.txt", "mail/"+string(k)+".txt"))
			out[lang+"/"+string(k)] = templateSet{html: h, text: t}
		}
	}
	return out
}

// draft is everything compose needs for one mail.
type draft struct {
	Mail followup.Mail
	To   orders.Customer
	// SaleAddress: the address was obtained with a sale (§7(3) Nr. 1
	// UWG), not added later by a correction or an import.
	SaleAddress bool
	Order       orders.Order // zero for the double opt-in mail
	Store       consent.Controller
	Since       time.Time // when the pending e-mail consent was given
	// Topics are the topics a double opt-in confirms: those pending.
	Topics  []string
	BaseURL string // public URL for links and the QR code
	Tokens  *consent.Tokens
	From    string // the SMTP account's From, overriding the store's address
	Now     time.Time
	// ExistingCustomerAd: the mail advertises on §7(3) UWG, without a
	// granted consent; its sending is recorded in the ledger.
	ExistingCustomerAd bool
	// RecallUWG73: a recall sent on §7(3) UWG (contact lenses bought
	// here), not on the customer's consent; its recording is the use
	// event SendRecalls wrote.
	RecallUWG73 bool
}

// qrContentID names the inline QR code (RFC 2392): the HTML refers to
// it as cid:settings-qr@consentdesk.
const qrContentID = "settings-qr@consentdesk"

// logoContentID names the store's logo, inline as well: a remote image
// would be a tracking pixel's twin (§25 TDDDG).
const logoContentID = "store-logo@consentdesk"

// compose renders a mail. Links carry no tracking parameters and there
// is no remote image (§25 TDDDG): the QR code is an inline part.
func compose(d draft) (*gomail.Msg, string, error) {
	lang := assets.Lang(d.To.Lang)
	set, ok := templates[lang+"/"+string(d.Mail.Kind)]
	if !ok {
		return nil, "", fmt.Errorf("followup: no template for %q", d.Mail.Kind)
	}
	base := strings.TrimRight(d.BaseURL, "/")
	prefs := d.Tokens.Make(consent.PreferencesToken, d.To.ID)
	// RFC 2369 and RFC 8058: the mail client's unsubscribe button posts to
	// /u/TOKEN; the body links to the same page, where the objection
	// notice points to it.
	unsub := base + "/u/" + d.Tokens.Make(consent.UnsubscribeToken, d.To.ID)
	if d.Mail.Kind == followup.Recall {
		// A recall's one-click withdraws that topic on e-mail only; the
		// body links to the preference page for everything else.
		unsub = base + "/u/" + d.Tokens.MakeFor(consent.UnsubscribeToken, d.To.ID, followup.TopicSubject(d.Mail.Topic))
	}
	l := letter{
		UnsubscribeURL: unsub,
		Kind:           d.Mail.Kind, Lang: lang, Store: d.Store, Order: d.Order, Marketing: d.Mail.Marketing,
		// The link in the text carries src=mail, the QR code src=qr, so that
		// the ledger records how the customer arrived.
		PreferencesURL: base + "/p/" + prefs + "?src=mail",
		QRContentID:    qrContentID,
		ConfirmDays:    d.Store.ConfirmWindow(),
		Company:        d.Store.CompanyLine(func(k string) string { return assets.T(lang, k) }),
		Because:        assets.T(lang, "mail.because.order"),
	}
	if len(d.Store.Logo) > 0 {
		l.LogoContentID = logoContentID
		l.LogoW, l.LogoH = logoBox(d.Store.Logo, 240, 64)
	}
	if l.Marketing {
		// The advertising part's basis, truly: the customer's consent to
		// offers by e-mail, or §7(3) UWG after a purchase.
		if d.ExistingCustomerAd {
			l.Because += " " + assets.T(lang, "mail.because.offer_uwg")
		} else {
			l.Because += " " + assets.T(lang, "mail.because.offer_consent", topicName(d.Store, consent.TopicOffers, lang))
		}
	}
	l.Greeting = greeting(lang, d.To)
	switch d.Mail.Kind {
	case followup.ThankYou:
		l.Subject = l.T("mail.subject.thank_you", d.Order.Number)
	case followup.Pickup:
		l.Subject = l.T("mail.subject.pickup", d.Order.Number)
	case followup.Recall:
		// The recall is the advertising itself, for the one topic the
		// customer chose; no further offers ride along.
		l.Subject = l.T("mail.subject.recall."+d.Mail.Topic, d.Store.Name)
		l.RecallText = l.T("mail.recall."+d.Mail.Topic, d.Store.Name)
		// The reason line says the true basis (§7(3) Nr. 4 UWG): the
		// customer's choice of this topic, or the purchase.
		l.Because = l.T("mail.because.recall", topicName(d.Store, d.Mail.Topic, lang))
		if d.RecallUWG73 {
			l.Because = l.T("mail.because.recall_uwg")
		}
		l.Marketing = false
	case followup.DoubleOptIn:
		l.Subject = l.T("mail.subject.double_opt_in", d.Store.Name)
		// Bound to the address it goes to: after a change it confirms nothing.
		l.ConfirmURL = base + "/c/" + d.Tokens.MakeFor(consent.ConfirmAddressToken, d.To.ID, strings.ToLower(d.To.Email))
		l.Since = consentdesk.Date(lang, d.Since)
		l.Topics = d.Store.TopicsText(lang, d.Topics)
		l.Because = l.T("mail.because.double_opt_in")
		l.Marketing = false // BGH I ZR 164/09: the confirmation request itself must not advertise
	}
	if d.Order.Pickup != nil {
		l.Appointment = consentdesk.Appointment(lang, d.Order.Pickup.Start, d.Order.Pickup.End)
	}

	var html, text bytes.Buffer
	if err := set.html.ExecuteTemplate(&html, "html", l); err != nil {
		return nil, "", fmt.Errorf("followup: render html: %w", err)
	}
	if err := set.text.ExecuteTemplate(&text, "text", l); err != nil {
		return nil, "", fmt.Errorf("followup: render text: %w", err)
	}

	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if d.From != "" {
		if err := m.From(d.From); err != nil {
			return nil, "", fmt.Errorf("followup: from: %w", err)
		}
	} else {
		m.FromMailAddress(&mail.Address{Name: d.Store.Name, Address: d.Store.Email})
	}
	m.ReplyToMailAddress(&mail.Address{Name: d.Store.Name, Address: d.Store.Email})
	m.ToMailAddress(&mail.Address{Name: d.To.Name(), Address: d.To.Email})
	m.SetGenHeaderPreformatted("Subject", subjectHeader(l.Subject))
	m.SetMessageIDWithValue(d.Mail.MessageID)
	m.SetDateWithValue(d.Now.In(consentdesk.Berlin))
	m.SetGenHeader("Content-Language", lang)
	m.SetGenHeader("Auto-Submitted", "auto-generated") // RFC 3834: no out-of-office replies
	// The mailto is the fallback for clients without HTTP.
	mailto := "mailto:" + d.Store.Email + "?subject=" + strings.ReplaceAll(l.T("mail.unsubscribe_subject"), " ", "%20")
	m.SetGenHeaderPreformatted("List-Unsubscribe", "<"+unsub+">, <"+mailto+">")
	m.SetGenHeaderPreformatted("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")

	m.SetBodyString(gomail.TypeTextPlain, text.String())
	m.AddAlternativeString(gomail.TypeTextHTML, html.String())
	qr, err := qrPNG(base + "/p/" + prefs + "?src=qr")
	if err != nil {
		return nil, "", fmt.Errorf("followup: qr: %w", err)
	}
	if err := m.EmbedReader(l.T("mail.qr.filename"), bytes.NewReader(qr), gomail.WithFileContentID("<"+qrContentID+">"),
		gomail.WithFileContentType("image/png")); err != nil {
		return nil, "", err
	}
	if l.LogoContentID != "" {
		ext := "png"
		if d.Store.LogoMIME == "image/jpeg" {
			ext = "jpg"
		}
		if err := m.EmbedReader("logo."+ext, bytes.NewReader(d.Store.Logo), gomail.WithFileContentID("<"+logoContentID+">"),
			gomail.WithFileContentType(gomail.ContentType(d.Store.LogoMIME))); err != nil {
			return nil, "", err
		}
	}
	if d.Mail.Kind != followup.DoubleOptIn && d.Order.Pickup != nil {
		cal := calendar(lang, d)
		if err := m.AttachReader(l.T("mail.ics.filename", d.Order.Number), strings.NewReader(cal),
			gomail.WithFileContentType("text/calendar; charset=utf-8; method=PUBLISH")); err != nil {
			return nil, "", err
		}
	}
	return m, l.Subject, nil
}

// calendar is the pickup appointment as RFC 5545, with CRLF line ends,
// the store's address as its location and a reminder an hour before.
func calendar(lang string, d draft) string {
	cal := ics.NewCalendarFor(d.Store.Name)
	cal.SetMethod(ics.MethodPublish)
	_, domain, _ := strings.Cut(d.Mail.MessageID, "@")
	// One UID per order's appointment: the pickup mail updates the entry
	// the thank-you mail made, so it carries a higher SEQUENCE (RFC 5545
	// §3.8.7.4); a calendar ignores an update without one.
	ev := cal.AddEvent(fmt.Sprintf("pickup-%s@%s", d.Order.Number, domain))
	ev.SetDtStampTime(d.Now)
	seq, description := 0, "mail.ics.description_booked"
	if d.Mail.Kind == followup.Pickup {
		seq, description = 1, "mail.ics.description"
	}
	ev.SetSequence(seq)
	ev.SetStartAt(d.Order.Pickup.Start)
	ev.SetEndAt(d.Order.Pickup.End)
	ev.SetSummary(assets.T(lang, "mail.ics.summary", d.Order.Number, d.Store.Name))
	ev.SetLocation(d.Store.Name + ", " + d.Store.Address())
	ev.SetDescription(assets.T(lang, description, d.Order.Number))
	if d.Store.Website != "" {
		ev.SetURL(d.Store.Website)
	}
	al := ev.AddAlarm()
	al.SetAction(ics.ActionDisplay)
	al.SetTrigger("-PT1H")
	al.SetProperty(ics.ComponentPropertyDescription, assets.T(lang, "mail.ics.reminder", d.Store.Name))
	return cal.Serialize(ics.WithNewLineWindows)
}

// qrPNG draws the code at 5 pixels per module, with the quiet zone, and
// compresses for speed: go-qrcode's own PNG spends most of a mail's
// rendering time in zlib's best compression.
func qrPNG(content string) ([]byte, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	// Drawn from the bitmap into a 1-bit paletted image row by row:
	// go-qrcode's Image sets each pixel through an interface, which costs
	// more than the rest of the mail.
	bits := q.Bitmap() // with the quiet zone
	const scale = 5
	n := len(bits) * scale
	img := image.NewPaletted(image.Rect(0, 0, n, n), color.Palette{color.White, color.Black})
	for y, row := range bits {
		line := img.Pix[y*scale*img.Stride : y*scale*img.Stride+n]
		for x, dark := range row {
			if dark {
				for i := 0; i < scale; i++ {
					line[x*scale+i] = 1
				}
			}
		}
		for i := 1; i < scale; i++ {
			copy(img.Pix[(y*scale+i)*img.Stride:], line)
		}
	}
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func greeting(lang string, r orders.Customer) string {
	return assets.Greeting(lang, r.Salutation, r.FirstName, r.LastName)
}

func topicName(c consent.Controller, key, lang string) string {
	if t, ok := c.Topic(key); ok {
		return t.Name(lang)
	}
	return key
}

// logoBox is the size of the logo scaled to fit w × h, its proportions
// kept; w × h where it cannot be read (the PNG or JPEG was checked when
// it was uploaded).
func logoBox(logo []byte, w, h int) (int, int) {
	c, _, err := image.DecodeConfig(bytes.NewReader(logo))
	if err != nil || c.Width <= 0 || c.Height <= 0 {
		return w, h
	}
	scale := min(float64(w)/float64(c.Width), float64(h)/float64(c.Height), 1)
	return max(1, int(float64(c.Width)*scale+0.5)), max(1, int(float64(c.Height)*scale+0.5))
}

// subjectHeader is the Subject's value as RFC 2047 encoded words (Q
// encoding, UTF-8), folded between words so that no line passes 76
// characters and the first word stays on the "Subject:" line: go-mail
// folded right after the colon, and Python's email package read the
// value with a leading space. Whitespace between encoded words is not
// part of the text (RFC 2047 §6.2), so the spaces go inside them as "_".
func subjectHeader(subject string) string {
	const maxLine = 76
	var b strings.Builder
	line := len("Subject: ")
	word := func(chunk string) string { return "=?UTF-8?q?" + qEncode(chunk) + "?=" }
	for rest := subject; rest != ""; {
		budget := maxLine - line
		if b.Len() > 0 {
			budget = maxLine - 1 // on a new line after the fold
		}
		// As many runes as fit the line, at least one.
		n := 0
		for i, r := range rest {
			end := i + utf8.RuneLen(r)
			if n > 0 && len(word(rest[:end])) > budget {
				break
			}
			n = end
		}
		if b.Len() > 0 {
			b.WriteString("\r\n ")
			line = 1
		}
		w := word(rest[:n])
		b.WriteString(w)
		line += len(w)
		rest = rest[n:]
	}
	return b.String()
}

// qEncode is RFC 2047's Q encoding of s: letters and digits as they are,
// a space as "_", every other byte as =XX.
func qEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '!' || c == '*' || c == '+' || c == '-' || c == '/':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('_')
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	return b.String()
}
