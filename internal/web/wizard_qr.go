package web

import (
	"net/http"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/sleutelbos/sleutelbos/internal/portal"
)

// qrSize is the width and height of the QR code image in pixels.
const qrSize = 256

// wizardQR serves GET /keys/activate/qr?w=<wizard id>: the QR code of the app key being
// activated, drawn from the otpauth:// URI and nothing else. It exists only for this session's
// wizard while it stands at the activation step; any other request is a 404. The image holds
// the secret, so it is never cached.
func (s *Server) wizardQR(w http.ResponseWriter, r *http.Request) error {
	st := stateOf(r)
	wz := st.sess.data.Wizard
	if wz == nil || wz.AccountID() != st.account.ID || r.URL.Query().Get("w") != wz.ID() ||
		wz.Step() != portal.StepActivate || wz.Expired(s.deps.Now()) {
		return errNotFound
	}
	v, err := s.deps.Portal.View(wz, *st.account)
	if err != nil {
		return err
	}
	if v.URI == "" {
		return errNotFound
	}
	png, err := qrcode.Encode(v.URI, qrcode.Medium, qrSize)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Cache-Control", "no-store")
	_, err = w.Write(png)
	return err
}
