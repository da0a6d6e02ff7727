package pos

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/gin-gonic/gin"
	qrcode "github.com/skip2/go-qrcode"
)

// Pairing is what a tablet needs to trust the store's own CA and reach
// the counter over HTTPS on the store's network.
type Pairing struct {
	CACertPEM []byte
	// PairURLs are the plain-HTTP pairing pages (one per address of the
	// machine, and its .local name): what the QR code holds.
	PairURLs []string
	// CounterURLs are the counter's HTTPS addresses, once the CA is
	// trusted.
	CounterURLs []string
	// Name is the store's name, for the profile's title.
	Name string
	// Replaced is when the store CA was replaced lately (StoreCA.Replaced):
	// the tablets that trusted the earlier one must pair again.
	Replaced time.Time
}

// caDER is the CA certificate in DER, as iPadOS and Windows read it.
func (p *Pairing) caDER() []byte {
	b, _ := pem.Decode(p.CACertPEM)
	if b == nil {
		return nil
	}
	return b.Bytes
}

// Fingerprint is the SHA-256 of the CA certificate, in pairs, for staff
// to compare on the tablet: the download itself travels unencrypted.
func (p *Pairing) Fingerprint() string {
	sum := sha256.Sum256(p.caDER())
	var parts []string
	for _, b := range sum[:] {
		parts = append(parts, fmt.Sprintf("%02X", b))
	}
	return strings.Join(parts, ":")
}

// mobileconfig is an iPadOS/iOS configuration profile with the CA as a
// trusted root. It is unsigned ("not verified" on the tablet); the
// fingerprint on the pairing page is the check.
func (p *Pairing) mobileconfig(storeName string) []byte {
	der := p.caDER()
	sum := sha256.Sum256(der)
	uuid := func(salt byte) string {
		h := sha256.Sum256(append([]byte{salt}, sum[:]...))
		h[6] = h[6]&0x0f | 0x40 // a version 4 form, derived from the CA: the same CA, the same profile
		h[8] = h[8]&0x3f | 0x80
		return fmt.Sprintf("%X-%X-%X-%X-%X", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
	}
	esc := func(s string) string { return template.HTMLEscapeString(s) }
	name := esc(CAName(storeName))
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>PayloadContent</key>
	<array>
		<dict>
			<key>PayloadCertificateFileName</key>
			<string>consentdesk-ca.cer</string>
			<key>PayloadContent</key>
			<data>` + base64.StdEncoding.EncodeToString(der) + `</data>
			<key>PayloadDescription</key>
			<string>Vertraut der Kasse im Filialnetz (HTTPS). Trusts the store's counter (HTTPS).</string>
			<key>PayloadDisplayName</key>
			<string>` + name + `</string>
			<key>PayloadIdentifier</key>
			<string>de.consentdesk.ca.` + uuid(1) + `</string>
			<key>PayloadType</key>
			<string>com.apple.security.root</string>
			<key>PayloadUUID</key>
			<string>` + uuid(1) + `</string>
			<key>PayloadVersion</key>
			<integer>1</integer>
		</dict>
	</array>
	<key>PayloadDisplayName</key>
	<string>` + name + `</string>
	<key>PayloadIdentifier</key>
	<string>de.consentdesk.pairing.` + uuid(2) + `</string>
	<key>PayloadRemovalDisallowed</key>
	<false/>
	<key>PayloadType</key>
	<string>Configuration</string>
	<key>PayloadUUID</key>
	<string>` + uuid(2) + `</string>
	<key>PayloadVersion</key>
	<integer>1</integer>
</dict>
</plist>
`)
}

// qrDataURI draws a QR code as a PNG data URI (the CSP allows data:
// images; no script, no request).
func qrDataURI(content string) template.URL {
	png, err := qrcode.Encode(content, qrcode.Medium, 320)
	if err != nil {
		return ""
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
}

type pairingView struct {
	P  *Pairing
	QR []pairQR
	// Replaced is the day the CA was replaced lately, "" for none.
	Replaced string
}

type pairQR struct {
	URL string
	QR  template.URL
}

// pairingPage is the back office's page with the QR code a new tablet
// scans.
func (s *Server) pairingPage(c *gin.Context) {
	v := pairingView{P: s.pairing}
	if s.pairing != nil && !s.pairing.Replaced.IsZero() {
		v.Replaced = consentdesk.Date(s.lang(c), s.pairing.Replaced)
	}
	if s.pairing != nil {
		for _, u := range s.pairing.PairURLs {
			v.QR = append(v.QR, pairQR{URL: u, QR: qrDataURI(u)})
		}
	}
	s.render(c, http.StatusOK, "pairing", view{Title: assets.T(s.lang(c), "title.pairing"), Data: v})
}

// pairRoutes are the tablet's side: the page the QR code opens, and the
// CA to download. They hold nothing secret (a CA certificate is public).
func (s *Server) pairRoutes(r gin.IRoutes) {
	r.GET("/pair", s.pairPage)
	r.GET("/pair/ca.crt", s.pairCA)
	r.GET("/pair/ca.mobileconfig", s.pairProfile)
}

func (s *Server) pairPage(c *gin.Context) {
	if s.pairing == nil {
		s.notFound(c)
		return
	}
	s.render(c, http.StatusOK, "pair", view{Title: assets.T(s.lang(c), "title.pair"), Data: pairingView{P: s.pairing}})
}

func (s *Server) pairCA(c *gin.Context) {
	if s.pairing == nil {
		s.notFound(c)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="consentdesk-ca.crt"`)
	c.Data(http.StatusOK, "application/x-x509-ca-cert", s.pairing.CACertPEM)
}

func (s *Server) pairProfile(c *gin.Context) {
	if s.pairing == nil {
		s.notFound(c)
		return
	}
	// Named from the store's details as they are now, not as they were
	// when the server started (or before the store was set up).
	name := s.pairing.Name
	if ctrl, err := s.db.Controller(c.Request.Context()); err == nil {
		name = ctrl.Name
	}
	c.Header("Content-Disposition", `attachment; filename="consentdesk.mobileconfig"`)
	c.Data(http.StatusOK, "application/x-apple-aspen-config", s.pairing.mobileconfig(name))
}

// PairHandler serves plain HTTP on the store's network for a tablet that
// does not trust the store's CA yet: the pairing page and the CA, and
// for everything else a redirect to the counter over HTTPS.
func (s *Server) PairHandler() http.Handler {
	r := s.engine()
	r.StaticFS("/static", noListing{http.FS(assets.Static())})
	r.GET("/favicon.ico", favicon)
	s.pairRoutes(r)
	r.NoRoute(func(c *gin.Context) {
		if s.pairing == nil || len(s.pairing.CounterURLs) == 0 {
			s.notFound(c)
			return
		}
		c.Redirect(http.StatusFound, strings.TrimRight(s.pairing.CounterURLs[0], "/")+"/")
	})
	return r
}
