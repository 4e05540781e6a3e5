package handlers

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// defaultNext is where a login goes when it has no valid next path.
	defaultNext = "/dashboard"
	// maxNextLength bounds the next path that a login page carries.
	maxNextLength = 2048
	// maxNextDecodes bounds how many layers of percent-encoding are checked.
	maxNextDecodes = 3
)

// localPath reports whether next is a path on this site that a redirect may
// send the browser to. Browsers read "//host" and "/\host" as another host,
// so next must start with exactly one slash and contain no backslash, no
// control character and no scheme. Every percent-decoded form must follow
// the same rules, because a proxy or a later redirect may decode it.
func localPath(next string) bool {
	if next == "" || len(next) > maxNextLength {
		return false
	}

	form := next
	for decodes := 0; ; decodes++ {
		if !localPathForm(form) {
			return false
		}

		decoded, err := url.PathUnescape(form)
		if err != nil && decodes == 0 {
			return false
		}
		if err != nil {
			// A decoded form with a bare "%", such as "?q=100%", is
			// plain text that no decoder reads further.
			break
		}
		if decoded == form {
			break
		}
		if decodes == maxNextDecodes {
			// Still encoded after maxNextDecodes layers: no real link does that.
			return false
		}
		form = decoded
	}

	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return false
	}

	return true
}

// localPathForm checks one form of a next path: valid UTF-8, a single
// leading slash, no backslash and no control character.
func localPathForm(path string) bool {
	if !utf8.ValidString(path) {
		return false
	}
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") {
		return false
	}
	if strings.Contains(path, `\`) {
		return false
	}

	return !strings.ContainsFunc(path, unicode.IsControl)
}

// nextOrDefault returns next when it is a local path and defaultNext
// otherwise.
func nextOrDefault(next string) string {
	if localPath(next) {
		return next
	}

	return defaultNext
}
