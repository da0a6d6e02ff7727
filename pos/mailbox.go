package pos

import (
	"encoding/base64"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/followup"
	"github.com/gin-gonic/gin"
)

// The mailbox view: every mail of the outbox with its state, and each
// mail rendered as text with its parts listed. Without SMTP this is where
// a new store sees what would have been sent.

type mailboxView struct {
	Mails  []followup.Mail
	Counts map[followup.Status]int
	Status followup.Status
}

var statuses = []followup.Status{followup.Queued, followup.Sending, followup.Sent, followup.Held, followup.Failed, followup.Suppressed}

func (s *Server) mailboxPage(c *gin.Context) {
	ctx := c.Request.Context()
	st := followup.Status(c.Query("status"))
	if st != "" && !validStatus(st) {
		st = ""
	}
	mails, err := s.db.Mails(ctx, followup.Filter{Status: st, Limit: 500})
	if err != nil {
		s.fail(c, err)
		return
	}
	counts, err := s.db.MailCounts(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "mailbox", view{Title: assets.T(s.lang(c), "title.mailbox"), Data: mailboxView{Mails: mails, Counts: counts, Status: st}})
}

func validStatus(st followup.Status) bool {
	for _, v := range statuses {
		if v == st {
			return true
		}
	}
	return false
}

type mailView struct {
	Mail   followup.Mail
	Parsed followup.Parsed
	Header [][2]string
}

func (s *Server) loadMail(c *gin.Context) (followup.Mail, followup.Parsed, bool) {
	id, ok := pathID(c)
	if !ok {
		s.notFound(c)
		return followup.Mail{}, followup.Parsed{}, false
	}
	m, err := s.db.Mail(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return followup.Mail{}, followup.Parsed{}, false
	}
	if m.RetainedUntil != "" {
		// A commercial letter kept after an erasure (§257 HGB) is
		// restricted (§35(3) BDSG): a manager only, every access logged.
		if !s.restrictedAccess(c, m.CustomerID, "mail "+strconv.FormatInt(m.ID, 10)) {
			return followup.Mail{}, followup.Parsed{}, false
		}
	}
	var p followup.Parsed
	if len(m.Raw) > 0 {
		if p, err = followup.Parse(m.Raw); err != nil {
			s.fail(c, err)
			return followup.Mail{}, followup.Parsed{}, false
		}
	}
	return m, p, true
}

func (s *Server) mailPage(c *gin.Context) {
	m, p, ok := s.loadMail(c)
	if !ok {
		return
	}
	v := mailView{Mail: m, Parsed: p}
	for _, h := range []string{"From", "Reply-To", "To", "Subject", "Date", "Message-Id", "List-Unsubscribe", "List-Unsubscribe-Post"} {
		if val := p.Header.Get(h); val != "" {
			if dec, err := new(mime.WordDecoder).DecodeHeader(val); err == nil {
				val = dec
			}
			v.Header = append(v.Header, [2]string{assets.T(s.lang(c), "mailhdr."+strings.ToLower(h)), val})
		}
	}
	s.render(c, http.StatusOK, "mail", view{Title: assets.T(s.lang(c), "title.mail") + " " + strconv.FormatInt(m.ID, 10), Data: v})
}

var cidRef = regexp.MustCompile(`cid:([A-Za-z0-9._@-]+)`)

// mailHTML shows the mail's HTML part as the customer's mail program
// would, in its own sandbox: no scripts, no forms, nothing loaded from
// outside, and inline images (cid:) served from here.
func (s *Server) mailHTML(c *gin.Context) {
	_, p, ok := s.loadMail(c)
	if !ok {
		return
	}
	if p.HTML == "" {
		s.notFound(c)
		return
	}
	// Inline images (the QR code) go in as data: URLs. The sandboxed page
	// has an origin of its own, so a link back to /mailbox/…/parts would
	// come without the staff's SameSite cookie and never load.
	html := cidRef.ReplaceAllStringFunc(p.HTML, func(ref string) string {
		cid := strings.TrimPrefix(ref, "cid:")
		for _, part := range p.Parts {
			if part.ContentID == cid && strings.HasPrefix(part.ContentType, "image/") {
				return "data:" + strings.SplitN(part.ContentType, ";", 2)[0] + ";base64," + base64.StdEncoding.EncodeToString(part.Data)
			}
		}
		return "about:blank"
	})
	c.Header("Content-Security-Policy", "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'")
	c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(html))
}

// mailPart serves an attachment or inline image for download.
func (s *Server) mailPart(c *gin.Context) {
	m, p, ok := s.loadMail(c)
	if !ok {
		return
	}
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 0 || n >= len(p.Parts) {
		s.notFound(c)
		return
	}
	part := p.Parts[n]
	ct := part.ContentType
	if ct != "image/png" && ct != "text/calendar" {
		ct = "application/octet-stream" // nothing else is ever attached; never let a browser run it
	}
	disposition := "attachment"
	if ct == "image/png" {
		disposition = "inline"
	}
	name := part.Name
	if name == "" {
		name = "mail-" + strconv.FormatInt(m.ID, 10) + "-part-" + strconv.Itoa(n)
	}
	c.Header("Content-Disposition", disposition+`; filename="`+safeFilename(name)+`"`)
	c.Data(http.StatusOK, ct, part.Data)
}

func safeFilename(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == '"' || r == '\\' || r == '/' || r > 0x7e {
			return '_'
		}
		return r
	}, s)
}
