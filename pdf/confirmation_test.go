package pdf_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/orderstest"
	"github.com/consentdesk/consentdesk/pdf"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"golang.org/x/image/font/gofont/goregular"
)

// needTool skips when a reader is missing, unless CONSENTDESK_REQUIRE_TOOLS
// says the run must have it (CI).
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CONSENTDESK_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s is required (CONSENTDESK_REQUIRE_TOOLS is set) but not installed", name)
		}
		t.Skipf("%s not installed: apt-get install -y poppler-utils qpdf", name)
	}
}

func sig() []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 400, 120))
	for x := 30; x < 370; x++ {
		y := 60 + int(25*float64((x%60)-30)/30)
		for d := 0; d < 3; d++ {
			img.Set(x, y+d, color.NRGBA{10, 10, 60, 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func fp(v float64) *float64 { return &v }

// sample builds a confirmation from a real order in a real database.
func sample(t testing.TB, mode string, name string) pdf.Confirmation {
	return sampleIn(t, mode, name, "de")
}

func sampleIn(t testing.TB, mode, name, lang string) pdf.Confirmation {
	ctx := context.Background()
	db, err := orderstest.Open(ctx, t, filepath.Join(t.TempDir(), "pdf.db"), assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		t.Fatal(err)
	}
	staff, err := db.AddStaff(ctx, "Anna Brillmann", "4711", orders.RoleCounter, orders.HomeStore(orders.RoleCounter))
	if err != nil {
		t.Fatal(err)
	}
	// Ahead of the day the tests run: a fixed date turns into "pickup in
	// the past" the day after it, and PlaceOrder refuses the order.
	day := time.Now().In(consentdesk.Berlin).AddDate(0, 0, 4)
	start := time.Date(day.Year(), day.Month(), day.Day(), 10, 0, 0, 0, consentdesk.Berlin)
	in := orders.NewOrder{
		Customer: orders.Customer{Salutation: "Frau", FirstName: "Jürgen", LastName: name, Street: "Hauptstraße 1", PostalCode: "79098", City: "Freiburg",
			Email: "j.weiss@example.org", Mobile: "+49 170 1234567", Lang: lang},
		Items: []orders.Item{{Description: "Gleitsichtgläser „Komfort“ – entspiegelt", Quantity: 2, UnitPriceCents: 24900, VATRatePercent: 19},
			{Description: "Fassung (Titan) \\ 50% Rabatt", Quantity: 1, UnitPriceCents: 12900, VATRatePercent: 19},
			{Description: "Kontaktlinsen-Pflegemittel", Quantity: 3, UnitPriceCents: 1290, VATRatePercent: 7}},
		DepositCents: 10000,
		Pickup:       &orders.Pickup{Start: start, End: start.Add(30 * time.Minute)},
		Consent:      orders.ConsentInput{Mode: mode},
		Prescription: &orders.Prescription{Right: orders.Eye{Sph: fp(-1.25)}},
		StaffID:      staff.ID,
	}
	if mode == orders.ModeTablet {
		// Two cells, no cross product: offers by letter, the eye test
		// reminder by e-mail.
		in.Consent.Cells = map[consent.Channel][]string{consent.Post: {consent.TopicOffers}, consent.Email: {consent.TopicEyeTest}}
		in.Consent.SignaturePNG = sig()
		in.Consent.HealthData = true
	}
	placed, err := db.PlaceOrder(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	store, _ := db.Controller(ctx)
	notice, _ := db.Notice(ctx, placed.Order.NoticeVersionID)
	signature, _ := db.Signature(ctx, placed.Order.ID)
	tokens := consent.NewTokens(db.Keys.Tokens)
	c := pdf.Confirmation{Store: store, Order: placed.Order, Customer: placed.Customer, Notice: notice, Signature: signature,
		PreferencesURL: store.PublicURL + "/p/" + tokens.Make(consent.PreferencesToken, placed.Customer.ID) + "?src=qr"}
	if mode == orders.ModeTablet {
		c.Chosen, _, c.Standing = consent.OrderCells(placed.Events, placed.Order.ID, placed.Order.CreatedAt, store.TopicKeys())
		c.Health = consent.Derive(placed.Events)[consent.HealthData].State
	}
	return c
}

func render(t testing.TB, c pdf.Confirmation) []byte {
	var b bytes.Buffer
	if err := pdf.RenderConfirmation(&b, c); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func pdftotext(t *testing.T, doc []byte) string {
	needTool(t, "pdftotext")
	file := filepath.Join(t.TempDir(), "c.pdf")
	os.WriteFile(file, doc, 0o600)
	out, err := exec.Command("pdftotext", "-layout", "-enc", "UTF-8", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

func TestConfirmationReadsBack(t *testing.T) {
	t.Parallel()
	c := sample(t, orders.ModeTablet, "Weiß (Müller) \\ <b>ß</b>")
	doc := render(t, c)
	text := pdftotext(t, doc)
	flat := strings.Join(strings.Fields(text), " ")
	for _, want := range []string{
		"Auftragsbestätigung", c.Order.Number, "Optik Muster GmbH", "Musterstraße 1",
		"Weiß (Müller) \\ <b>ß</b>", // escaped as text, never interpreted
		"Gleitsichtgläser „Komfort“ – entspiegelt", "Fassung (Titan) \\ 50% Rabatt",
		"Gesamtbetrag (inkl. MwSt.)", "665,70 €", "darin enthaltene MwSt. 19 %", "Anzahlung erhalten", "100,00 €", "565,70 €",
		pickupText(c.Order.Pickup.Start), "Beraten von",
		"Einwilligung in Werbung – freiwillig", "keine Voraussetzung für Ihren Auftrag",
		// Each cell chosen, in a sentence naming its topic and channel,
		// and nothing more.
		"Post: Ich möchte von Optik Muster GmbH „Angebote und Neuheiten“ per Brief an Hauptstraße 1, 79098 Freiburg erhalten.",
		"E-Mail: Ich möchte von Optik Muster GmbH „Sehtest-Erinnerung“ per E-Mail an j.weiss@example.org erhalten.",
		"Bestätigung per E-Mail-Link ausstehend",
		// A tablet order prints what was chosen, not empty boxes a pen
		// could tick later; then what was not given.
		"Nicht erteilt: per Brief „Sehtest-Erinnerung“, „Kontaktlinsen-Nachbestellung“ und „Veranstaltungen im Geschäft“; per E-Mail „Kontaktlinsen-Nachbestellung“, „Angebote und Neuheiten“ und „Veranstaltungen im Geschäft“; per SMS „Sehtest-Erinnerung“,",
		"Brillenwerte: Ich willige ausdrücklich ein",
		"Ihr Widerspruchsrecht", "Art. 21", "§ 7 Abs. 3 UWG",
		"Am Tablet unterschrieben", "Beraten von Anna Brillmann",
		"Datenschutzhinweise", "Fassung " + c.Notice.ID, "Art. 13 DSGVO", "Beschwerderecht",
		"Registergericht: Amtsgericht Freiburg HRB 000000", "Geschäftsführung: Max Muster", "Rechtsform: GmbH",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("pdftotext lacks %q", want)
		}
	}
	// Long values wrap; compare them without the line breaks.
	joined := strings.ReplaceAll(flat, " ", "")
	if !strings.Contains(joined, c.PreferencesURL) {
		t.Errorf("printed value %s missing", c.PreferencesURL)
	}
	// The customer's copy speaks plain words: no hashes (the proof PDF
	// for an auditor keeps them), no E.164 numbers.
	for _, not := range []string{"SHA-256", c.Order.SignatureSHA256, c.Notice.SHA256, "+49170", "per SMS an"} {
		if strings.Contains(joined, strings.ReplaceAll(not, " ", "")) {
			t.Errorf("the customer's copy shows %q", not)
		}
	}
}

// The confirmation follows the customer's language: headings, items,
// the consent block and the notice: the customer's language, all the
// way.
func TestConfirmationInTheCustomersLanguage(t *testing.T) {
	t.Parallel()
	needTool(t, "pdftotext")
	c := sampleIn(t, orders.ModeTablet, "Weiss", "en")
	flat := strings.Join(strings.Fields(pdftotext(t, render(t, c))), " ")
	for _, want := range []string{"Order confirmation", "Thank you for your order", "Total (VAT included)", "Deposit received",
		"Consent to advertising – voluntary", "Post: I would like to receive “Offers and news” from Optik Muster GmbH by letter",
		"E-mail: I would like to receive “Eye test reminder” from Optik Muster GmbH by e-mail", "Not given: by letter “Eye test reminder”,",
		"Your right to object", "Privacy notice", "Version en-1", "Signed on the tablet", "Page 1/3", "Ms Jürgen Weiss"} {
		if !strings.Contains(flat, want) {
			t.Errorf("English confirmation lacks %q", want)
		}
	}
	for _, not := range []string{"Auftragsbestätigung", "Widerspruchsrecht", "Datenschutzhinweise", "Ich möchte", "Frau"} {
		if strings.Contains(flat, not) {
			t.Errorf("English confirmation shows German %q", not)
		}
	}
}

func TestConfirmationPassesQPDF(t *testing.T) {
	t.Parallel()
	needTool(t, "qpdf")
	for _, mode := range []string{orders.ModeTablet, orders.ModePaper} {
		file := filepath.Join(t.TempDir(), mode+".pdf")
		os.WriteFile(file, render(t, sample(t, mode, "Weiß")), 0o600)
		out, err := exec.Command("qpdf", "--check", file).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "No syntax or stream encoding errors") {
			t.Errorf("%s: qpdf --check: %v\n%s", mode, err, out)
		}
	}
}

func TestPaperModePrintsEmptyBoxesAndLines(t *testing.T) {
	t.Parallel()
	c := sample(t, orders.ModePaper, "Weiß")
	text := strings.Join(strings.Fields(pdftotext(t, render(t, c))), " ")
	for _, want := range []string{"Ort, Datum", "Unterschrift", "per Brief an", "per E-Mail an", "per SMS an 0170 1234567"} {
		if !strings.Contains(text, want) {
			t.Errorf("paper mode lacks %q", want)
		}
	}
	for _, not := range []string{"Am Tablet unterschrieben", "ausstehend"} {
		if strings.Contains(text, not) {
			t.Errorf("paper mode shows %q", not)
		}
	}
}

// decodeQR renders the consent page of the PDF with pdftoppm and decodes
// every QR code on it with gozxing.
func decodeQR(t *testing.T, doc []byte, page int) string {
	needTool(t, "pdftoppm")
	dir := t.TempDir()
	file := filepath.Join(dir, "c.pdf")
	os.WriteFile(file, doc, 0o600)
	// Read as a camera would, at several distances: gozxing misjudges
	// the module count of a whole page now and then (about 1 in 250 at
	// either of 150 and 300 dpi, measured), where a phone simply tries
	// again. One code in about 600 (a saved one) failed at both; it read
	// at 100 and 360 dpi, so those are the next tries.
	var res *gozxing.Result
	var decodeErr error
	for _, dpi := range []string{"150", "300", "100", "360"} {
		prefix := filepath.Join(dir, "page"+dpi)
		if out, err := exec.Command("pdftoppm", "-r", dpi, "-png", "-f", strconv.Itoa(page), "-l", strconv.Itoa(page), "-singlefile", file, prefix).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v\n%s", err, out)
		}
		f, err := os.Open(prefix + ".png")
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		if res, decodeErr = qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true}); decodeErr == nil {
			break
		}
	}
	if res == nil {
		t.Fatalf("no QR code found on page %d: %v", page, decodeErr)
	}
	return res.GetText()
}

func TestQRCodeDecodesToPrintedURL(t *testing.T) {
	t.Parallel()
	c := sample(t, orders.ModeTablet, "Weiß")
	doc := render(t, c)
	got := decodeQR(t, doc, 2)
	if got != c.PreferencesURL {
		t.Fatalf("QR decodes to %q, want %q", got, c.PreferencesURL)
	}
	if !strings.Contains(strings.ReplaceAll(pdftotext(t, doc), " ", ""), got) {
		t.Error("the decoded URL is not printed beside the code")
	}
}

func TestConcurrentRendersDoNotRace(t *testing.T) {
	t.Parallel()
	// gofpdf writes into the font bytes; run with -race.
	c := sample(t, orders.ModeTablet, "Weiß")
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			render(t, c)
		}()
	}
	wg.Wait()
}

func TestLogoAndOddCharacters(t *testing.T) {
	t.Parallel()
	c := sample(t, orders.ModeTablet, "Łukasz 😀 Nguyễn")
	img := image.NewRGBA(image.Rect(0, 0, 200, 80))
	for x := 0; x < 200; x++ {
		img.Set(x, 40, color.RGBA{0, 80, 160, 255})
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	c.Store.Logo, c.Store.LogoMIME = b.Bytes(), "image/png"
	text := pdftotext(t, render(t, c))
	if !strings.Contains(text, "Auftragsbestätigung") {
		t.Error("confirmation with a logo and characters outside the font did not render")
	}
}

// The confirmation embeds the glyphs it uses, not the whole font: the Go
// font is 149 kB, the subset a confirmation needs about 26 kB.
func TestConfirmationEmbedsAFontSubset(t *testing.T) {
	t.Parallel()
	doc := render(t, sample(t, orders.ModeTablet, "Weiß"))
	fonts := regexp.MustCompile(`/Length1 (\d+)`).FindAllSubmatch(doc, -1)
	if len(fonts) != 1 {
		t.Fatalf("%d embedded font files, want 1", len(fonts))
	}
	if n, _ := strconv.Atoi(string(fonts[0][1])); n == 0 || n > len(goregular.TTF)/4 {
		t.Errorf("the embedded font is %d bytes, the whole font %d", n, len(goregular.TTF))
	}
	if len(doc) > len(goregular.TTF)/2 {
		t.Errorf("a confirmation of %d bytes", len(doc))
	}
}

// A name whose umlaut came decomposed (u and a combining diaeresis, as a
// Mac or a copy from a file name sends it) prints as the customer writes
// it, not as "Mu?ller": the font has "ü", not the combining mark.
func TestDecomposedUmlautsPrintWhole(t *testing.T) {
	t.Parallel()
	text := pdftotext(t, render(t, sample(t, orders.ModeTablet, "Mu\u0308ller-Lu\u0308denscheid")))
	if !strings.Contains(text, "Müller-Lüdenscheid") || strings.Contains(text, "Mu?ller") {
		t.Errorf("decomposed umlauts printed as:\n%s", text)
	}
}

func BenchmarkConfirmation(b *testing.B) {
	c := sample(b, orders.ModeTablet, "Weiß")
	var buf bytes.Buffer
	var times []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		start := time.Now()
		if err := pdf.RenderConfirmation(&buf, c); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	// The target is on the median: report it beside Go's mean.
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(times[len(times)*9/10].Microseconds())/1000, "ms-p90")
	b.ReportMetric(float64(buf.Len()), "bytes/pdf")
}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(orderstest.Main(m))
}

