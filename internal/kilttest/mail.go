package kilttest

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"testing"
)

// Mail is a received e-mail, decoded.
type Mail struct {
	Subject string
	Text    string
	HTML    string
	Header  mail.Header
}

// ParseMail decodes a raw MIME message as a mail client would.
func ParseMail(t testing.TB, raw []byte) Mail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("kilttest: mail does not parse: %v", err)
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("kilttest: subject: %v", err)
	}
	out := Mail{Subject: subject, Header: msg.Header}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("kilttest: mail is %q, want multipart", mt)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("kilttest: mail part: %v", err)
		}
		var body io.Reader = p
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(p)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		switch ct := p.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "text/plain"):
			out.Text = string(b)
		case strings.HasPrefix(ct, "text/html"):
			out.HTML = string(b)
		}
	}
	return out
}

var linkPattern = regexp.MustCompile(`https?://\S+`)

// Link returns the first link of the mail's plain text that contains substr, or "".
func (m Mail) Link(substr string) string {
	for _, l := range linkPattern.FindAllString(m.Text, -1) {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}

var codePattern = regexp.MustCompile(`\b\d{6}\b`)

// Code returns the first 6-digit code in an SMS text, or "".
func Code(text string) string { return codePattern.FindString(text) }
