package pdf

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
)

func rxValue(v *float64, unit string) string {
	if v == nil {
		return "–"
	}
	return strings.Replace(fmt.Sprintf("%+.2f", *v), ".", ",", 1) + unit
}

func eyeLine(e orders.Eye) string {
	parts := []string{"Sph " + rxValue(e.Sph, ""), "Cyl " + rxValue(e.Cyl, ""), "Achse " + rxValue(e.Axis, "°"), "Add " + rxValue(e.Add, "")}
	if e.Prism != nil {
		parts = append(parts, "Prisma "+rxValue(e.Prism, "")+" Basis "+e.Base)
	}
	parts = append(parts, "PD "+rxValue(e.PD, " mm"))
	return strings.Join(parts, " · ")
}

// RenderExport writes the access export (GDPR Art. 15) as a readable PDF:
// the same content as the JSON export, for a person rather than a program.
func RenderExport(w io.Writer, store consent.Controller, x orders.Export) error {
	p := newDocument(store, fmt.Sprintf("Auskunft nach Art. 15 DSGVO, Kunde %d", x.Customer.ID), "de")
	p.AddPage()
	letterhead(p, store, "de")
	setFont(p, true, 16)
	p.CellFormat(textW, 9, "Auskunft über Ihre Daten", "", 1, "L", false, 0, "")
	setFont(p, false, 9)
	gen, err := time.Parse(time.RFC3339Nano, x.GeneratedAt)
	if err != nil {
		return fmt.Errorf("render export: the export's time %q is no time: %w", x.GeneratedAt, err)
	}
	p.MultiCell(textW, 4.5, clean(fmt.Sprintf("Art. 15 DSGVO. Stand %s. Diese Auskunft enthält alles, was %s über Sie gespeichert hat. "+
		"Dieselben Daten erhalten Sie maschinenlesbar als JSON-Datei (Art. 20 DSGVO).", consentdesk.DateTime("de", gen), store.Name)), "", "L", false)

	heading(p, "Verantwortlicher")
	facts(p, [][2]string{{"Name", x.Controller.Name}, {"Anschrift", x.Controller.Address}, {"E-Mail", x.Controller.Email},
		{"Telefon", x.Controller.Phone}, {"Datenschutz", x.Controller.DPOContact}, {"Aufsichtsbehörde", x.Controller.Authority}}, 35)

	c := x.Customer
	heading(p, "Ihre Angaben")
	if c.Erased() {
		facts(p, [][2]string{{"Kundennr.", fmt.Sprint(c.ID)}, {"Gelöscht", stampText(c.ErasedAt)}}, 35)
	} else {
		facts(p, [][2]string{{"Kundennr.", fmt.Sprint(c.ID)}, {"Anrede", c.Salutation}, {"Vorname", c.FirstName}, {"Nachname", c.LastName},
			{"Straße", c.Street}, {"PLZ, Ort", strings.TrimSpace(c.PostalCode + " " + c.City)}, {"E-Mail", c.Email}, {"Mobil", orders.NationalPhone(c.Mobile)},
			{"Telefon", orders.NationalPhone(c.Phone)}, {"Sprache", c.Lang}, {"Angelegt", stampText(c.CreatedAt)}, {"Geändert", stampText(c.UpdatedAt)}}, 35)
	}

	stores := map[int64]string{}
	for _, st := range x.Stores {
		stores[st.ID] = st.Name
	}
	heading(p, fmt.Sprintf("Aufträge (%d)", len(x.Orders)))
	for _, o := range x.Orders {
		if p.GetY() > 220 {
			p.AddPage()
		}
		setFont(p, true, 10)
		p.CellFormat(textW, 6, clean(fmt.Sprintf("Auftrag %s vom %s", o.Number, consentdesk.Date("de", o.CreatedAt))), "T", 1, "L", false, 0, "")
		rows := [][2]string{{"Status", label("order.status_" + o.Status)}, {"Filiale", storeText(o.StoreID, stores)}, {"Beraten von", o.StaffName},
			{"Einwilligung", label("order.mode_" + o.ConsentMode)}, {"Hinweistext", o.NoticeVersionID},
			{"Aufbewahrt bis", o.KeptUntil + " (" + x.Retention.OrderRule + ")"}, {"Rechnungsname", o.BillingName}, {"Rechnungsanschrift", o.BillingAddress}}
		if o.Pickup != nil {
			rows = append(rows, [2]string{"Abholtermin", consentdesk.Appointment("de", o.Pickup.Start, o.Pickup.End)})
		}
		if o.ReadyAt != "" {
			rows = append(rows, [2]string{"Abholbereit seit", stampText(o.ReadyAt)})
		}
		facts(p, rows, 35)
		itemTable(p, o.Order, "de", func(k string, a ...any) string { return assets.T("de", k, a...) })
		if rx := o.Prescription; rx != nil {
			p.Ln(1)
			facts(p, [][2]string{{"Brillenwerte", "Gesundheitsdaten (Art. 9 DSGVO), verschlüsselt gespeichert"},
				{"Rechtsgrundlage", label("basis." + string(rx.LegalBasis))}, {"Gespeichert", stampText(rx.CreatedAt)},
				{"Rechts (R)", eyeLine(rx.Values.Right)}, {"Links (L)", eyeLine(rx.Values.Left)}, {"Aufbewahrt bis", rx.KeptUntil}}, 35)
		}
		p.Ln(2)
	}

	heading(p, "Einwilligungen")
	// Each cell (channel, topic) with its own state: the unit of consent.
	for _, ch := range consent.Channels {
		for _, t := range store.TopicKeys() {
			st := x.Consents.Cells[ch][t]
			if st.State == "" {
				st.State = consent.None
			}
			text := label("state." + string(st.State))
			if st.UpdatedAt != "" {
				text += " seit " + stampText(st.UpdatedAt)
			}
			facts(p, [][2]string{{store.CellLabel("de", consent.Cell{Channel: ch, Topic: t}, ""), text}}, 62)
		}
	}
	if st := x.Consents.States[consent.HealthData]; st.State != "" {
		text := label("state." + string(st.State))
		if st.UpdatedAt != "" {
			text += " seit " + stampText(st.UpdatedAt)
		}
		facts(p, [][2]string{{label("channel.health_data"), text}}, 62)
	}
	p.Ln(1)
	for _, e := range x.Consents.Events {
		what := label("channel." + string(e.Channel))
		if e.Channel.Valid() {
			what = store.CellLabel("de", consent.Cell{Channel: e.Channel, Topic: e.Topic}, "")
		}
		line := fmt.Sprintf("%s · %s · %s · %s · Filiale %s", stampText(e.CreatedAt), what, label("action."+string(e.Action)),
			label("source."+string(e.Source)), storeText(e.Chain(), stores))
		if e.NoticeVersionID != "" {
			line += " · Hinweistext " + e.NoticeVersionID
		}
		if e.Contact != "" {
			line += " · " + e.Contact
		}
		if e.Note != "" {
			line += " · Notiz: " + e.Note
		}
		setFont(p, false, 8)
		p.MultiCell(textW, 4, clean(fmt.Sprintf("%d. %s", e.Seq, line)), "", "L", false)
	}

	heading(p, fmt.Sprintf("E-Mails (%d)", len(x.Mails)))
	for _, m := range x.Mails {
		when := m.SentAt
		if when == "" {
			when = m.CreatedAt
		}
		setFont(p, false, 8.5)
		p.MultiCell(textW, 4.3, clean(fmt.Sprintf("%s · %s · %s · %s · Filiale %s", stampText(when), label("mail.kind."+string(m.Kind)),
			label("mail.status."+string(m.Status)), m.Subject, storeText(m.StoreID, stores))), "", "L", false)
	}

	heading(p, fmt.Sprintf("Dokumente (%d)", len(x.Documents)))
	for _, d := range x.Documents {
		facts(p, [][2]string{{"Art", map[string]string{"signature": "Unterschrift", "scan": "Scan"}[d.Kind] + " (" + d.MIME + ")"},
			{"Auftrag", d.OrderNumber}, {"Gespeichert", stampText(d.CreatedAt)}, {"SHA-256", d.SHA256}}, 35)
		if d.MIME == "image/png" || d.MIME == "image/jpeg" {
			image(p, fmt.Sprintf("doc%d", d.ID), d.MIME, d.Data, 80, 40)
		}
	}

	if len(x.Changes) > 0 {
		heading(p, "Berichtigungen (Art. 16 DSGVO)")
		for _, ch := range x.Changes {
			setFont(p, false, 8.5)
			p.MultiCell(textW, 4.3, clean(fmt.Sprintf("%s · %s: „%s“ → „%s“ · %s", stampText(ch.CreatedAt), label("f."+ch.Field), ch.OldValue, ch.NewValue, ch.StaffName)), "", "L", false)
		}
	}
	heading(p, "Zugriffe auf Ihre Daten")
	for _, a := range x.AccessLog {
		who := a.StaffName
		if who == "" {
			who = "API: " + a.TokenName
		}
		setFont(p, false, 8.5)
		p.MultiCell(textW, 4.3, clean(fmt.Sprintf("%s · %s · %s · Filiale %s", stampText(a.CreatedAt), label("audit."+a.Action), who, storeText(a.StoreID, stores))), "", "L", false)
	}
	heading(p, "Speicherdauer und Ihre Rechte")
	setFont(p, false, 8.5)
	p.MultiCell(textW, 4.3, clean(fmt.Sprintf("Aufträge werden %d Jahre ab Ende des Auftragsjahres aufbewahrt (%s), Brillenwerte %d Jahre. "+
		"Einwilligungen gelten bis zu Ihrem Widerruf. Sie haben das Recht auf Auskunft, Berichtigung, Löschung, Einschränkung, "+
		"Datenübertragbarkeit und Widerspruch (Art. 15 bis 21 DSGVO), auf Widerruf Ihrer Einwilligungen mit Wirkung für die Zukunft "+
		"(Art. 7 Abs. 3 DSGVO) und auf Beschwerde bei der Aufsichtsbehörde (Art. 77 DSGVO): %s.",
		x.Retention.OrderYears, x.Retention.OrderRule, x.Retention.PrescriptionYears, x.Controller.Authority)), "", "L", false)
	if err := p.Output(w); err != nil {
		return fmt.Errorf("render export: %w", err)
	}
	return nil
}
