package pos

import (
	"net/http"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/consentdesk/consentdesk/orders"
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
			rt.Preview = assets.T(list[0].Lang, "recall."+key+".body", list[0].Name, ctrl.Name)
		}
		v.Topics = append(v.Topics, rt)
	}
	if !s.audit(c, orders.AuditContactable, 0, "recalls") {
		return
	}
	s.render(c, http.StatusOK, "recalls", view{Title: assets.T(lang, "title.recalls"), Data: v})
}
