package account

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxLineBytes is the longest line an import file may have, its line end excluded. A line of
// the longest valid username, name, e-mail address, hash and card is well under half of it.
const MaxLineBytes = 4096

// lineReader reads an import file line by line in constant memory: a line longer than
// MaxLineBytes is reported and skipped, never buffered whole. A UTF-8 byte order mark at the
// start and CR LF line ends are accepted. Every byte read is also written to sum, so that a
// second pass can tell whether the file changed in between.
type lineReader struct {
	br   *bufio.Reader
	sum  hash.Hash
	line int   // number of the line last returned (1-based)
	read int64 // bytes read so far
}

func newLineReader(r io.Reader, sum hash.Hash) *lineReader {
	// Room for the longest line, its CR LF, and a byte to tell a line that is too long.
	return &lineReader{br: bufio.NewReaderSize(r, MaxLineBytes+3), sum: sum}
}

// errLineTooLong is returned by next for a line longer than MaxLineBytes.
var errLineTooLong = fmt.Errorf("longer than %d bytes", MaxLineBytes)

// next returns the next line without its line end. At the end of the file it returns io.EOF;
// for a line that is too long, errLineTooLong (the line is skipped, the next call goes on with
// the line after it).
func (lr *lineReader) next() (string, error) {
	chunk, err := lr.br.ReadSlice('\n')
	lr.consumed(chunk)
	if len(chunk) == 0 && errors.Is(err, io.EOF) {
		return "", io.EOF
	}
	lr.line++
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of the line
			chunk, err = lr.br.ReadSlice('\n')
			lr.consumed(chunk)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read line %d: %w", lr.line, err)
		}
		return "", errLineTooLong
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read line %d: %w", lr.line, err)
	}
	line := chunk
	if lr.line == 1 {
		line = bytes.TrimPrefix(line, []byte("\ufeff"))
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) > MaxLineBytes {
		return "", errLineTooLong
	}
	return string(line), nil
}

func (lr *lineReader) consumed(b []byte) {
	lr.read += int64(len(b))
	lr.sum.Write(b)
}

// checkText returns a problem for a line that is not valid UTF-8 or holds a control character
// (no field of an import has one, and PostgreSQL refuses NUL in text), naming the first bad byte.
func checkText(line string) error {
	if i := strings.IndexFunc(line, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
		return fmt.Errorf("a control character (byte %d of the line, 0x%02x)", i+1, line[i])
	}
	if utf8.ValidString(line) {
		return nil
	}
	for i, r := range line {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(line[i:]); size <= 1 {
				return fmt.Errorf("not valid UTF-8 (byte %d of the line): save the file as UTF-8", i+1)
			}
		}
	}
	return errors.New("not valid UTF-8: save the file as UTF-8")
}

// splitFields splits one CSV line (RFC 4180, within a line): fields separated by commas, a
// field in double quotes may hold commas and doubled quotes. Spaces around fields are trimmed.
// A field cannot span lines: no value of an import has a line break.
func splitFields(line string) ([]string, error) {
	var fields []string
	var sb strings.Builder
	i := 0
	for {
		// One field starts at i.
		for i < len(line) && line[i] == ' ' {
			i++
		}
		sb.Reset()
		if i < len(line) && line[i] == '"' {
			i++
			for {
				q := strings.IndexByte(line[i:], '"')
				if q < 0 {
					return nil, fmt.Errorf("column %d: a quoted field is not closed", len(fields)+1)
				}
				sb.WriteString(line[i : i+q])
				i += q + 1
				if i < len(line) && line[i] == '"' { // a doubled quote
					sb.WriteByte('"')
					i++
					continue
				}
				break
			}
			for i < len(line) && line[i] == ' ' {
				i++
			}
			if i < len(line) && line[i] != ',' {
				return nil, fmt.Errorf("column %d: text after a quoted field's closing quote", len(fields)+1)
			}
			fields = append(fields, sb.String())
		} else {
			end := strings.IndexByte(line[i:], ',')
			if end < 0 {
				end = len(line) - i
			}
			f := line[i : i+end]
			if strings.IndexByte(f, '"') >= 0 {
				return nil, fmt.Errorf("column %d: a quote inside an unquoted field (quote the whole field and double the quote)", len(fields)+1)
			}
			fields = append(fields, strings.TrimSpace(f))
			i += end
		}
		if i >= len(line) {
			return fields, nil
		}
		i++ // the comma
	}
}
