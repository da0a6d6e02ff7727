package pos

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/consentdesk/consentdesk"
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
	// Runs are the sends so far, newest first, each with its letters to
	// download again; Names the topics' names.
	Runs  []orders.RecallRun
	Names map[string]string
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
		if n := c.Query("letters"); n != "" && n != "0" {
			flash += " " + assets.T(lang, "recalls.letters_ready", n)
		}
	}
	if v.Runs, err = s.db.RecallRuns(ctx, 50); err != nil {
		s.fail(c, err)
		return
	}
	v.Names = map[string]string{}
	for _, t := range ctrl.TopicList() {
		v.Names[t.Key] = t.Name(lang)
	}
	s.render(c, http.StatusOK, "recalls", view{Title: assets.T(lang, "title.recalls"), Flash: flash, Data: v})
}

// recallsSend sends a topic's recalls that are due: the e-mails are
// queued, and the run is recorded with its letters, which the page then
// offers to download (DIN 5008 form B, for a window envelope) as often
// as needed: a lost download does not lose the letters.
func (s *Server) recallsSend(c *gin.Context) {
	ctx := c.Request.Context()
	topic := c.Param("topic")
	sent, err := s.db.SendRecalls(ctx, topic, staff(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/recalls?sent=%d&manual=%d&letters=%d&run=%d", sent.Mails, len(sent.Manual), len(sent.Letters), sent.Run))
}

// recallRunLetters is a run's letters as one PDF, made again from the
// customers' records, dated the day of the run.
func (s *Server) recallRunLetters(c *gin.Context) {
	ctx := c.Request.Context()
	id, ok := pathID(c)
	if !ok {
		s.fail(c, consentdesk.Errorf(consentdesk.NotFound, "err.recall_run_not_found"))
		return
	}
	run, customers, err := s.db.RecallRunLetters(ctx, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	ctrl, err := s.db.Controller(ctx)
	if err != nil {
		s.fail(c, err)
		return
	}
	var letters []pdf.RecallLetter
	for _, cu := range customers {
		// Each letter from the customer's controller: their store's
		// company where each store is its own (Art. 13(1)(a)).
		from, err := s.db.ControllerOf(ctx, cu.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		letters = append(letters, pdf.RecallLetter{Salutation: cu.Salutation, FirstName: cu.FirstName, LastName: cu.LastName, Street: cu.Street, PostalCode: cu.PostalCode, City: cu.City,
			Lang: cu.Lang, Topic: run.Topic, PreferencesURL: s.preferencesURL(from, cu.ID, "qr"), From: from})
	}
	at, err := time.Parse(time.RFC3339Nano, run.CreatedAt)
	if err != nil {
		s.fail(c, fmt.Errorf("recall run %d: its time %q: %w", run.ID, run.CreatedAt, err))
		return
	}
	var buf bytes.Buffer
	if err := pdf.RenderRecallLetters(&buf, ctrl, letters, at); err != nil {
		s.fail(c, err)
		return
	}
	s.sendAudited(c, orders.AuditContactable, 0, fmt.Sprintf("recall run %d: %d letters", run.ID, len(letters)),
		fmt.Sprintf(`attachment; filename="erinnerungen-%s-%d.pdf"`, run.Topic, run.ID), "application/pdf", buf.Bytes())
}
