package followup

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
)

// Parsed is a stored mail taken apart for the mailbox view and the
// customer's access export: its headers, its text and HTML bodies, and
// every other part.
type Parsed struct {
	Header mail.Header
	Text   string
	HTML   string
	Parts  []Part // attachments and inline images
}

// Part is one attachment or inline image.
type Part struct {
	Name        string
	ContentType string
	ContentID   string // without the angle brackets; set for inline parts
	Data        []byte
}

// Parse reads an RFC 5322 message with MIME parts (RFC 2045–2049).
func Parse(raw []byte) (Parsed, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Parsed{}, fmt.Errorf("parse mail: %w", err)
	}
	p := Parsed{Header: msg.Header}
	err = p.walk(textproto.MIMEHeader(msg.Header), msg.Body, 0)
	return p, err
}

func (p *Parsed) walk(h textproto.MIMEHeader, body io.Reader, depth int) error {
	if depth > 10 {
		return fmt.Errorf("parse mail: nested too deep")
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("parse mail: content type: %w", err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			part, err := r.NextRawPart() // raw: the transfer encoding is decoded below, once
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("parse mail: %w", err)
			}
			if err := p.walk(part.Header, part, depth+1); err != nil {
				return err
			}
		}
	}
	data, err := decode(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		return err
	}
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if dec, err := new(mime.WordDecoder).DecodeHeader(name); err == nil {
		name = dec
	}
	switch {
	case mt == "text/plain" && disp != "attachment" && p.Text == "":
		p.Text = string(data)
	case mt == "text/html" && disp != "attachment" && p.HTML == "":
		p.HTML = string(data)
	default:
		p.Parts = append(p.Parts, Part{Name: name, ContentType: mt, ContentID: strings.Trim(h.Get("Content-Id"), "<>"), Data: data})
	}
	return nil
}

func decode(encoding string, r io.Reader) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r) // ignores the line breaks
	}
	b, err := io.ReadAll(io.LimitReader(r, 20<<20))
	if err != nil {
		return nil, fmt.Errorf("parse mail: decode %s: %w", encoding, err)
	}
	return b, nil
}
