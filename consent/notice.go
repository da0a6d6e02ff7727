package consent

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/consentdesk/consentdesk"
)

// NoticeVersion is one published text of the privacy notice. Published
// versions never change (the table refuses it), so a consent event that
// names a version id and its hash shows exactly what the customer read.
type NoticeVersion struct {
	ID          string `json:"id"` // "de-3"
	Lang        string `json:"lang"`
	Seq         int    `json:"seq"`
	Template    string `json:"-"`
	Text        string `json:"text"`
	SHA256      string `json:"sha256"`
	PublishedAt string `json:"published_at"`
	PublishedBy int64  `json:"published_by,omitempty"`
	// StoreID is the store whose own notice this is, where each store is
	// its own controller (Controller.Franchise); 0 for the chain's.
	StoreID int64 `json:"store_id,omitempty"`
}

// storeSeqBase keeps a store's own versions apart from the chain's in
// notice_versions' one numbering per language: store 2's third version
// is number 2000003, its id "de-S2-3".
const storeSeqBase = 1_000_000

// Langs are the languages a notice is published in.
var Langs = []string{"de", "en"}

// Placeholders a notice template may use, filled from the store settings.
func placeholders(c Controller, lang string) *strings.Replacer {
	heading, dpo := dpoSection(c, lang)
	return strings.NewReplacer(
		"{dpo_heading}", heading,
		"{name}", c.Name,
		"{address}", c.Address(),
		"{email}", c.Email,
		"{phone}", c.Phone,
		"{website}", c.Website,
		"{dpo}", dpo,
		"{authority}", c.Authority,
		"{retention_letters}", strconv.Itoa(c.LetterRetention()),
		"{retention_vouchers}", strconv.Itoa(c.OrderRetention()),
		"{retention_books}", strconv.Itoa(c.BooksRetention()),
		"{retention_rx}", strconv.Itoa(c.RxRetention()),
		"{retention_rx_reason}", c.RxReason(),
	)
}

// RenderNotice fills a template of lang with the store's details, and
// {health_data} and {advertising} with the paragraphs that say what the
// store's settings make true: the Art. 9 basis of prescriptions, the
// basis of letters, topics per channel, the eye test reminder's explicit
// consent, and §7(3) UWG where the store uses it.
func RenderNotice(template, lang string, c Controller) string {
	t := strings.ReplaceAll(template, "\r\n", "\n")
	t = strings.ReplaceAll(t, "{health_data}", healthParagraph[lang][c.HealthLegalBasis()])
	ad := advertisingParagraph[lang][c.BasisOf(Post)] + " " + topicsSentence(lang, c)
	if _, ok := c.Topic(TopicEyeTest); ok {
		ad += " " + eyeTestParagraph[lang]
	}
	if c.ExistingCustomerAds {
		// §7(3) Nr. 4 UWG: told at collection that the address is used
		// for similar goods, and that the customer may object.
		ad += "\n\n" + existingCustomerParagraph[lang]
	}
	t = strings.ReplaceAll(t, "{advertising}", ad)
	t = strings.ReplaceAll(t, "{legitimate_interests}", legitimateInterests(lang, c))
	return placeholders(c, lang).Replace(t)
}

// legitimateInterests names the interests the store relies on (GDPR Art.
// 13(1)(d)): letters and §7(3) UWG only where its settings use them, and
// the security of its systems.
func legitimateInterests(lang string, c Controller) string {
	var which []string
	if c.PostOnLegitimateInterest() {
		which = append(which, map[string]string{"de": "Ihnen Werbung per Brief zu senden (siehe d)", "en": "sending you advertising by letter (see d)"}[lang])
	}
	if c.ExistingCustomerAds {
		which = append(which, map[string]string{"de": "Ihnen als Kundin oder Kunde per E-Mail Informationen zu ähnlichen eigenen Produkten zu senden (§ 7 Abs. 3 UWG, siehe d)",
			"en": "sending you, as our customer, information about similar products of our own by e-mail (§ 7(3) UWG, see d)"}[lang])
	}
	if lang == "en" {
		if len(which) == 0 {
			return "we send advertising only with your consent. We rely on legitimate interests (Art. 6(1)(f) GDPR) only for the security of our systems, such as the log of who viewed your data (Art. 32 GDPR)."
		}
		return "where we rely on legitimate interests (Art. 6(1)(f) GDPR), it is our interest in " + strings.Join(which, " and in ") + ", and in the security of our systems, such as the log of who viewed your data (Art. 32 GDPR)."
	}
	if len(which) == 0 {
		return "Werbung schicken wir Ihnen nur mit Ihrer Einwilligung. Auf berechtigte Interessen (Art. 6 Abs. 1 lit. f DSGVO) stützen wir nur die Sicherheit unserer Systeme, etwa das Protokoll, wer Ihre Daten angesehen hat (Art. 32 DSGVO)."
	}
	return "Soweit wir uns auf berechtigte Interessen stützen (Art. 6 Abs. 1 lit. f DSGVO), ist das unser Interesse, " + strings.Join(which, ", und ") + ", sowie die Sicherheit unserer Systeme, etwa das Protokoll, wer Ihre Daten angesehen hat (Art. 32 DSGVO)."
}

