package brand

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Palette is the accent colour and the colours derived from it, as CSS hex colours.
type Palette struct {
	// Accent is the operator's colour: main buttons (white text on it) and links on light
	// backgrounds, at least 4.5:1 with white.
	Accent string
	// Hover is Accent darkened, for hovered buttons and links.
	Hover string
	// Light is Accent mixed with white until it reaches 4.5:1 on DarkSurface: links and
	// accents in dark mode.
	Light string
}

// The backgrounds the palette is checked against: white (the light pages' cards) and the
// lightest dark-mode surface text sits on (app.css, --subtle-bg in prefers-color-scheme:
// dark; the card, the page and the notices are darker).
const (
	White       = "#ffffff"
	DarkSurface = "#2a3139"
)

// minContrast is WCAG 2 AA for text (1.4.3).
const minContrast = 4.5

// NewPalette checks colour (#rrggbb or #rgb) and derives the palette. It refuses a colour
// on which white text is below 4.5:1.
func NewPalette(colour string) (Palette, error) {
	c, err := parseHex(colour)
	if err != nil {
		return Palette{}, err
	}
	white := rgb{255, 255, 255}
	if r := Contrast(c, white); r < minContrast {
		return Palette{}, fmt.Errorf("white text on it has a contrast of %.1f:1, below the 4.5:1 pages need (WCAG AA): choose a darker colour", r)
	}
	dark, _ := parseHex(DarkSurface)
	light := c
	for i := 1; Contrast(light, dark) < minContrast && i <= 20; i++ {
		light = mix(c, white, float64(i)/20)
	}
	return Palette{Accent: c.hex(), Hover: mix(c, rgb{}, 0.25).hex(), Light: light.hex()}, nil
}

// CSS is the stylesheet that gives the pages these colours (custom properties that app.css
// uses).
func (p Palette) CSS() string {
	return fmt.Sprintf(":root {\n  --brand: %s;\n  --brand-hover: %s;\n  --brand-light: %s;\n}\n", p.Accent, p.Hover, p.Light)
}

type rgb [3]uint8

func (c rgb) hex() string { return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]) }

func parseHex(s string) (rgb, error) {
	bad := errors.New("want a colour as #rrggbb or #rgb, e.g. #0b5394")
	h, ok := strings.CutPrefix(strings.TrimSpace(s), "#")
	if !ok || (len(h) != 3 && len(h) != 6) {
		return rgb{}, bad
	}
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	var c rgb
	for i := range 3 {
		v, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			return rgb{}, bad
		}
		c[i] = uint8(v)
	}
	return c, nil
}

// luminance is the WCAG relative luminance of c.
func luminance(c rgb) float64 {
	var l [3]float64
	for i, v := range c {
		s := float64(v) / 255
		if s <= 0.04045 {
			l[i] = s / 12.92
		} else {
			l[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

// Contrast is the WCAG contrast ratio of two colours, from 1 to 21.
func Contrast(a, b rgb) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// ContrastHex is Contrast of two #rrggbb colours (0 if either is not one).
func ContrastHex(a, b string) float64 {
	ca, err := parseHex(a)
	if err != nil {
		return 0
	}
	cb, err := parseHex(b)
	if err != nil {
		return 0
	}
	return Contrast(ca, cb)
}

// mix is a moved towards b by t (0: a, 1: b).
func mix(a, b rgb, t float64) rgb {
	var out rgb
	for i := range 3 {
		out[i] = uint8(math.Round(float64(a[i]) + (float64(b[i])-float64(a[i]))*t))
	}
	return out
}
