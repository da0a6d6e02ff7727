package pdf

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/jung-kurt/gofpdf"
)

// Proof is the proof of consent for one customer (GDPR Art. 7(1), §7a
// UWG, BGH I ZR 164/09): which text, which version, when, how, the
// signature, and every later change, with the chain's hashes.
type Proof struct {
	Store       consent.Controller
	Customer    orders.Customer
	Events      []consent.Event
	Notices     []consent.NoticeVersion // every version an event refers to
	Documents   []orders.Document       // signatures and scans, with data
	StaffNames  map[int64]string
	OrderNumber map[int64]string
	StoreNames  map[int64]string // where each event happened
	Check       consent.Verification
	HeadSeq     int64
	HeadHash    string
	GeneratedAt time.Time
}

// label translates a catalogue key into German, the language of the
// store's printed records.
func label(key string, args ...any) string { return assets.T("de", key, args...) }

// stampText is a proof's own time format, to the second: the proof is a
// German document, and seconds order the events of one visit.
func stampText(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.In(consentdesk.Berlin).Format("02.01.2006, 15:04:05") + " Uhr"
}

func heading(p *gofpdf.Fpdf, text string) {
	if p.GetY() > 250 {
		p.AddPage()
	}
	p.Ln(3)
	setFont(p, true, 11.5)
	p.SetFillColor(240, 244, 248)
	p.CellFormat(textW, 7, clean(text), "", 1, "L", true, 0, "")
	p.Ln(1)
}

// facts prints label/value rows.
func facts(p *gofpdf.Fpdf, rows [][2]string, labelW float64) {
	for _, r := range rows {
		if r[1] == "" {
			continue
		}
		y := p.GetY()
		setFont(p, false, 8.5)
		p.SetTextColor(70, 70, 70)
		// A label longer than its column wraps inside it, never runs
		// into the value ("Brillenwerte (Gesundheitsdaten)" did).
		p.MultiCell(labelW-2, 4.3, clean(r[0]), "", "L", false)
		below := p.GetY()
		p.SetXY(marginL+labelW, y)
		p.SetTextColor(0, 0, 0)
		p.MultiCell(textW-labelW, 4.3, clean(r[1]), "", "L", false)
		p.SetY(max(p.GetY(), below, y+4.3))
	}
}

func customerName(c orders.Customer) string {
	if c.Erased() {
		return fmt.Sprintf("Kunde Nr. %d – gelöscht am %s (Art. 17 DSGVO)", c.ID, stampText(c.ErasedAt))
	}
	return strings.TrimSpace(fmt.Sprintf("%s %s (Kundennr. %d)", c.Salutation, c.Name(), c.ID))
}

// image draws a PNG or JPEG up to w×h mm; a broken image is noted, not
// fatal.
func image(p *gofpdf.Fpdf, name, mime string, data []byte, w, h float64) {
	tp := "PNG"
	if mime == "image/jpeg" {
		tp = "JPG"
	}
	if p.GetY()+h > 265 {
		p.AddPage()
	}
	info := p.RegisterImageOptionsReader(name, gofpdf.ImageOptions{ImageType: tp}, bytes.NewReader(data))
	if !p.Ok() || info == nil {
		p.ClearError()
		setFont(p, false, 8)
		p.CellFormat(textW, 5, "(Bild nicht darstellbar)", "", 1, "L", false, 0, "")
		return
	}
	iw, ih := info.Extent()
	scale := min(w/iw, h/ih)
	y := p.GetY()
	p.ImageOptions(name, marginL, y, iw*scale, ih*scale, false, gofpdf.ImageOptions{ImageType: tp}, 0, "")
	p.SetY(y + ih*scale + 2)
}