// topicsSentence names the topics a consent may cover (GDPR Art. 13(1)(c):
// the purposes), so that a changed list is a new notice version.
func topicsSentence(lang string, c Controller) string {
	var parts []string
	for _, t := range c.TopicList() {
		parts = append(parts, t.Name(lang)+" ("+strings.TrimSuffix(t.Description(lang), ".")+")")
	}
	if lang == "en" {
		return "The topics: " + strings.Join(parts, "; ") + "."
	}
	return "Die Themen: " + strings.Join(parts, "; ") + "."
}

// advertisingParagraph says on which basis the store advertises: every
// channel by consent per topic, or letters on legitimate interest with
// the right to object set apart (recital 47, Art. 21(4)). It never says
// that advertising comes only on the channels switched on where §7(3)
// UWG may apply; existingCustomerParagraph then says so.
var advertisingParagraph = map[string]map[LegalBasis]string{
	"de": {
		BasisConsent:            "Worüber und auf welchem Weg (Post, E-Mail, SMS, Telefon) wir Sie informieren dürfen, wählen Sie je Thema und Weg einzeln; jede Einwilligung gilt nur für ihr Thema auf ihrem Weg (Art. 6 Abs. 1 lit. a DSGVO, § 7 UWG). Die Einwilligung ist freiwillig und keine Bedingung für Ihren Auftrag. Eine E-Mail-Einwilligung bestätigen Sie zusätzlich über einen Link (Double-Opt-in). Für Kinder unter 16 entscheidet ein Elternteil oder Vormund.",
		BasisLegitimateInterest: "Worüber wir Sie per E-Mail, SMS oder Telefon informieren dürfen, wählen Sie je Thema und Weg einzeln; jede Einwilligung gilt nur für ihr Thema auf ihrem Weg (Art. 6 Abs. 1 lit. a DSGVO, § 7 UWG). Eine E-Mail-Einwilligung bestätigen Sie zusätzlich über einen Link (Double-Opt-in). Für Kinder unter 16 entscheidet ein Elternteil oder Vormund. Per Brief schicken wir Ihnen Angebote auf Grundlage unseres berechtigten Interesses an Werbung für unsere Produkte (Art. 6 Abs. 1 lit. f DSGVO, Erwägungsgrund 47), nie an Kinder unter 16.\n\nWiderspruch gegen Werbung per Brief: Sie können der Verwendung Ihrer Anschrift für Werbung per Brief jederzeit widersprechen (Art. 21 Abs. 2 und 3 DSGVO), über den QR-Code auf Ihrer Auftragsbestätigung, per E-Mail, telefonisch, per Brief oder im Geschäft. Danach schicken wir Ihnen keine Werbebriefe mehr.",
	},
	"en": {
		BasisConsent:            "You choose for each topic and each channel (post, e-mail, text message, phone) what we may tell you about; each consent covers its topic on its channel only (Art. 6(1)(a) GDPR, § 7 UWG). Consent is voluntary and never a condition of your order. You confirm an e-mail consent through a link as well (double opt-in). For children under 16 a parent or guardian decides.",
		BasisLegitimateInterest: "You choose for each topic whether we may tell you about it by e-mail, text message or phone; each consent covers its topic on its channel only (Art. 6(1)(a) GDPR, § 7 UWG). You confirm an e-mail consent through a link as well (double opt-in). For children under 16 a parent or guardian decides. By letter we send you offers on our legitimate interest in advertising our products (Art. 6(1)(f) GDPR, recital 47), never to children under 16.\n\nObjection to advertising by letter: you may object to the use of your address for advertising letters at any time (Art. 21(2) and (3) GDPR), with the QR code on your order confirmation, by e-mail, by phone, by letter or in the store. We then send you no more advertising letters.",
	},
}

