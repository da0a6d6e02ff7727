package orders

import (
	"context"
	"fmt"
	"time"

	"github.com/consentdesk/consentdesk/consent"
)

// Demo fills the store with invented customers and orders, so that a new
// user sees a working store. Every address is under example.org.
func (db *DB) Demo(ctx context.Context) (int, error) {
	people := []struct{ sal, first, last, city string }{
		{"Frau", "Jürgen", "Weiß", "Freiburg"}, {"Herr", "Ömer", "Yılmaz", "Lörrach"}, {"Frau", "Małgorzata", "Nowak", "Offenburg"},
		{"Herr", "Björn", "Großmann", "Emmendingen"}, {"Frau", "Änne", "Schäfer", "Breisach"}, {"Divers", "Kim", "Müller-Lüdenscheidt", "Kehl"},
	}
	now := db.Now()
	n := 0
	for i, p := range people {
		start := time.Date(now.Year(), now.Month(), now.Day()+3+i, 10+i%6, 0, 0, 0, time.Local)
		in := NewOrder{
			Customer: Customer{Salutation: p.sal, FirstName: p.first, LastName: p.last, Street: fmt.Sprintf("Hauptstraße %d", i+1), PostalCode: fmt.Sprintf("7909%d", i),
				City: p.city, Email: fmt.Sprintf("kunde%d@example.org", i+1), Mobile: fmt.Sprintf("+49 170 55501%02d", i)},
			Items: []Item{{Description: "Gleitsichtgläser, entspiegelt", Quantity: 2, UnitPriceCents: 24900, VATRatePercent: 19},
				{Description: "Fassung Titan", Quantity: 1, UnitPriceCents: 15900, VATRatePercent: 19}},
			DepositCents: 10000,
			Pickup:       &Pickup{Start: start, End: start.Add(30 * time.Minute)},
			Consent:      ConsentInput{Mode: ModeTablet, Channels: map[consent.Channel]bool{consent.Post: i%2 == 0, consent.Email: i%3 != 2, consent.SMS: i == 1}},
		}
		if i == len(people)-1 {
			in.Consent = ConsentInput{Mode: ModePaper}
		}
		if _, err := db.PlaceOrder(ctx, in); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
