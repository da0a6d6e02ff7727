package pos

import (
	"net/http"

	"github.com/consentdesk/consentdesk"
	"github.com/consentdesk/consentdesk/assets"
	"github.com/consentdesk/consentdesk/consent"
	"github.com/gin-gonic/gin"
)

type noticesView struct {
	Lang     string
	Current  consent.NoticeVersion
	Versions []consent.NoticeVersion
	Template string
}

func (s *Server) noticesData(c *gin.Context, lang string) (noticesView, error) {
	ctx := c.Request.Context()
	versions, err := s.db.Notices(ctx, lang)
	if err != nil {
		return noticesView{}, err
	}
	v := noticesView{Lang: lang, Versions: versions}
	if len(versions) > 0 {
		v.Current, v.Template = versions[0], versions[0].Template
	}
	return v, nil
}

func (s *Server) noticesPage(c *gin.Context) {
	lang := assets.Lang(c.DefaultQuery("lang", "de"))
	v, err := s.noticesData(c, lang)
	if err != nil {
		s.fail(c, err)
		return
	}
	flash := ""
	if c.Query("saved") == "1" {
		flash = assets.T(s.lang(c), "msg.notice_published")
	}
	s.render(c, http.StatusOK, "notices", view{Title: assets.T(s.lang(c), "title.notices"), Flash: flash, Data: v})
}

// noticeSubmit publishes an edit as a new version; old versions stay.
func (s *Server) noticeSubmit(c *gin.Context) {
	lang := assets.Lang(c.PostForm("lang"))
	if _, err := s.db.PublishNotice(c.Request.Context(), lang, c.PostForm("template"), staff(c).ID); err != nil {
		if consentdesk.ErrorCode(err) != consentdesk.Invalid {
			s.fail(c, err)
			return
		}
		v, verr := s.noticesData(c, lang)
		if verr != nil {
			s.fail(c, verr)
			return
		}
		v.Template = c.PostForm("template")
		ui := s.lang(c)
		s.render(c, http.StatusUnprocessableEntity, "notices", view{Title: assets.T(ui, "title.notices"), Flash: assets.T(ui, "err.invalid_input"),
			Errors: translateFields(ui, err), Data: v})
		return
	}
	c.Redirect(http.StatusSeeOther, "/notices?saved=1&lang="+lang)
}

func (s *Server) noticeView(c *gin.Context) {
	v, err := s.db.Notice(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, "notice", view{Title: assets.T(s.lang(c), "title.notice") + " " + v.ID, Data: v})
}