// eyeTestParagraph: the eye test reminder uses the date of an eye test,
// which reveals health data (CJEU C-184/20, C-21/23); its consent is the
// explicit one of Art. 9(2)(a).
var eyeTestParagraph = map[string]string{
	"de": "Für die Sehtest-Erinnerung nutzen wir das Datum Ihres letzten Sehtests bei uns, eine Gesundheitsangabe; das tun wir nur mit Ihrer ausdrücklichen Einwilligung in diese Erinnerung (Art. 9 Abs. 2 lit. a DSGVO), die Sie wie jede andere jederzeit widerrufen können. Ein mitgebrachtes Rezept zählt dafür nicht.",
	"en": "For the eye test reminder we use the date of your last eye test with us, a health detail; we do so only with your explicit consent to this reminder (Art. 9(2)(a) GDPR), which you can withdraw at any time like any other. A prescription brought from elsewhere does not count for it.",
}

// existingCustomerParagraph: §7(3) UWG, as the law allows it.
var existingCustomerParagraph = map[string]string{
	"de": "Kundinnen und Kunden (§ 7 Abs. 3 UWG): Haben Sie uns bei einem Kauf Ihre E-Mail-Adresse gegeben, dürfen wir Ihnen an diese Adresse auch ohne Einwilligung Informationen zu ähnlichen eigenen Produkten senden, etwa die Erinnerung an die Nachbestellung Ihrer Kontaktlinsen (unser berechtigtes Interesse, Art. 6 Abs. 1 lit. f DSGVO). Das tun wir nicht zu einem Thema, zu dem wir Sie gefragt haben und Sie es nicht gewählt haben, und nie an Kinder unter 16. Sie können dem jederzeit widersprechen, ohne dass Ihnen andere als die Übermittlungskosten nach den Basistarifen entstehen: über den Link in jeder E-Mail, per E-Mail oder im Geschäft.",
	"en": "Customers (§ 7(3) UWG): if you gave us your e-mail address with a purchase, we may send you information about similar products of our own to that address without consent, such as the reminder to reorder your contact lenses (our legitimate interest, Art. 6(1)(f) GDPR). We do not do so on a topic we asked you about and you did not choose, and never to children under 16. You may object at any time, at no cost other than the transmission costs at basic rates: with the link in every e-mail, by e-mail or in the store.",
}

// healthParagraph says on which basis prescriptions are kept (GDPR Art.
// 13(1)(c)): explicit consent (Art. 9(2)(a)), withdrawable, or health
// care (Art. 9(2)(h) with §22 BDSG), which needs none. The notice must
// never name (a) where the store relies on (h). The values are never used
// for advertising; the eye test reminder uses only a date, with its own
// explicit consent (eyeTestParagraph).
var healthParagraph = map[string]map[LegalBasis]string{
	"de": {
		BasisExplicitConsent: "Ihre Refraktionswerte sind Gesundheitsdaten. Wir speichern sie nur mit Ihrer ausdrücklichen Einwilligung (Art. 9 Abs. 2 lit. a DSGVO), verschlüsselt. Die Werte selbst nutzen wir nie für Werbung; für die Sehtest-Erinnerung, wenn Sie sie wählen, nur das Datum des Sehtests (siehe d). Ohne Einwilligung fertigen wir Ihren Auftrag trotzdem an, speichern die Werte aber nicht. Sie können die Einwilligung jederzeit widerrufen; dann löschen wir die gespeicherten Werte.",
		BasisHealthCare:      "Ihre Refraktionswerte sind Gesundheitsdaten. Wir speichern sie verschlüsselt, soweit es für Ihre augenoptische Versorgung nötig ist, durch Personal, das zur Verschwiegenheit verpflichtet ist (Art. 9 Abs. 2 lit. h, Abs. 3 DSGVO in Verbindung mit § 22 Abs. 1 Nr. 1 lit. b BDSG). Dafür ist keine Einwilligung nötig. Die Werte selbst nutzen wir nie für Werbung; für die Sehtest-Erinnerung, wenn Sie sie wählen, nur das Datum des Sehtests (siehe d).",
	},
	"en": {
		BasisExplicitConsent: "Your refraction values are health data. We store them only with your explicit consent (Art. 9(2)(a) GDPR), encrypted. We never use the values themselves for advertising; for the eye test reminder, if you choose it, only the date of the eye test (see d). Without consent we still make your order, but do not store the values. You may withdraw the consent at any time; we then delete the stored values.",
		BasisHealthCare:      "Your refraction values are health data. We store them encrypted as far as your optical care needs them, handled by staff bound to secrecy (Art. 9(2)(h) and (3) GDPR with § 22(1) no. 1(b) BDSG). No consent is needed for this. We never use the values themselves for advertising; for the eye test reminder, if you choose it, only the date of the eye test (see d).",
	},
}

