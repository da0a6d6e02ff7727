package pdf

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/consent"
)

// Records is the input of the record of processing activities.
type Records struct {
	Store consent.Controller
	// MailRelay names the SMTP server mails go through (a processor under
	// Art. 28 when it is a provider's), or "" when mails stay in the store.
	MailRelay string
	// Stores are the places where the processing happens, one line each
	// ("Hauptgeschäft, Musterstraße 1, 79098 Freiburg").
	Stores      []string
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
		{"Aufsichtsbehörde", s.Authority}, {"Filialen", strings.Join(r.Stores, "; ")}}, 35)

	relay := "keine: E-Mails bleiben im Geschäft (Postausgang und .eml-Dateien)"
	if r.MailRelay != "" {
		relay = "E-Mail-Versand über " + r.MailRelay + " (Auftragsverarbeiter nach Art. 28, sofern ein Dienstleister)"
	}
	health := "ausdrückliche Einwilligung, Art. 9 Abs. 2 lit. a DSGVO"
	if s.HealthLegalBasis() == consent.BasisHealthCare {
		health = "Gesundheitsversorgung, Art. 9 Abs. 2 lit. h DSGVO mit § 22 Abs. 1 Nr. 1 lit. b BDSG"
	}
	emailBasis := "Einwilligung je Thema, Art. 6 Abs. 1 lit. a DSGVO, § 7 Abs. 2 Nr. 2 UWG"
	if s.DoubleOptIn {
		emailBasis += "; bestätigt per Double-Opt-in"
	}
	if s.ExistingCustomerAds {
		emailBasis += "; Bestandskundenwerbung für ähnliche eigene Produkte nach § 7 Abs. 3 UWG (berechtigtes Interesse, Art. 6 Abs. 1 lit. f DSGVO) mit Widerspruchshinweis, nicht nach einem Nein zu Thema und Weg und nie an Kinder unter 16"
	}
	// Post's actual basis: consent per topic, or legitimate interest
	// with the objection (recital 47, Art. 21), as the settings say.
	postBasis, postSubjects, postRetention := "Einwilligung je Thema, Art. 6 Abs. 1 lit. a DSGVO", "Kundinnen und Kunden mit Einwilligung", "bis zum Widerruf"
	if s.PostOnLegitimateInterest() {
		postBasis = "berechtigtes Interesse an Werbung für eigene Produkte, Art. 6 Abs. 1 lit. f DSGVO (Erwägungsgrund 47), mit Widerspruchsrecht nach Art. 21 Abs. 2 und 3 DSGVO; nie an Kinder unter 16; andere Themen als Angebote nur mit Einwilligung"
		postSubjects, postRetention = "Kundinnen und Kunden ab 16 ohne Widerspruch", "bis zum Widerspruch"
	}
	var topics []string
	for _, t := range s.TopicList() {
		topics = append(topics, t.Name("de"))
	}
	topicList := strings.Join(topics, ", ")
	years := s.OrderRetention()
	children := "Kundinnen und Kunden; für Kinder unter 16 entscheidet ein Elternteil oder Vormund, dessen Name und Verhältnis mit der Einwilligung gespeichert werden"
	acts := []activity{
		{"Aufträge und Abholung", "Annahme, Ausführung und Abrechnung von Aufträgen über Brillen, Gläser und Kontaktlinsen; Abholtermin und Abholmitteilung",
			"Vertrag, Art. 6 Abs. 1 lit. b DSGVO; Aufbewahrung: Art. 6 Abs. 1 lit. c mit § 147 AO, § 257 HGB",
			"Kundinnen und Kunden", "Name, Anschrift, E-Mail, Telefon, Auftragspositionen, Beträge, Abholtermin",
			relay + "; Steuerberatung und Finanzbehörden im Rahmen der Aufbewahrungspflichten",
			fmt.Sprintf("%d Jahre ab Ende des Auftragsjahres (§ 147 AO, § 257 HGB), danach automatische Löschung", years)},
		{"Brillenwerte", "Anfertigung der Brille und spätere Aufträge", health,
			"Kundinnen und Kunden", "Refraktionswerte (Sph, Cyl, Achse, Add, Prisma, PD): Gesundheitsdaten, AES-256-GCM verschlüsselt",
			"keine", fmt.Sprintf("%d Jahre ab Ende des Auftragsjahres, danach automatische Löschung", s.RxRetention())},
		{"Werbung per Post", "Informationen per Brief zu den gewählten Themen (" + topicList + ")", postBasis, postSubjects,
			"Name, Anschrift", "Druck- und Versanddienstleister nur nach Auftragsverarbeitungsvertrag", postRetention},
		{"Werbung per E-Mail", "Informationen per E-Mail zu den gewählten Themen (" + topicList + ")", emailBasis, "Kundinnen und Kunden mit Einwilligung", "Name, E-Mail-Adresse", relay, "bis zum Widerruf oder Widerspruch"},
		{"Werbung per SMS", "Informationen per SMS zu den gewählten Themen", "Einwilligung je Thema, Art. 6 Abs. 1 lit. a DSGVO, § 7 Abs. 2 Nr. 2 UWG", "Kundinnen und Kunden mit Einwilligung",
			"Name, Mobilnummer", "SMS-Dienstleister nur nach Auftragsverarbeitungsvertrag", "bis zum Widerruf"},
		{"Werbung per Telefon", "Anrufe zu den gewählten Themen", "ausdrückliche Einwilligung je Thema, Art. 6 Abs. 1 lit. a DSGVO, § 7 Abs. 2 Nr. 1 UWG",
			"Kundinnen und Kunden mit Einwilligung", "Name, Telefonnummer", "keine",
			"bis zum Widerruf; der Nachweis 5 Jahre ab Erteilung und jeder Verwendung (§ 7a UWG)"},
		{"Erinnerungen (Sehtest, Kontaktlinsen)", "Erinnerung an einen neuen Sehtest nach der eingestellten Zahl von Monaten; an die Nachbestellung von Kontaktlinsen vor dem Ende des Vorrats. Allein aus einem Datum berechnet, keine Bewertung der Person (kein Profiling im Sinne von Art. 22 DSGVO)",
			"Sehtest: Einwilligung in die Erinnerung auf dem gewählten Weg, für die Nutzung des Datums des letzten Sehtests im Geschäft ausdrücklich (Art. 9 Abs. 2 lit. a DSGVO); Kontaktlinsen: Einwilligung, per E-Mail auch § 7 Abs. 3 UWG, wo eingestellt",
			children, "Datum des letzten Sehtests im Geschäft (nicht die Werte, nicht ein mitgebrachtes Rezept); Datum und Vorrat des letzten Kontaktlinsenkaufs",
			relay, "bis zum Widerruf; jede gesendete Erinnerung als Verwendung im Nachweis"},
		{"Nachweis der Einwilligungen", "Nachweis jeder Einwilligung je Thema und Weg, jedes Widerrufs, jeder Ablehnung einer gezeigten Frage und jeder Löschung",
			"rechtliche Verpflichtung, Art. 6 Abs. 1 lit. c mit Art. 7 Abs. 1 DSGVO, § 7a UWG", children,
			"Kundennummer, Kanal, Thema, Vorgang, Zeitpunkt, Quelle, Fassung des Hinweistextes, Unterschrift (nur als Bild, ohne Schreibdynamik), bei Kindern Name und Verhältnis des Elternteils oder Vormunds",
			"Aufsichtsbehörden und Bundesnetzagentur auf Anforderung", "pseudonyme Hash-Kette dauerhaft; Unterschriften und Angaben bis zur Löschung"},
		{"Sperrliste nach Widerspruch oder Löschung", "Sicherstellen, dass nach einem Widerspruch oder einer Löschung niemand auf diesem Weg wieder beworben wird, auch nach einem erneuten Import",
			"rechtliche Verpflichtung, Art. 6 Abs. 1 lit. c mit Art. 21 Abs. 3 DSGVO; § 35 Abs. 3 BDSG", "Kundinnen und Kunden nach Widerspruch oder Löschung",
			"Hashwert der E-Mail-Adresse, Telefonnummer oder Anschrift, Kanal, Anlass und Datum", "keine", "dauerhaft, solange der Widerspruch gilt; aufgehoben nur durch eine neue ausdrückliche Einwilligung"},
		{"Register der Datenschutzverletzungen", "Dokumentation von Verletzungen des Schutzes personenbezogener Daten, ihrer Folgen und Abhilfemaßnahmen; Benachrichtigungen",
			"rechtliche Verpflichtung, Art. 6 Abs. 1 lit. c mit Art. 33 Abs. 5 DSGVO", "betroffene Kundinnen und Kunden",
			"Sachverhalt, Kategorien und Zahl der Betroffenen, Kundennummern, Zeitpunkte, Entscheidungen", "Aufsichtsbehörde (Art. 33), Betroffene (Art. 34)", "solange zur Rechenschaft nötig (Art. 5 Abs. 2 DSGVO)"},
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
