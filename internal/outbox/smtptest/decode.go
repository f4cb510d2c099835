package smtptest

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
)

func newBase64Reader(b []byte) io.Reader {
	return base64.NewDecoder(base64.StdEncoding, bytes.NewReader(bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r"), nil), []byte("\n"), nil)))
}

func newQPReader(b []byte) io.Reader { return quotedprintable.NewReader(bytes.NewReader(b)) }