func eventRows(e consent.Event, store consent.Controller, staff, numbers, stores map[int64]string) [][2]string {
	topic := ""
	if e.Channel.Valid() {
		topic = store.TopicName("de", e.Topic)
	}
	rows := [][2]string{
		{"Zeitpunkt", stampText(e.CreatedAt)},
		{"Filiale", storeText(e.Chain(), stores)},
		{"Kanal / Zweck", label("channel." + string(e.Channel))},
		{"Thema", topic},
		{"Vorgang", label("action." + string(e.Action))},
		{"Wie", label("source."+string(e.Source)) + " · " + label("actor."+string(e.Actor))},
		{"Rechtsgrundlage", label("basis." + string(e.LegalBasis))},
	}
	if e.APIToken != "" {
		rows = append(rows, [2]string{"Programm (API-Token)", e.APIToken})
	}
	if e.RepresentativeOf != "" {
		who := label("rel." + e.RepresentativeOf)
		if e.Representative != "" {
			who = e.Representative + " (" + who + ")"
		}
		rows = append(rows, [2]string{"Für das Kind", who})
	}
	if e.OptInLevel != "" {
		rows = append(rows, [2]string{"Opt-in", label("level." + string(e.OptInLevel))})
	}
	if e.NoticeVersionID != "" {
		rows = append(rows, [2]string{"Hinweistext", e.NoticeVersionID + " · SHA-256 " + e.NoticeSHA256})
	}
	if e.StaffID != 0 {
		rows = append(rows, [2]string{"Mitarbeiter/in", fmt.Sprintf("%s (Nr. %d)", staff[e.StaffID], e.StaffID)})
	}
	if e.OrderID != 0 {
		n := numbers[e.OrderID]
		if n == "" {
			n = fmt.Sprintf("Nr. %d (gelöscht)", e.OrderID)
		}
		rows = append(rows, [2]string{"Auftrag", n})
	}
	if e.Contact != "" {
		rows = append(rows, [2]string{"Adresse / Nummer", e.Contact})
	}
	if e.Note != "" {
		rows = append(rows, [2]string{"Notiz", e.Note})
	}
	if e.EvidenceSHA256 != "" {
		rows = append(rows, [2]string{"Beleg (SHA-256)", e.EvidenceSHA256})
	}
	rows = append(rows, [2]string{"Hash", e.Hash}, [2]string{"Vorgänger", e.PrevHash})
	return rows
}

// storeText names a store with its number; the number alone where the
// proof was made without the names.
func storeText(id int64, names map[int64]string) string {
	if n := names[id]; n != "" {
		return fmt.Sprintf("%s (Nr. %d)", n, id)
	}
	return fmt.Sprintf("Nr. %d", id)
}

func chainLine(check consent.Verification, seq int64, hash string, stores map[int64]string) string {
	if check.OK && len(check.Chains) > 1 {
		// One chain per store: each store's head anchors its chain.
		heads := make([]string, len(check.Chains))
		for i, c := range check.Chains {
			heads[i] = fmt.Sprintf("Filiale %s: %d Ereignisse, Kopf Nr. %d, %s", storeText(c.Store, stores), c.Events, c.Seq, c.Hash)
		}
		return fmt.Sprintf("Hash-Ketten geprüft: intakt, %d Ereignisse in %d Ketten (eine je Filiale). %s", check.Events, len(check.Chains), strings.Join(heads, "; "))
	}
	if check.OK {
		return fmt.Sprintf("Hash-Kette geprüft: intakt, %d Ereignisse. Kopf der Kette: Nr. %d, %s", check.Events, seq, hash)
	}
	return fmt.Sprintf("Hash-Kette geprüft: GEBROCHEN bei Ereignis %d (%s). Dieser Nachweis ist nicht verlässlich.", check.Broken, check.Reason)
}

