package pos

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
	"github.com/consentdesk/consentdesk/pdf"
	"github.com/gin-gonic/gin"
)

// apiRecalls is GET /api/v1/recalls?topic=eye_test: who is due now, and
// on which channels they may be reached for that topic.
func (s *Server) apiRecalls(c *gin.Context) {
	list, err := s.db.Recalls(c.Request.Context(), c.DefaultQuery("topic", consent.TopicEyeTest))
	if err != nil {
		s.fail(c, err)
		return
	}
	if !s.audit(c, orders.AuditContactable, 0, "recalls:"+c.DefaultQuery("topic", consent.TopicEyeTest)) {
		return
	}
	c.JSON(http.StatusOK, list)
}

type recallsView struct {
	Topics []recallTopic
}

type recallTopic struct {
	Key, Name string
	List      []orders.Recall
	// Preview is the recall's text as the first customer would read it.
	Preview string
}

// recallsPage is the back office's list of recalls due, per topic, with
// a preview of what the customer reads.
func (s *Server) recallsPage(c *gin.Context) {
	ctx := c.Request.Context()
	ctrl, err := s.db.Controller(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	lang := s.lang(c)
	var v recallsView
	for _, key := range orders.RecallTopics {
		t, ok := ctrl.Topic(key)
		if !ok {
			continue
		}
		list, err := s.db.Recalls(ctx, key)
		if err != nil {
			s.fail(c, err)
			return
		}
		rt := recallTopic{Key: key, Name: t.Name(lang), List: list}
		if len(list) > 0 {
			// Signed by the customer's controller: their store's company
			// where each store is its own.
			from, err := s.db.ControllerOf(ctx, list[0].CustomerID)
			if err != nil {
				s.fail(c, err)
				return
			}
			rt.Preview = assets.T(list[0].Lang, "recall."+key+".body", list[0].Name, from.Name)
		}
		v.Topics = append(v.Topics, rt)
	}
	if !s.audit(c, orders.AuditContactable, 0, "recalls") {
		return
	}
	flash := ""
	if sent := c.Query("sent"); sent != "" {
		flash = assets.T(lang, "recalls.sent", sent, c.Query("manual"))
	}
	s.render(c, http.StatusOK, "recalls", view{Title: assets.T(lang, "title.recalls"), Flash: flash, Data: v})
}

// recallsSend sends a topic's recalls that are due: the e-mails are
// queued, and the letters come back as one PDF to print (DIN 5008 form B,
// for a window envelope); without letters the page says what was sent.
func (s *Server) recallsSend(c *gin.Context) {
	ctx := c.Request.Context()
	topic := c.Param("topic")
	sent, err := s.db.SendRecalls(ctx, topic, staff(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if len(sent.Letters) == 0 {
		c.Redirect(http.StatusSeeOther, fmt.Sprintf("/recalls?sent=%d&manual=%d", sent.Mails, len(sent.Manual)))
		return
	}
	ctrl, err := s.db.Controller(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	var letters []pdf.RecallLetter
	for _, cu := range sent.Letters {
		// Each letter from the customer's controller: their store's
		// company where each store is its own (Art. 13(1)(a)).
		from, err := s.db.ControllerOf(ctx, cu.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		letters = append(letters, pdf.RecallLetter{Salutation: cu.Salutation, FirstName: cu.FirstName, LastName: cu.LastName, Street: cu.Street, PostalCode: cu.PostalCode, City: cu.City,
			Lang: cu.Lang, Topic: topic, PreferencesURL: s.preferencesURL(from, cu.ID, "qr"), From: from})
	}
	var buf bytes.Buffer
	if err := pdf.RenderRecallLetters(&buf, ctrl, letters, s.db.Now()); err != nil {
		s.fail(c, err)
		return
	}
	s.sendAudited(c, orders.AuditContactable, 0, fmt.Sprintf("recalls:%s:%d mails, %d letters", topic, sent.Mails, len(sent.Letters)),
		fmt.Sprintf(`attachment; filename="erinnerungen-%s.pdf"`, topic), "application/pdf", buf.Bytes())
}
