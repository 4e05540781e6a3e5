package i18n

import (
	"strconv"
	"time"
)

var monthNames = map[string][12]string{
	Spanish: {"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
	English: {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
}

// FormatTime writes a date and time the way lang writes them, in UTC, which
// is the only zone the server can be sure of.
func FormatTime(lang string, t time.Time) string {
	t = t.UTC()
	months, ok := monthNames[lang]
	if !ok {
		months = monthNames[Default]
	}
	month := months[t.Month()-1]
	year, _, day := t.Date()
	hour, minute, _ := t.Clock()

	// Appending instead of fmt.Sprintf: the dashboard formats two times on
	// every request.
	b := make([]byte, 0, 48)
	if lang == English {
		b = append(b, month...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(day), 10)
		b = append(b, ", "...)
		b = strconv.AppendInt(b, int64(year), 10)
	} else {
		b = strconv.AppendInt(b, int64(day), 10)
		b = append(b, " de "...)
		b = append(b, month...)
		b = append(b, " de "...)
		b = strconv.AppendInt(b, int64(year), 10)
	}
	b = append(b, ", "...)
	b = appendTwoDigits(b, hour)
	b = append(b, ':')
	b = appendTwoDigits(b, minute)
	b = append(b, " UTC"...)

	return string(b)
}

// appendTwoDigits appends n, from 0 to 99, with a leading zero below 10.
func appendTwoDigits(b []byte, n int) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

// FormatDuration writes d in whole days, hours or minutes, whichever unit
// divides it, as configured timeouts usually do.
func FormatDuration(lang string, d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return count(lang, "time.day", "time.days", int(d/(24*time.Hour)))
	case d >= time.Hour && d%time.Hour == 0:
		return count(lang, "time.hour", "time.hours", int(d/time.Hour))
	}

	return count(lang, "time.minute", "time.minutes", int(d/time.Minute))
}

// count picks the singular message for 1 and the plural otherwise, which is
// the rule of both Spanish and English.
func count(lang, singular, plural string, n int) string {
	if n == 1 {
		return T(lang, singular)
	}

	return T(lang, plural, n)
}

// FormatBrowser names a browser and its operating system in lang, such as
// "Firefox on Linux", with the catalog's words for an unknown one in place
// of an empty name.
func FormatBrowser(lang, browser, system string) string {
	if browser == "" {
		browser = T(lang, "sessions.unknown_browser")
	}
	if system == "" {
		system = T(lang, "sessions.unknown_os")
	}

	return T(lang, "sessions.browser_on_os", browser, system)
}
