package pos_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	joining "github.com/consentdesk/consentdesk/orders/chain"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/orders/orderstest"
	"github.com/consentdesk/consentdesk/orders/store"
)

// A store that joined the chain printed QR codes and mailed links with
// its own key and customer numbers: on the chain's server they open the
// same customer's page and withdraw as they did (GDPR Art. 7(3): as easy
// to withdraw as to give), and a number the store never had opens none.
func TestJoinedStoresLinksKeepWorking(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srcPath := filepath.Join(dir, "freiburg.db")
	src, err := orders.Open(ctx, srcPath, assets.Migrations(), orders.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		t.Fatal(err)
	}
	if err := src.SetDoubleOptIn(ctx, false); err != nil {
		t.Fatal(err)
	}
	// Two customers, so that the store's number of the second is not the
	// chain's.
	var placed []orders.Placed
	// Jana is known to the chain by her e-mail address.
	for _, name := range []string{"Jana", "Petra"} {
		email := strings.ToLower(name) + "@example.org"
		if name == "Jana" {
			email = "Kette@example.org"
		}
		p, err := src.PlaceOrder(ctx, orders.NewOrder{
			Customer: orders.Customer{Salutation: "Frau", FirstName: name, LastName: "Freiburger", Email: email},
			Items:    []orders.Item{{Description: "Fassung", Quantity: 1, UnitPriceCents: 12900, VATRatePercent: 19}},
			Consent: orders.ConsentInput{Mode: orders.ModeTablet, Channels: map[consent.Channel]bool{consent.Email: true},
				SignaturePNG: mustDecodeDataURL(t, signature(t))}})
		if err != nil {
			t.Fatal(err)
		}
		placed = append(placed, p)
	}
	petra := placed[1].Customer.ID
	links := src.Keys.LinkTokens()

	// The chain has customers of its own; then the store joins.
	chainPath := filepath.Join(dir, "chain.db")
	chain, err := orderstest.Open(ctx, t, chainPath, assets.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.EnsureStore(ctx, assets.DefaultNotices()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []orders.Customer{{LastName: "Kettenkundin", Email: "kette@example.org"}, {LastName: "Zweite", Email: "zweite@example.org"}} {
		if _, err := chain.PlaceOrder(ctx, orders.NewOrder{Customer: c,
			Items:   []orders.Item{{Description: "Fassung", Quantity: 1, UnitPriceCents: 12900, VATRatePercent: 19}},
			Consent: orders.ConsentInput{Mode: orders.ModeTablet, SignaturePNG: mustDecodeDataURL(t, signature(t))}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := joining.Join(ctx, chain, src, "Freiburg", "freiburg.db"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddJoinedKeys(chain.Path+".key", srcPath+".key"); err != nil {
		t.Fatal(err)
	}
	chain.Close()

	e := newEnvIn(t, chainPath, false)
	found, err := e.db.SearchCustomers(ctx, "Petra", 10)
	if err != nil || len(found) != 1 || found[0].ID == petra {
		t.Fatalf("Petra in the chain: %+v %v", found, err)
	}
	inChain := found[0].ID
	c := e.client()
	if r := c.get("/p/" + links.Make(consent.PreferencesToken, petra)); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Petra") {
		t.Fatalf("the store's QR code on the chain's server: %d %s", r.StatusCode, r.body)
	}
	if r := c.get("/p/" + links.Make(consent.PreferencesToken, 999)); r.StatusCode != http.StatusNotFound {
		t.Fatalf("a store's token for a number it never had: %d", r.StatusCode)
	}
	if e.state(t, inChain, consent.Email) != consent.Granted {
		t.Fatal("Petra's e-mail consent did not move")
	}
	res, err := http.Post(e.srv.URL+"/u/"+links.Make(consent.UnsubscribeToken, petra), "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || e.state(t, inChain, consent.Email) != consent.Withdrawn {
		t.Fatalf("the store's one-click link on the chain's server: %d, e-mail %s", res.StatusCode, e.state(t, inChain, consent.Email))
	}
	// Jana was not touched: merged into the chain's customer, her e-mail
	// consent from the store stands; her page shows both histories and
	// the merge, in the store where each happened.
	jana, err := e.db.SearchCustomers(ctx, "Jana", 10)
	if err != nil || len(jana) != 1 || jana[0].LastName != "Kettenkundin" || e.state(t, jana[0].ID, consent.Email) != consent.Granted {
		t.Fatalf("Jana: %+v %v", jana, err)
	}
	m := e.client()
	m.signIn(e.manager, "864297")
	page := m.get("/customers/" + itoa(jana[0].ID))
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, "zusammengeführt") || !strings.Contains(page.body, "Freiburg") {
		t.Fatalf("the merged customer's page: %d\n%s", page.StatusCode, page.body)
	}
}