// TextHash is the SHA-256 of a notice text, hex-encoded.
func TextHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// ValidateTemplate checks an edited notice before it is published.
func ValidateTemplate(template string) error {
	f := consentdesk.FieldErrors{}
	switch t := strings.TrimSpace(template); {
	case len(t) < 200:
		f.Add("template", "err.notice_too_short")
	case len(t) > 100_000:
		f.Add("template", "err.too_long")
	}
	return f.Err()
}

// Publish renders template for c and stores it as the next version of
// lang, unless the current version has the same text already. It returns
// the version in force afterwards.
func Publish(ctx context.Context, tx Tx, lang, template string, c Controller, staffID int64, now string) (NoticeVersion, error) {
	return PublishIn(ctx, tx, 0, lang, template, c, staffID, now)
}

// PublishIn is Publish of a store's own notice (store 0: the chain's),
// with the store's company and address in c.
func PublishIn(ctx context.Context, tx Tx, store int64, lang, template string, c Controller, staffID int64, now string) (NoticeVersion, error) {
	if err := ValidateTemplate(template); err != nil {
		return NoticeVersion{}, err
	}
	if c.PostOnLegitimateInterest() && !strings.Contains(template, "{advertising}") {
		// A text of its own would still promise letters only with consent.
		return NoticeVersion{}, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"post_basis": "err.notice_post_basis"}}
	}
	if c.HealthLegalBasis() == BasisHealthCare && !strings.Contains(template, "{health_data}") {
		// A text of its own would still name Art. 9(2)(a) (Art. 13(1)(c)).
		return NoticeVersion{}, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"health_data_basis": "err.notice_health_basis"}}
	}
	text := RenderNotice(template, lang, c)
	cur, err := CurrentNoticeIn(ctx, tx, store, lang)
	if err == nil && cur.Text == text && cur.Template == template {
		return cur, nil
	}
	if err != nil && consentdesk.ErrorCode(err) != consentdesk.NotFound {
		return NoticeVersion{}, err
	}
	v := NoticeVersion{Lang: lang, Seq: cur.Seq + 1, Template: template, Text: text, SHA256: TextHash(text), PublishedAt: now, PublishedBy: staffID, StoreID: store}
	v.ID = fmt.Sprintf("%s-%d", lang, v.Seq)
	if store != 0 {
		if cur.ID == "" {
			v.Seq = int(store)*storeSeqBase + 1
		}
		v.ID = fmt.Sprintf("%s-S%d-%d", lang, store, v.Seq-int(store)*storeSeqBase)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO notice_versions (id, lang, seq, template, text, sha256, published_at, published_by, store_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, v.ID, v.Lang, v.Seq, v.Template, v.Text, v.SHA256, v.PublishedAt, nullID(staffID), nullID(store))
	if err != nil {
		return NoticeVersion{}, fmt.Errorf("consent: publish notice: %w", err)
	}
	return v, nil
}

// Republish renders the current template of every language again, after
// the store's details changed; only a changed text becomes a new version.
// It returns the ids of the versions it published.
func Republish(ctx context.Context, tx Tx, c Controller, staffID int64, now string) ([]string, error) {
	var published []string
	for _, lang := range Langs {
		cur, err := CurrentNotice(ctx, tx, lang)
		if err != nil {
			return nil, err
		}
		v, err := Publish(ctx, tx, lang, cur.Template, c, staffID, now)
		if err != nil {
			return nil, err
		}
		if v.ID != cur.ID {
			published = append(published, v.ID)
		}
	}
	return published, nil
}

const noticeColumns = `id, lang, seq, template, text, sha256, published_at, COALESCE(published_by, 0), COALESCE(store_id, 0)`

func scanNotice(row interface{ Scan(...any) error }) (NoticeVersion, error) {
	var v NoticeVersion
	err := row.Scan(&v.ID, &v.Lang, &v.Seq, &v.Template, &v.Text, &v.SHA256, &v.PublishedAt, &v.PublishedBy, &v.StoreID)
	if errors.Is(err, sql.ErrNoRows) {
		return NoticeVersion{}, consentdesk.Errorf(consentdesk.NotFound, "err.notice_not_found")
	}
	return v, err
}

// CurrentNotice is the chain's version in force for lang.
func CurrentNotice(ctx context.Context, q Querier, lang string) (NoticeVersion, error) {
	return CurrentNoticeIn(ctx, q, 0, lang)
}

