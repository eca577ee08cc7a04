package notify

import (
	"strings"
	"unicode/utf16"
)

// gsm7Basic is the GSM 03.38 default alphabet (one septet each), without the escape
// character itself.
const gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsm7Extension is the GSM 03.38 extension table: each character is sent as the escape
// septet followed by its own, so it counts as two.
const gsm7Extension = "\f^{}\\[]~|€"

// SMS segment sizes: a single message carries 140 octets; a part of a longer one loses 6 to
// the concatenation header.
const (
	gsm7Single = 160 // septets
	gsm7Part   = 153
	ucs2Single = 70 // UTF-16 code units
	ucs2Part   = 67
)

// Segments returns how many SMS segments text is sent as. Text made only of characters of
// the GSM 03.38 default alphabet and its extension table is sent as GSM-7: up to 160
// septets in one segment, 153 per segment beyond that, extension characters (^ { } \ [ ] ~
// | € and form feed) counting two and never split across segments. Any other character
// (Cyrillic, Kazakh letters, curly quotes, emoji) makes the whole text UCS-2: up to 70
// UTF-16 code units in one segment, 67 per segment beyond that, a surrogate pair never
// split. National language shift tables are not assumed (none covers Kazakh or Russian).
// An empty text is one segment, as an empty SMS is still one message.
func Segments(text string) int {
	single, part := ucs2Single, ucs2Part
	width := func(r rune) int { return utf16.RuneLen(r) }
	if IsGSM7(text) {
		single, part = gsm7Single, gsm7Part
		width = func(r rune) int {
			if strings.ContainsRune(gsm7Extension, r) {
				return 2
			}
			return 1
		}
	}
	total := 0
	for _, r := range text {
		total += width(r)
	}
	if total <= single {
		return 1
	}
	segments, used := 1, 0
	for _, r := range text {
		w := width(r)
		if used+w > part {
			segments++
			used = 0
		}
		used += w
	}
	return segments
}

// IsGSM7 reports whether text can be sent in the GSM 03.38 7-bit alphabet (default
// alphabet and extension table), so that an SMS holds 160 characters instead of 70.
func IsGSM7(text string) bool {
	for _, r := range text {
		if !strings.ContainsRune(gsm7Basic, r) && !strings.ContainsRune(gsm7Extension, r) {
			return false
		}
	}
	return true
}
