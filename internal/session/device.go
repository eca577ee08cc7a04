package session

import (
	"fmt"
	"net/netip"
	"strings"
)

// Device names the browser and the system of a user agent, for people to recognise their
// own sessions: a small table, checked in order, of the tokens today's browsers send (most
// browsers also claim to be the ones they descend from, so the descendants come first). An
// agent it does not know gives "" for either.
//
// A table and not a library: the list shows a name, not a version, and a name is all the
// agents a citizen portal sees need; the table is tested agent by agent (device_test.go).
func Device(ua string) (browser, system string) {
	find := func(pairs [][2]string) string {
		for _, p := range pairs {
			if strings.Contains(ua, p[0]) {
				return p[1]
			}
		}
		return ""
	}
	browser = find(browsers)
	system = find(systems)
	return browser, system
}

var browsers = [][2]string{
	{"YaBrowser/", "Yandex Browser"}, {"SamsungBrowser/", "Samsung Internet"}, {"Edg/", "Edge"},
	{"EdgA/", "Edge"}, {"EdgiOS/", "Edge"}, {"OPR/", "Opera"}, {"OPT/", "Opera"}, {"Vivaldi/", "Vivaldi"},
	{"FxiOS/", "Firefox"}, {"Firefox/", "Firefox"}, {"CriOS/", "Chrome"}, {"HeadlessChrome/", "Chrome"},
	{"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"},
}

var systems = [][2]string{
	{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"},
	{"CrOS", "ChromeOS"}, {"Mac OS X", "macOS"}, {"Macintosh", "macOS"}, {"Linux", "Linux"},
}

// MaskIP shows enough of an address for its owner to recognise a network, not enough to
// name a subscriber: the first three bytes of IPv4 (203.0.113.*), the first three groups
// of IPv6 (2001:db8:85a3:*). Anything else is shown as "".
func MaskIP(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		p := netip.AddrFrom4([4]byte{b[0], b[1], b[2], 0}).String()
		return strings.TrimSuffix(p, "0") + "*"
	}
	b := a.As16()
	return fmt.Sprintf("%x:%x:%x:*", uint16(b[0])<<8|uint16(b[1]), uint16(b[2])<<8|uint16(b[3]), uint16(b[4])<<8|uint16(b[5]))
}
