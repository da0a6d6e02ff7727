package pdf

import (
	"fmt"
	"io"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
)

// Records is the input of the record of processing activities.
type Records struct {
	Store consent.Controller
	// MailRelay names the SMTP server mails go through (a processor under
	// Art. 28 when it is a provider's), or "" when mails stay in the store.
	MailRelay   string
	GeneratedAt time.Time
}

type activity struct {
	name, purpose, basis, subjects, data, recipients, retention string
}

// RenderRecords writes the record of processing activities
// (Verzeichnis von Verarbeitungstätigkeiten, GDPR Art. 30(1)), generated
// from the store settings. Art. 30(5) does not spare small stores: they
// process health data.
func RenderRecords(w io.Writer, r Records) error {
	s := r.Store
	p := newDocument(s, "Verzeichnis von Verarbeitungstätigkeiten", "de")
	p.AddPage()
	letterhead(p, s, "de")
	setFont(p, true, 16)
	p.CellFormat(textW, 9, "Verzeichnis von Verarbeitungstätigkeiten", "", 1, "L", false, 0, "")
	setFont(p, false, 9)
	p.MultiCell(textW, 4.5, clean(fmt.Sprintf("Art. 30 Abs. 1 DSGVO. Erzeugt am %s aus den Einstellungen von ConsentDesk. "+
		"Art. 30 Abs. 5 befreit nicht, weil Gesundheitsdaten (Art. 9) verarbeitet werden.", consentdesk.DateTime("de", r.GeneratedAt))), "", "L", false)

	heading(p, "Verantwortlicher (Art. 30 Abs. 1 lit. a)")
	facts(p, [][2]string{{"Name", s.Name + " " + s.LegalForm}, {"Anschrift", s.Address()}, {"Kontakt", s.Email + " · " + s.Phone},
		{"Vertreten durch", s.Directors}, {"Register", s.RegCourt + " " + s.RegNumber}, {"Datenschutz", s.DPOContact},
		{"Aufsichtsbehörde", s.Authority}}, 35)

	relay := "keine: E-Mails bleiben im Geschäft (Postausgang und .eml-Dateien)"
	if r.MailRelay != "" {
		relay = "E-Mail-Versand über " + r.MailRelay + " (Auftragsverarbeiter nach Art. 28, sofern ein Dienstleister)"
	}
	health := "ausdrückliche Einwilligung, Art. 9 Abs. 2 lit. a DSGVO"
	if s.HealthLegalBasis() == consent.BasisHealthCare {
		health = "Gesundheitsversorgung, Art. 9 Abs. 2 lit. h DSGVO mit § 22 Abs. 1 Nr. 1 lit. b BDSG"
	}
	emailBasis := "Einwilligung, Art. 6 Abs. 1 lit. a DSGVO, § 7 Abs. 2 Nr. 2 UWG"
	if s.DoubleOptIn {
		emailBasis += "; bestätigt per Double-Opt-in"
	}
	if s.ExistingCustomerAds {
		emailBasis += "; Bestandskundenwerbung nach § 7 Abs. 3 UWG mit Widerspruchshinweis"
	}
	years := s.OrderRetention()
	acts := []activity{
		{"Aufträge und Abholung", "Annahme, Ausführung und Abrechnung von Aufträgen über Brillen, Gläser und Kontaktlinsen; Abholtermin und Abholmitteilung",
			"Vertrag, Art. 6 Abs. 1 lit. b DSGVO; Aufbewahrung: Art. 6 Abs. 1 lit. c mit § 147 AO, § 257 HGB",
			"Kundinnen und Kunden", "Name, Anschrift, E-Mail, Telefon, Auftragspositionen, Beträge, Abholtermin",
			relay + "; Steuerberatung und Finanzbehörden im Rahmen der Aufbewahrungspflichten",
			fmt.Sprintf("%d Jahre ab Ende des Auftragsjahres (§ 147 AO, § 257 HGB), danach automatische Löschung", years)},
		{"Brillenwerte", "Anfertigung der Brille und spätere Aufträge", health,
			"Kundinnen und Kunden", "Refraktionswerte (Sph, Cyl, Achse, Add, Prisma, PD): Gesundheitsdaten, AES-256-GCM verschlüsselt",
			"keine", fmt.Sprintf("%d Jahre ab Ende des Auftragsjahres, danach automatische Löschung", s.RxRetention())},
		{"Werbung per Post", "Angebote und Neuigkeiten per Brief", "Einwilligung, Art. 6 Abs. 1 lit. a DSGVO", "Kundinnen und Kunden mit Einwilligung",
			"Name, Anschrift", "Druck- und Versanddienstleister nur nach Auftragsverarbeitungsvertrag", "bis zum Widerruf"},
		{"Werbung per E-Mail", "Angebote und Neuigkeiten per E-Mail", emailBasis, "Kundinnen und Kunden mit Einwilligung", "Name, E-Mail-Adresse", relay, "bis zum Widerruf oder Widerspruch"},
		{"Werbung per SMS", "Angebote per SMS", "Einwilligung, Art. 6 Abs. 1 lit. a DSGVO, § 7 Abs. 2 Nr. 2 UWG", "Kundinnen und Kunden mit Einwilligung",
			"Name, Mobilnummer", "SMS-Dienstleister nur nach Auftragsverarbeitungsvertrag", "bis zum Widerruf"},
		{"Werbung per Telefon", "Anrufe zu Angeboten", "ausdrückliche Einwilligung, Art. 6 Abs. 1 lit. a DSGVO, § 7 Abs. 2 Nr. 1 UWG",
			"Kundinnen und Kunden mit Einwilligung", "Name, Telefonnummer", "keine",
			"bis zum Widerruf; der Nachweis 5 Jahre ab Erteilung und jeder Verwendung (§ 7a UWG)"},
		{"Nachweis der Einwilligungen", "Nachweis jeder Einwilligung, jedes Widerrufs und jeder Löschung",
			"rechtliche Verpflichtung, Art. 6 Abs. 1 lit. c mit Art. 7 Abs. 1 DSGVO, § 7a UWG", "Kundinnen und Kunden",
			"Kundennummer, Kanal, Vorgang, Zeitpunkt, Quelle, Fassung des Hinweistextes, Unterschrift (nur als Bild, ohne Schreibdynamik)",
			"Aufsichtsbehörden und Bundesnetzagentur auf Anforderung", "pseudonyme Hash-Kette dauerhaft; Unterschriften und Angaben bis zur Löschung"},
		{"Mitarbeiteranmeldung und Zugriffsprotokoll", "Anmeldung, Rollen, Protokoll der Ansicht und des Exports von Kundendaten",
			"berechtigtes Interesse und Datensicherheit, Art. 6 Abs. 1 lit. f, Art. 32 DSGVO", "Mitarbeiterinnen und Mitarbeiter",
			"Name, Rolle, PIN (nur als bcrypt-Hash), Zeitpunkte", "keine", "bis zum Ausscheiden; Protokoll mit Kundennummern ohne Namen"},
	}
	for i, a := range acts {
		heading(p, fmt.Sprintf("%d. %s", i+1, a.name))
		facts(p, [][2]string{{"Zweck (lit. b)", a.purpose}, {"Rechtsgrundlage", a.basis}, {"Betroffene (lit. c)", a.subjects},
			{"Daten (lit. c)", a.data}, {"Empfänger (lit. d)", a.recipients}, {"Drittland (lit. e)", "keine Übermittlung"},
			{"Löschfrist (lit. f)", a.retention}}, 38)
	}
	heading(p, "Technische und organisatorische Maßnahmen (Art. 30 Abs. 1 lit. g, Art. 32)")
	setFont(p, false, 8.5)
	for _, m := range []string{
		"Betrieb auf einem Rechner im Geschäft; öffentliche Seiten getrennt erreichbar (--public-addr), sonst nur im Ladennetz.",
		"Anmeldung mit persönlicher PIN (bcrypt), Sperre nach 5 Fehlversuchen, Rollen Theke und Leitung, Sitzungen 12 Stunden.",
		"Schutz vor fremden Formularen (CSRF), strikte Content-Security-Policy, keine Einbettung in fremde Seiten, Ratenbegrenzung öffentlicher Seiten.",
		"Brillenwerte mit AES-256-GCM verschlüsselt; Schlüssel in einer eigenen Datei neben der Datenbank.",
		"Einwilligungen in einer nur anfügbaren, mit SHA-256 verketteten Liste; Prüfung mit \"consentdesk verify\".",
		"SQLite mit synchronous=FULL; Sicherungen mit \"consentdesk backup\"; Löschung mit secure_delete und WAL-Checkpoint.",
		"Kein Tracking in E-Mails und auf öffentlichen Seiten (§ 25 TDDDG); Protokolle ohne personenbezogene Daten, nur Nummern.",
		"Zugriffsprotokoll über Ansicht, Export und Löschung von Kundendaten.",
	} {
		p.MultiCell(textW, 4.3, clean("– "+m), "", "L", false)
	}
	if err := p.Output(w); err != nil {
		return fmt.Errorf("render records: %w", err)
	}
	return nil
}