// Art. 21(2)-(4) GDPR, §7(3) UWG: the objection is pointed out for every
// channel, not only e-mail; Art. 9(2)(h) with §22 BDSG: no "ich willige
// ausdrücklich ein" box where the store does not ask for consent.
func TestObjectionForEveryChannelAndHealthBasis_Art21_Art9(t *testing.T) {
	t.Parallel()
	needTool(t, "pdftotext")
	c := sample(t, orders.ModeTablet, "Weiß")
	text := strings.Join(strings.Fields(pdftotext(t, render(t, c))), " ")
	for _, want := range []string{"per Post, E-Mail, SMS und Telefon jederzeit widersprechen", "Art. 21 Abs. 2 und 3 DSGVO", "ich willige ausdrücklich ein"} {
		if !strings.Contains(strings.ToLower(text), strings.ToLower(want)) {
			t.Errorf("the form under (a) lacks %q", want)
		}
	}
	// An order placed under (h): the prescription is stored, no consent
	// event was asked for.
	c.Store.HealthBasis = string(consent.BasisHealthCare)
	c.Health = ""
	text = strings.Join(strings.Fields(pdftotext(t, render(t, c))), " ")
	if strings.Contains(strings.ToLower(text), "willige ausdrücklich ein") {
		t.Error("a consent box for the prescription under Art. 9(2)(h)")
	}
	if !strings.Contains(text, "Art. 9 Abs. 2 lit. h") || !strings.Contains(text, "§ 22 Abs. 1 Nr. 1 lit. b BDSG") {
		t.Errorf("the basis (h) is not stated:\n%s", text)
	}
}

