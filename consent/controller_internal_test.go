package consent

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
)

// The settings are read from the database every time; only the decoding
// of the same text is saved. A change is seen at once, the logo comes
// with LoadController only, and what a caller changes in the settings it
// got is not what the next caller gets.
func TestLoadSettingsDecodesEachTextOnce(t *testing.T) {
	ctx := context.Background()
	p := openPrepared(t, 2)
	if _, err := p.ExecContext(ctx, `CREATE TABLE store_settings (id INTEGER PRIMARY KEY, data TEXT NOT NULL, logo BLOB, logo_mime TEXT NOT NULL DEFAULT '')`); err != nil {
		t.Fatal(err)
	}
	save := func(c Controller, logo []byte) {
		t.Helper()
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.ExecContext(ctx, `INSERT INTO store_settings (id, data, logo, logo_mime) VALUES (1, ?, ?, 'image/png')
			ON CONFLICT (id) DO UPDATE SET data = excluded.data, logo = excluded.logo`, string(b), logo); err != nil {
			t.Fatal(err)
		}
	}
	first := DefaultController()
	first.Topics = []Topic{{Key: "eyewear", NameDE: "Brillen"}}
	save(first, []byte{1, 2, 3})

	a, err := LoadSettings(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != first.Name || len(a.Topics) != 1 || a.Topics[0].NameDE != "Brillen" || a.Logo != nil {
		t.Fatalf("settings: %+v", a)
	}
	a.Topics[0].NameDE = "geändert vom Aufrufer"
	a.Topics = append(a.Topics, Topic{Key: "x"})
	b, err := LoadSettings(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Topics) != 1 || b.Topics[0].NameDE != "Brillen" {
		t.Errorf("a caller's change reached the next caller: %+v", b.Topics)
	}
	full, err := LoadController(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if string(full.Logo) != "\x01\x02\x03" || full.LogoMIME != "image/png" || full.Name != first.Name {
		t.Errorf("LoadController: logo %v %q, name %q", full.Logo, full.LogoMIME, full.Name)
	}

	second := first
	second.Name, second.Franchise, second.DoubleOptIn = "Optik Zwei GmbH", true, !first.DoubleOptIn
	save(second, nil)
	c, err := LoadSettings(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Optik Zwei GmbH" || !c.Franchise || c.DoubleOptIn == first.DoubleOptIn {
		t.Errorf("the changed settings were not seen: %+v", c)
	}
	if _, err := p.ExecContext(ctx, `UPDATE store_settings SET data = '{"name": 5}'`); err != nil {
		t.Fatal(err)
	}
	if c, err := LoadSettings(ctx, p); err == nil {
		t.Errorf("settings that do not decode: %+v", c)
	}
}

// The decoded settings are copied to each caller: a field that refers to
// memory (a slice, a map, a pointer) would be shared between callers
// unless loadSettings copies it, as it does Topics.
func TestControllerSharesNoMemoryButTopics(t *testing.T) {
	typ := reflect.TypeFor[Controller]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		switch f.Type.Kind() {
		case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface, reflect.Chan, reflect.Func, reflect.Array, reflect.Struct:
			if f.Name != "Topics" && f.Name != "Logo" {
				t.Errorf("Controller.%s (%s): copy it in loadSettings, then add it here", f.Name, f.Type)
			}
		}
	}
	if k := reflect.TypeFor[Topic](); k.NumField() == 0 {
		t.Fatal("Topic has no fields")
	}
	for i := range reflect.TypeFor[Topic]().NumField() {
		if f := reflect.TypeFor[Topic]().Field(i); f.Type.Kind() != reflect.String {
			t.Errorf("Topic.%s is a %s: slices.Clone of Topics would share it", f.Name, f.Type)
		}
	}
}