// CurrentNoticeIn is a store's own version in force (store 0: the
// chain's).
func CurrentNoticeIn(ctx context.Context, q Querier, store int64, lang string) (NoticeVersion, error) {
	return scanNotice(q.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM notice_versions`+inForce, lang, store))
}

// inForce picks a store's newest version in a language: the one in
// force, which the notice shown and the notice an event cites
// (CurrentNoticeRefIn) must both be.
const inForce = ` WHERE lang = ? AND COALESCE(store_id, 0) = ? ORDER BY seq DESC LIMIT 1`

// NoticeRef is a notice version as an event cites it: its id and the
// SHA-256 of its text.
type NoticeRef struct{ ID, SHA256 string }

// Ref is v as an event cites it.
func (v NoticeVersion) Ref() NoticeRef { return NoticeRef{ID: v.ID, SHA256: v.SHA256} }

// CurrentNoticeRefIn is CurrentNoticeIn without the texts: a use case
// that only cites the notice in its events does not read them (the
// template and the text were 11 kB of the 47 kB a one-click withdrawal
// allocated).
func CurrentNoticeRefIn(ctx context.Context, q Querier, store int64, lang string) (NoticeRef, error) {
	var r NoticeRef
	err := q.QueryRowContext(ctx, `SELECT id, sha256 FROM notice_versions`+inForce, lang, store).Scan(&r.ID, &r.SHA256)
	if errors.Is(err, sql.ErrNoRows) {
		return NoticeRef{}, consentdesk.Errorf(consentdesk.NotFound, "err.notice_not_found")
	}
	return r, err
}

// PublishStore publishes a store's own notice in every language: the
// chain's current text, filled in with c, the store's company (Company)
// and address. It returns the ids of the versions it published.
func PublishStore(ctx context.Context, tx Tx, store int64, c Controller, staffID int64, now string) ([]string, error) {
	var published []string
	for _, lang := range Langs {
		chain, err := CurrentNotice(ctx, tx, lang)
		if err != nil {
			return nil, err
		}
		cur, _ := CurrentNoticeIn(ctx, tx, store, lang)
		v, err := PublishIn(ctx, tx, store, lang, chain.Template, c, staffID, now)
		if err != nil {
			return nil, err
		}
		if v.ID != cur.ID {
			published = append(published, v.ID)
		}
	}
	return published, nil
}

// Notice returns one version by id.
func Notice(ctx context.Context, q Querier, id string) (NoticeVersion, error) {
	// An id from a URL ("/notices/de-3") with a control character or a
	// byte that is not UTF-8 names no notice; PostgreSQL refuses such
	// text, which made it an error page instead of "not found".
	if !PlainText(id) {
		return NoticeVersion{}, consentdesk.Errorf(consentdesk.NotFound, "err.notice_not_found")
	}
	return scanNotice(q.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM notice_versions WHERE id = ?`, id))
}

// NoticesIn lists every version of lang of one store (0: the chain's),
// newest first.
func NoticesIn(ctx context.Context, q Querier, store int64, lang string) ([]NoticeVersion, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+noticeColumns+` FROM notice_versions WHERE lang = ? AND COALESCE(store_id, 0) = ? ORDER BY seq DESC`, lang, store)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []NoticeVersion
	for rows.Next() {
		v, err := scanNotice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// dpoSection is the heading and text of the notice's contact for data
// protection (Art. 13(1)(b)): the data protection officer where the store
// named one; otherwise who answers data protection questions (the
// owner or the management, at the store's address), with the reason
// there is no officer, so that the notice never prints a heading with
// nothing under it.
func dpoSection(c Controller, lang string) (string, string) {
	if strings.TrimSpace(c.DPOContact) != "" {
		return dpoText[lang][0], c.DPOContact
	}
	who := strings.TrimSpace(c.Directors)
	if who == "" {
		who = c.Name
	}
	return dpoText[lang][1], fmt.Sprintf(dpoText[lang][2], who, c.Email, c.Phone)
}

var dpoText = map[string][3]string{
	"de": {"Datenschutzbeauftragte/r", "Ansprechpartner für Datenschutz",
		"Fragen zum Datenschutz beantwortet %s, E-Mail: %s, Telefon: %s. Eine/n Datenschutzbeauftragte/n müssen wir nicht benennen (Art. 37 DSGVO, § 38 BDSG)."},
	"en": {"Data protection officer", "Contact for data protection",
		"Questions about data protection are answered by %s, e-mail: %s, phone: %s. We are not required to appoint a data protection officer (Art. 37 GDPR, § 38 BDSG)."},
}
