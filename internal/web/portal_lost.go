package web

import (
	"net/http"

	"github.com/sleutelbos/sleutelbos/internal/portal"
)

// lostAction is "I lost this key": its page says what deactivating the key does and what comes
// next, then asks for confirmation; the key is deactivated at once, and the key list says what
// to do next.
var lostAction = keyAction{name: "lost", title: "portal.lost.title", do: (*portal.Service).ReportLost, flash: flashKeyLost,
	refused: func(p *keyConfirmPage, v portal.KeyView) string {
		if !v.CanReportLost {
			return p.T("portal.error.not_active") // neither active nor locked
		}
		return ""
	}}

// keyLostShow serves GET /keys/{id}/lost.
func (s *Server) keyLostShow(w http.ResponseWriter, r *http.Request) error {
	return s.keyConfirmShow(w, r, lostAction)
}

// keyLost serves POST /keys/{id}/lost.
func (s *Server) keyLost(w http.ResponseWriter, r *http.Request) error {
	return s.keyAct(w, r, lostAction)
}
