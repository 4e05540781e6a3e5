// Package i18n holds every user-facing message in Spanish and English and
// picks the language of a request.
package i18n

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Supported languages. Spanish comes first because it is the default.
const (
	Spanish = "es"
	English = "en"
)

// Languages lists the supported languages in the order the switch shows them.
var Languages = []string{Spanish, English}

// Default is used when Accept-Language matches no supported language.
const Default = Spanish

// CookieName stores a language picked with the switch on the page.
const CookieName = "lang"

// Supported reports whether lang is one of Languages.
func Supported(lang string) bool {
	_, ok := catalog[lang]
	return ok
}

// T returns the message for key in lang, formatted with args. A key missing
// from the catalog is a programming error that the catalog test catches, so
// here it falls back to the key itself rather than failing the page.
func T(lang, key string, args ...any) string {
	msg, ok := catalog[lang][key]
	if !ok {
		msg, ok = catalog[Default][key]
	}
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}

	return msg
}

// Has reports whether key exists in the default language's catalog.
func Has(key string) bool {
	_, ok := catalog[Default][key]
	return ok
}

// Keys returns every message key of lang, sorted.
func Keys(lang string) []string {
	keys := make([]string, 0, len(catalog[lang]))
	for k := range catalog[lang] {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	return keys
}

// Negotiate picks the language of a request: the `lang` query parameter,
// then the language cookie, then the best Accept-Language match, then Spanish.
func Negotiate(r *http.Request) string {
	// Parsing a query allocates a map, so a request without one skips it.
	if r.URL.RawQuery != "" {
		if q := r.URL.Query().Get("lang"); Supported(q) {
			return q
		}
	}
	if c, err := r.Cookie(CookieName); err == nil && Supported(c.Value) {
		return c.Value
	}

	return FromAcceptLanguage(r.Header.Get("Accept-Language"))
}

// FromAcceptLanguage returns the supported language with the highest quality
// in an Accept-Language header, or Default. Ties keep the header's order.
func FromAcceptLanguage(header string) string {
	best, bestQ := Default, 0.0
	for part := range strings.SplitSeq(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		params = strings.ToLower(strings.TrimSpace(params))
		if v, ok := strings.CutPrefix(params, "q="); ok {
			parsed, err := strconv.ParseFloat(v, 64)
			if err != nil || parsed < 0 || parsed > 1 {
				continue
			}
			q = parsed
		}

		base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if Supported(base) && q > bestQ {
			best, bestQ = base, q
		}
	}

	return best
}
