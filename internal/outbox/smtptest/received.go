package smtptest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// Received is one message the server read after DATA.
type Received struct {
	// From is the envelope sender (MAIL FROM), To the envelope recipients (RCPT TO).
	From string
	To   []string
	// Data is the message exactly as received (CRLF line ends).
	Data []byte
	// Header is Data's header, parsed with net/mail; nil when it did not parse.
	Header mail.Header
	// Body is Data after the header.
	Body []byte
	// Accepted reports whether the server answered 250; Answer holds the error it answered
	// otherwise.
	Accepted bool
	Answer   string
	// At is when the server read the message (wall clock).
	At time.Time
}

// Subject returns the decoded Subject header.
func (r Received) Subject() string { return decodeHeader(r.Header.Get("Subject")) }

// MessageID returns the Message-ID header as sent, angle brackets included.
func (r Received) MessageID() string { return r.Header.Get("Message-Id") }

// Parts returns the decoded text/plain and text/html parts of the message (a single-part
// message fills the one it is).
func (r Received) Parts() (text, html string, err error) {
	parts := map[string]string{}
	if err := collectParts(r.Header.Get("Content-Type"), r.Header.Get("Content-Transfer-Encoding"), r.Body, parts); err != nil {
		return "", "", err
	}
	return parts["text/plain"], parts["text/html"], nil
}

func collectParts(contentType, encoding string, body []byte, out map[string]string) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextPart() // decodes quoted-printable transparently
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			data, err := io.ReadAll(p)
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			if err := collectParts(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), data, out); err != nil {
				return err
			}
		}
	}
	decoded, err := decodeBody(encoding, body)
	if err != nil {
		return err
	}
	out[mediaType] = string(decoded)
	return nil
}

func decodeBody(encoding string, body []byte) ([]byte, error) {
	switch strings.ToLower(encoding) {
	case "base64":
		return io.ReadAll(newBase64Reader(body))
	case "quoted-printable":
		return io.ReadAll(newQPReader(body))
	default:
		return body, nil
	}
}

func decodeHeader(v string) string {
	d := &mime.WordDecoder{}
	s, err := d.DecodeHeader(v)
	if err != nil {
		return v
	}
	return s
}

func newBase64Reader(b []byte) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, bytes.NewReader(bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r"), nil), []byte("\n"), nil)))
}

func newQPReader(b []byte) io.Reader { return quotedprintable.NewReader(bytes.NewReader(b)) }
