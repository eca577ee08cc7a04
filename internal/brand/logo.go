package brand

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Logo is the operator's logo, checked. The pages serve it themselves under a name carrying
// its content's hash, cached for good.
type Logo struct {
	Body []byte
	// Ext is ".svg" or ".png"; Type its media type.
	Ext  string
	Type string
}

// Name is the logo's served file name: logo.HASH.svg or logo.HASH.png.
func (l *Logo) Name() string {
	sum := sha256.Sum256(l.Body)
	return "logo." + hex.EncodeToString(sum[:4]) + l.Ext
}

// maxLogo bounds the logo: a header image, not a photograph.
const maxLogo = 512 << 10

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// LoadLogo reads and checks an SVG or PNG logo. An SVG must be an <svg> document without
// scripts, event handlers, foreign objects or references outside itself: it is served from
// the pages' own origin.
func LoadLogo(path string) (*Logo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the file: %v", errors.Unwrap(err))
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, maxLogo+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the file: %v", err)
	}
	if len(body) > maxLogo {
		return nil, fmt.Errorf("larger than %d KiB", maxLogo>>10)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		if !bytes.HasPrefix(body, pngSignature) {
			return nil, errors.New("named .png but not a PNG image")
		}
		return &Logo{Body: body, Ext: ".png", Type: "image/png"}, nil
	case ".svg":
		if err := checkSVG(body); err != nil {
			return nil, err
		}
		return &Logo{Body: body, Ext: ".svg", Type: "image/svg+xml"}, nil
	}
	return nil, errors.New("want an .svg or .png file")
}

func checkSVG(body []byte) error {
	d := xml.NewDecoder(bytes.NewReader(body))
	root := true
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("not a well-formed SVG document: %v", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root {
			if el.Name.Local != "svg" {
				return fmt.Errorf("not an SVG image: the document is <%s>, not <svg>", el.Name.Local)
			}
			root = false
		}
		switch strings.ToLower(el.Name.Local) {
		case "script", "foreignobject", "iframe", "embed", "object":
			return fmt.Errorf("an SVG logo must not contain <%s>", el.Name.Local)
		}
		for _, a := range el.Attr {
			name := strings.ToLower(a.Name.Local)
			if strings.HasPrefix(name, "on") {
				return fmt.Errorf("an SVG logo must not contain event handlers (%s)", a.Name.Local)
			}
			if name == "href" && !strings.HasPrefix(strings.TrimSpace(a.Value), "#") {
				return errors.New("an SVG logo must not refer to other files or addresses (href)")
			}
		}
	}
	if root {
		return errors.New("not an SVG image: empty document")
	}
	return nil
}
