package pos

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/pdf"
	"github.com/gin-gonic/gin"
)

// The breach register (GDPR Art. 33(5)) and the customers' notification
// (Art. 34), for the store's management.

var breachFields = []string{"occurred_at", "noticed_at", "facts", "categories", "people", "records", "consequences", "measures", "authority_notified_at"}

type breachesView struct {
	List   []orders.Breach
	Values map[string]string
	Fields []string
	Health bool
	Now    time.Time
}

func (s *Server) renderBreaches(c *gin.Context, status int, flash string, errs map[string]string, values map[string]string, health bool) {
	list, err := s.db.Breaches(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	if values == nil {
		values = map[string]string{}
	}
	s.render(c, status, "breaches", view{Title: assets.T(s.lang(c), "title.breaches"), Flash: flash, Errors: errs,
		Data: breachesView{List: list, Values: values, Fields: breachFields, Health: health, Now: s.db.Now()}})
}

func (s *Server) breachesPage(c *gin.Context) {
	flash := ""
	if c.Query("done") == "1" {
		flash = assets.T(s.lang(c), "breach.recorded")
	}
	s.renderBreaches(c, http.StatusOK, flash, nil, nil, false)
}

func (s *Server) breachSubmit(c *gin.Context) {
	v := map[string]string{}
	for _, f := range breachFields {
		v[f] = strings.TrimSpace(c.PostForm(f))
	}
	people, err1 := strconv.ParseInt(v["people"], 10, 64)
	records, err2 := strconv.ParseInt(v["records"], 10, 64)
	b := orders.Breach{OccurredAt: v["occurred_at"], NoticedAt: v["noticed_at"], Facts: v["facts"], Categories: v["categories"], People: people,
		Records: records, HealthData: c.PostForm("health_data") == "on", Consequences: v["consequences"], Measures: v["measures"],
		AuthorityNotifiedAt: v["authority_notified_at"], StaffID: staff(c).ID}
	if err1 != nil {
		b.People = -1
	}
	if err2 != nil {
		b.Records = -1
	}
	if _, err := s.db.RecordBreach(c.Request.Context(), b); err != nil {
		if consentdesk.ErrorCode(err) == consentdesk.Invalid {
			lang := s.lang(c)
			s.renderBreaches(c, http.StatusUnprocessableEntity, assets.T(lang, "err.invalid_input"), translateFields(lang, err), v, b.HealthData)
			return
		}
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/breaches?done=1")
}

// breachNoteSubmit records that the authority was told, or a note.
func (s *Server) breachNoteSubmit(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		s.notFound(c)
		return
	}
	at := time.Time{}
	if v := strings.TrimSpace(c.PostForm("at")); v != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", v, orders.Berlin)
		if err != nil {
			s.fail(c, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"at": "err.time_format"}})
			return
		}
		at = t
	}
	if err := s.db.NoteBreach(c.Request.Context(), id, c.PostForm("kind"), at, 0, c.PostForm("detail"), staff(c).ID); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/breaches?done=1")
}

// breachLetter is the notification letter to one affected customer (Art.
// 34(2)); handing it out is recorded in the register and the access log.
func (s *Server) breachLetter(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		s.notFound(c)
		return
	}
	ctx := c.Request.Context()
	b, err := s.db.Breach(ctx, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	cid, err := strconv.ParseInt(c.Query("customer"), 10, 64)
	if err != nil || cid <= 0 {
		s.fail(c, &consentdesk.Error{Code: consentdesk.Invalid, Key: "err.invalid_input", Fields: map[string]string{"customer": "err.number_invalid"}})
		return
	}
	cu, err := s.db.Customer(ctx, cid)
	if err != nil {
		s.fail(c, err)
		return
	}
	if cu.Erased() {
		s.fail(c, consentdesk.Errorf(consentdesk.Conflict, "err.customer_erased"))
		return
	}
	// From the customer's controller: their store's company where each
	// store is its own (Art. 34 is the controller's duty).
	ctrl, err := s.db.ControllerOf(ctx, cu.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	var buf bytes.Buffer
	if err := pdf.RenderBreachLetter(&buf, pdf.BreachLetter{Store: ctrl, Breach: b, Customer: cu, Date: s.db.Now()}); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.db.NoteBreach(ctx, b.ID, "customer_notified", time.Time{}, cu.ID, "", staff(c).ID); err != nil {
		s.fail(c, err)
		return
	}
	s.sendAudited(c, orders.AuditBreachLetter, cu.ID, fmt.Sprintf("breach %d", b.ID), fmt.Sprintf(`inline; filename="benachrichtigung-%d-kunde-%d.pdf"`, b.ID, cu.ID),
		"application/pdf", buf.Bytes())
}

type apiBreachRequest struct {
	OccurredAt          string `json:"occurred_at"`
	NoticedAt           string `json:"noticed_at"`
	Facts               string `json:"facts"`
	Categories          string `json:"categories"`
	People              int64  `json:"people"`
	Records             int64  `json:"records"`
	HealthData          bool   `json:"health_data"`
	Consequences        string `json:"consequences"`
	Measures            string `json:"measures"`
	AuthorityNotifiedAt string `json:"authority_notified_at"`
}

func (s *Server) apiBreaches(c *gin.Context) {
	list, err := s.db.Breaches(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"breaches": list})
}

func (s *Server) apiRecordBreach(c *gin.Context) {
	var req apiBreachRequest
	if err := decodeJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	tok, _ := c.Get(tokenKey)
	tokenID, _ := tok.(int64)
	b, err := s.db.RecordBreach(c.Request.Context(), orders.Breach{OccurredAt: req.OccurredAt, NoticedAt: req.NoticedAt, Facts: req.Facts,
		Categories: req.Categories, People: req.People, Records: req.Records, HealthData: req.HealthData, Consequences: req.Consequences,
		Measures: req.Measures, AuthorityNotifiedAt: req.AuthorityNotifiedAt, TokenID: tokenID})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, b)
}