// RenderProof writes the proof of consent as a PDF.
func RenderProof(w io.Writer, pr Proof) error {
	p := newDocument(pr.Store, fmt.Sprintf("Nachweis der Einwilligung, Kunde %d", pr.Customer.ID), "de")
	p.AddPage()
	letterhead(p, pr.Store, "de")
	setFont(p, true, 16)
	p.CellFormat(textW, 9, "Nachweis der Einwilligung", "", 1, "L", false, 0, "")
	setFont(p, false, 9)
	p.MultiCell(textW, 4.5, clean("Art. 7 Abs. 1 DSGVO, § 7a UWG. Dieses Dokument zeigt jede Erklärung des Kunden zur Werbung und zu seinen "+
		"Brillenwerten: welcher Text in welcher Fassung galt, wann und auf welchem Weg sie abgegeben wurde, wer sie erfasst hat, die "+
		"Unterschrift und jede spätere Änderung. Jedes Ereignis ist mit SHA-256 an seinen Vorgänger gekettet; eine nachträgliche "+
		"Änderung fiele bei der Prüfung auf."), "", "L", false)
	p.Ln(2)
	facts(p, [][2]string{
		{"Kunde", customerName(pr.Customer)},
		{"Erstellt", consentdesk.DateTime("de", pr.GeneratedAt)},
		{"Prüfung", chainLine(pr.Check, pr.HeadSeq, pr.HeadHash, pr.StoreNames)},
	}, 30)

	// The state of each cell (channel, topic), the unit of consent: a
	// channel's one word would hide a topic that stands.
	heading(p, "Stand je Kanal und Thema")
	topics := consent.EventTopics(pr.Events, pr.Store.TopicKeys())
	byTopic := consent.DeriveTopics(pr.Events, topics)
	stateText := func(st consent.ChannelState) string {
		text := label("state." + string(st.State))
		if st.Declined && st.State == consent.None {
			text = label("state.declined")
		}
		if st.OptInLevel != "" {
			text += " · " + label("level."+string(st.OptInLevel))
		}
		if st.UpdatedAt != "" {
			text += " · seit " + stampText(st.UpdatedAt)
		}
		if st.NoticeVersion != "" {
			text += " · Hinweistext " + st.NoticeVersion
		}
		return text
	}
	for _, ch := range consent.Channels {
		for _, t := range topics {
			cell := consent.Cell{Channel: ch, Topic: t}
			facts(p, [][2]string{{pr.Store.CellLabel("de", cell, ""), stateText(byTopic[ch][t])}}, 62)
		}
	}
	facts(p, [][2]string{{label("channel.health_data"), stateText(consent.Derive(pr.Events)[consent.HealthData])}}, 62)

	heading(p, fmt.Sprintf("Alle Ereignisse (%d)", len(pr.Events)))
	if len(pr.Events) == 0 {
		setFont(p, false, 9)
		p.CellFormat(textW, 5, "Keine Erklärung erfasst.", "", 1, "L", false, 0, "")
	}
	for _, e := range pr.Events {
		if p.GetY() > 225 {
			p.AddPage()
		}
		setFont(p, true, 9.5)
		what := label("action." + string(e.Action))
		if e.Channel.Valid() {
			what = pr.Store.CellLabel("de", consent.Cell{Channel: e.Channel, Topic: e.Topic}, "") + " – " + what
		} else if e.Channel != "" {
			what = label("channel."+string(e.Channel)) + " – " + what
		}
		p.CellFormat(textW, 5.5, clean(fmt.Sprintf("Ereignis %d: %s", e.Seq, what)), "T", 1, "L", false, 0, "")
		facts(p, eventRows(e, pr.Store, pr.StaffNames, pr.OrderNumber, pr.StoreNames), 35)
		p.Ln(1.5)
	}

	var sigs, scans []orders.Document
	for _, d := range pr.Documents {
		if d.Kind == "signature" {
			sigs = append(sigs, d)
		} else {
			scans = append(scans, d)
		}
	}
	heading(p, "Unterschriften")
	if len(sigs) == 0 {
		setFont(p, false, 9)
		p.CellFormat(textW, 5, "Keine Unterschrift am Tablet gespeichert.", "", 1, "L", false, 0, "")
	}
	for _, d := range sigs {
		facts(p, [][2]string{{"Auftrag", d.OrderNumber}, {"Gespeichert", stampText(d.CreatedAt)}, {"SHA-256", d.SHA256},
			{"Prüfung", checkHash(d)}}, 30)
		image(p, fmt.Sprintf("sig%d", d.ID), d.MIME, d.Data, 80, 30)
	}
	if len(scans) > 0 {
		heading(p, "Scans unterschriebener Formulare")
		for _, d := range scans {
			facts(p, [][2]string{{"Auftrag", d.OrderNumber}, {"Gespeichert", stampText(d.CreatedAt)}, {"Art", d.MIME}, {"SHA-256", d.SHA256},
				{"Prüfung", checkHash(d)}}, 30)
			if d.MIME == "image/png" || d.MIME == "image/jpeg" {
				image(p, fmt.Sprintf("scan%d", d.ID), d.MIME, d.Data, textW, 120)
			} else {
				setFont(p, false, 8.5)
				p.MultiCell(textW, 4.3, "PDF-Scan: im Back Office und in der Datenauskunft als Datei enthalten.", "", "L", false)
			}
		}
	}

	for _, n := range pr.Notices {
		p.AddPage()
		setFont(p, true, 12)
		p.CellFormat(textW, 7, clean("Hinweistext "+n.ID), "", 1, "L", false, 0, "")
		facts(p, [][2]string{{"Veröffentlicht", stampText(n.PublishedAt)}, {"SHA-256", n.SHA256},
			{"Prüfung", map[bool]string{true: "Text stimmt mit dem Hash überein", false: "TEXT WEICHT VOM HASH AB"}[consent.TextHash(n.Text) == n.SHA256]}}, 30)
		p.Ln(2)
		setFont(p, false, 8)
		for _, para := range strings.Split(strings.TrimSpace(n.Text), "\n") {
			if strings.TrimSpace(para) == "" {
				p.Ln(1)
				continue
			}
			p.MultiCell(textW, 3.8, clean(para), "", "L", false)
		}
	}
	if err := p.Output(w); err != nil {
		return fmt.Errorf("render proof: %w", err)
	}
	return nil
}

func checkHash(d orders.Document) string {
	if orders.SHA256Hex(d.Data) == d.SHA256 {
		return "Datei stimmt mit dem Hash überein"
	}
	return "DATEI WEICHT VOM HASH AB"
}
