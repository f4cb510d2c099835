package web

import (
	"errors"
	"net/http"
	"strconv"
)

// DefaultHashingRequests bounds the requests that may be in a password-hashing step at once
// (running or queued for a hashing slot). It is well above the 64 concurrent clients a node is
// measured with, so correct logons are never turned away under normal load, and low enough
// that a flood queues a bounded amount of work instead of growing memory and latency without
// end.
const DefaultHashingRequests = 256

// busyRetryAfter is what a 503 asks the browser to wait, in seconds: a queue of hashes of
// ~25 ms each drains in well under that.
const busyRetryAfter = 2

// errBusy: every place in the hashing queue is taken.
var errBusy = errors.New("too many requests are waiting for a password hash")

// admitHashing guards a handler that hashes a password (a logon's password step, a
// registration): beyond Config.HashingRequests at once, the request is answered at once with
// 503, Retry-After and the localised "busy, try again" page, before anything is read, counted or
// hashed — so a known and an unknown username are turned away alike, and no attempt is
// counted against a citizen for a request the server did not look at.
func (s *Server) admitHashing(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		select {
		case s.hashing <- struct{}{}:
			defer func() { <-s.hashing }()
			return h(w, r)
		default:
			w.Header().Set("Retry-After", strconv.Itoa(busyRetryAfter))
			return httpStatus(http.StatusServiceUnavailable, errBusy)
		}
	}
}
