// Package useragent names the browser and operating system of a
// User-Agent header, for the list of a user's sessions.
package useragent

import "strings"

// Names of the operating systems that Parse recognizes.
const (
	Windows  = "Windows"
	MacOS    = "macOS"
	IOS      = "iOS"
	IPadOS   = "iPadOS"
	Android  = "Android"
	Linux    = "Linux"
	ChromeOS = "ChromeOS"
)

// Names of the browsers that Parse recognizes.
const (
	Chrome          = "Chrome"
	Firefox         = "Firefox"
	Safari          = "Safari"
	Edge            = "Edge"
	Opera           = "Opera"
	SamsungInternet = "Samsung Internet"
)

// Agent is the browser and the operating system named in a User-Agent
// header. An empty field is unknown.
type Agent struct {
	Browser string
	// Version is the browser's major version, such as "126".
	Version string
	OS      string
}

// browserTokens are checked in order, because most browsers also send the
// tokens of the engines they build on: Edge, Opera and Samsung Internet send
// Chrome/ and Safari/, and Chrome sends Safari/.
var browserTokens = []struct {
	token string
	name  string
}{
	{"SamsungBrowser/", SamsungInternet},
	{"EdgiOS/", Edge},
	{"EdgA/", Edge},
	{"Edg/", Edge},
	{"Edge/", Edge},
	{"OPiOS/", Opera},
	{"OPR/", Opera},
	{"OPT/", Opera},
	{"FxiOS/", Firefox},
	{"Firefox/", Firefox},
	{"CriOS/", Chrome},
	{"Chrome/", Chrome},
}

// Parse names the browser and the operating system of a User-Agent header.
// A client that imitates another's header gets that other's names.
func Parse(header string) Agent {
	browser, version := parseBrowser(header)
	return Agent{Browser: browser, Version: version, OS: parseOS(header)}
}

func parseBrowser(header string) (name, version string) {
	for _, b := range browserTokens {
		if strings.Contains(header, b.token) {
			return b.name, majorVersion(header, b.token)
		}
	}

	switch {
	case strings.HasPrefix(header, "Opera/"):
		// Opera 10 to 12 sent "Opera/9.80" and the real version in Version/.
		return Opera, majorVersion(header, "Version/")
	case isSafari(header):
		return Safari, majorVersion(header, "Version/")
	}

	return "", ""
}

// isSafari reports whether header is Safari's: Safari/ with Version/. Apps
// that show pages in a web view on iOS send Safari/ without Version/.
func isSafari(header string) bool {
	return strings.Contains(header, "Safari/") && strings.Contains(header, "Version/") &&
		(strings.Contains(header, "Macintosh") || strings.Contains(header, "iPhone") ||
			strings.Contains(header, "iPad") || strings.Contains(header, "iPod"))
}

// majorVersion returns the digits right after token, or "".
func majorVersion(header, token string) string {
	_, rest, found := strings.Cut(header, token)
	if !found {
		return ""
	}
	end := 0
	for end < len(rest) && end < 6 && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}

	return rest[:end]
}

// parseOS checks the platforms in order, because Android and ChromeOS
// headers also contain "Linux", and iPhone headers "like Mac OS X".
func parseOS(header string) string {
	switch {
	case strings.Contains(header, "Windows NT"):
		return Windows
	case strings.Contains(header, "iPad"):
		// iPadOS 13 and later send the Macintosh header of desktop Safari
		// by default, so those iPads count as macOS.
		return IPadOS
	case strings.Contains(header, "iPhone") || strings.Contains(header, "iPod"):
		return IOS
	case strings.Contains(header, "Android"):
		return Android
	case strings.Contains(header, "CrOS"):
		return ChromeOS
	case strings.Contains(header, "Macintosh") || strings.Contains(header, "Mac OS X"):
		return MacOS
	case strings.Contains(header, "Linux"):
		return Linux
	}

	return ""
}