// Recital 47, Art. 21(4): letters on legitimate interest print no box to
// tick, and a separate notice of the right to object.
func TestPostOnLegitimateInterestPrintsNoBox_Recital47(t *testing.T) {
	t.Parallel()
	needTool(t, "pdftotext")
	c := sample(t, orders.ModePaper, "Weiß")
	c.Store.PostBasis = string(consent.BasisLegitimateInterest)
	text := strings.Join(strings.Fields(pdftotext(t, render(t, c))), " ")
	if strings.Contains(text, "per Brief an Hauptstraße") {
		t.Error("a post box on legitimate interest")
	}
	if !strings.Contains(text, "Werbung per Brief – Ihr Widerspruchsrecht") || !strings.Contains(text, "jederzeit widersprechen (Art. 21 DSGVO)") {
		t.Error("no separate objection notice for letters")
	}
	if !strings.Contains(text, "per E-Mail an j.weiss@example.org") {
		t.Error("the other boxes went too")
	}
}

// pageText is one page of a PDF as pdftotext reads it, words joined by
// single spaces.
func pageText(t *testing.T, doc []byte, page int) string {
	needTool(t, "pdftotext")
	file := filepath.Join(t.TempDir(), "p.pdf")
	os.WriteFile(file, doc, 0o600)
	out, err := exec.Command("pdftotext", "-f", fmt.Sprint(page), "-l", fmt.Sprint(page), "-enc", "UTF-8", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// Art. 7(2) with topics: four channels and four topics, in
// paper mode as empty boxes and from the tablet as chosen, and the
// consent block is still one block on one page, signature included.
func TestConsentBlockWithTopicsFitsOnePage(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{orders.ModePaper, orders.ModeTablet} {
		c := sample(t, mode, "Weiß")
		c.Customer.Phone = "+49 761 123456"
		doc := render(t, c)
		page := pageText(t, doc, 2)
		for _, want := range []string{"Einwilligung", "Sehtest-Erinnerung", "Kontaktlinsen-Nachbestellung",
			"Angebote und Neuheiten", "Veranstaltungen im Geschäft", "Widerspruch"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: the consent page lacks %q", mode, want)
			}
		}
		if mode == orders.ModePaper {
			for _, want := range []string{"Kreuzen Sie an, worüber und auf welchem Weg", "per Brief an", "per E-Mail an", "per SMS an", "per Anruf unter", "Unterschrift"} {
				if !strings.Contains(page, want) {
					t.Errorf("paper: the consent page lacks %q", want)
				}
			}
		}
	}
}

// pickupText is how the confirmation writes the appointment the sample
// order has, four days after the day the tests run, spelled out here
// rather than by the formatter under test (found: a fixed "Donnerstag,
// 3. Dezember 2026" failed from the first minute of the next day).
func pickupText(start time.Time) string {
	start = start.In(consentdesk.Berlin)
	weekdays := []string{"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"}
	months := []string{"", "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}
	return fmt.Sprintf("%s, %d. %s %d, 10:00–10:30 Uhr", weekdays[start.Weekday()], start.Day(), months[start.Month()], start.Year())
}

// The blank sheet has one empty box per cell with a contact: every topic
// under every channel, each box beside its topic's name (Art. 7(2)).
func TestPaperFormHasABoxPerCell_Art7(t *testing.T) {
	t.Parallel()
	c := sample(t, orders.ModePaper, "Weiß")
	text := pageText(t, render(t, c), 2)
	for _, head := range []string{"Post: per Brief an Hauptstraße 1, 79098 Freiburg", "E-Mail: per E-Mail an j.weiss@example.org",
		"SMS: per SMS an 0170 1234567", "Telefon: per Anruf unter 0170 1234567"} {
		if !strings.Contains(text, head) {
			t.Errorf("the sheet lacks the channel %q", head)
		}
	}
	// Four channels, each with the four topics.
	for _, topic := range []string{"Sehtest-Erinnerung *", "Kontaktlinsen-Nachbestellung", "Angebote und Neuheiten", "Veranstaltungen im Geschäft"} {
		if n := strings.Count(text, topic); n != 4 {
			t.Errorf("%q beside %d boxes, want 4", topic, n)
		}
	}
	if !strings.Contains(text, "Ein leeres Kästchen bedeutet Nein") || !strings.Contains(text, "ausdrücklich ein, dass wir dafür das Datum Ihres letzten Sehtests bei uns nutzen") {
		t.Error("the sheet does not say what an empty box and the eye test box mean")
	}
}

// §7(3) Nr. 4 UWG: where the store advertises to customers by e-mail
// without consent, the confirmation says so at collection, with the
// right to object; a child's does not (recital 38).
func TestConfirmationTellsOfExistingCustomerAds_UWG7_3(t *testing.T) {
	t.Parallel()
	c := sample(t, orders.ModeTablet, "Weiß")
	c.Store.ExistingCustomerAds = true
	text := pageText(t, render(t, c), 2)
	if !strings.Contains(text, "Ihre E-Mail-Adresse aus diesem Kauf") || !strings.Contains(text, "jederzeit widersprechen") {
		t.Errorf("no §7(3) UWG notice on the confirmation:\n%s", text)
	}
	c.Customer.Under16 = true
	if text := pageText(t, render(t, c), 2); strings.Contains(text, "Ihre E-Mail-Adresse aus diesem Kauf") {
		t.Error("a §7(3) UWG notice for a child")
	}
}

// The record of processing (Art. 30) names what the product processes:
// post's real basis, the recalls and topics, minors and their
// representatives, the blocking list, the breach register, the stores.
func TestRecordOfProcessingNamesWhatIsProcessed_Art30(t *testing.T) {
	store := consent.DefaultController()
	store.PostBasis = string(consent.BasisLegitimateInterest)
	var b bytes.Buffer
	if err := pdf.RenderRecords(&b, pdf.Records{Store: store, Stores: []string{"Hauptgeschäft, Musterstraße 1, 79098 Freiburg", "Filiale Herdern"},
		GeneratedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "r.pdf")
	os.WriteFile(file, b.Bytes(), 0o600)
	needTool(t, "pdftotext")
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", file, "-").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(out)), " ")
	for _, want := range []string{
		"Werbung per Post", "berechtigtes Interesse an Werbung für eigene Produkte, Art. 6 Abs. 1 lit. f DSGVO (Erwägungsgrund 47)",
		"Erinnerungen (Sehtest, Kontaktlinsen)", "Sehtest-Erinnerung, Kontaktlinsen-Nachbestellung, Angebote und Neuheiten",
		"Art. 9 Abs. 2 lit. a DSGVO", "kein Profiling",
		"Kinder unter 16 entscheidet ein Elternteil oder Vormund",
		"Sperrliste nach Widerspruch oder Löschung", "Register der Datenschutzverletzungen", "Art. 33 Abs. 5",
		"Filialen", "Filiale Herdern",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the record lacks %q", want)
		}
	}
}

// The confirmation the customer reads and signs, often without the old
// glasses: no word under 9 pt, and none under 10 pt from the consent's
// heading to the privacy notice (pdftotext -bbox: a word's box is
// proportional to its type size; the customer's address, set at 10 pt,
// is the measure).
func TestConfirmationTypeIsLargeEnoughToReadAtTheCounter(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{orders.ModeTablet, orders.ModePaper} {
		words, _ := bboxWords(t, render(t, sample(t, mode, "Weiß")))
		perPoint := 0.0
		for _, w := range words {
			if w.page == 1 && w.text == "Hauptstraße" && perPoint == 0 {
				perPoint = (w.y1 - w.y0) / 10
			}
		}
		if perPoint == 0 {
			t.Fatal("the customer's address is not on the first page")
		}
		inConsent := false
		for i, w := range words {
			size := (w.y1 - w.y0) / perPoint
			if size < 8.95 {
				t.Errorf("%s: %q on page %d at %.1f pt", mode, w.text, w.page, size)
			}
			switch {
			case w.text == "Einwilligung" && i+2 < len(words) && words[i+1].text == "in" && words[i+2].text == "Werbung":
				inConsent = true
			case w.text == "Datenschutzhinweise" && words[i+1].text == "Fassung":
				inConsent = false
			}
			if inConsent && w.y0 < 270 && size < 9.95 {
				t.Errorf("%s: %q in the consent block on page %d at %.1f pt", mode, w.text, w.page, size)
			}
		}
	}
}
