package pos

import (
	"net/http"

	"github.com/consentdesk/consentdesk/assets"
	"github.com/gin-gonic/gin"
)

// todayPage is the staff's start page: today's pickups, the orders ready
// for pickup and the open ones, with the button for a new order.
func (s *Server) todayPage(c *gin.Context) {
	d, err := s.db.Today(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "today", view{Title: assets.T(s.lang(c), "title.today"), Data: d})
}
