package pos

import "testing"

// While the public address is a local one, printed QR codes and mail
// links work nowhere but in the store: the settings page warns.
func TestLocalPublicURL(t *testing.T) {
	for raw, local := range map[string]bool{
		"http://127.0.0.1:8080": true, "http://localhost:8080": true, "http://192.168.1.20:8080": true, "http://10.0.0.5": true,
		"http://kasse.local:8080": true, "http://kasse:8080": true, "https://consent.optik-mueller.de": false, "https://203.0.113.7": false,
	} {
		if got := localURL(raw) != ""; got != local {
			t.Errorf("%s: local %v, want %v", raw, got, local)
		}
	}
}
