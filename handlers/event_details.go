package handlers

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/portero/portero/i18n"
)

// eventDetail is one detail of a security event as the admin pages show it.
type eventDetail struct {
	Label string
	Value string
}

// eventDetails translates the details of an event into lang, sorted by key.
// A known key has the label "event.detail.KEY" in the catalog. A text value
// that has the entry "event.detail.KEY.VALUE" is shown as that entry. Any
// other key or value is shown as stored, and html/template escapes it.
// skipBy leaves out the "by" detail, which the page already shows beside
// the event's label.
func eventDetails(lang string, details map[string]any, skipBy bool) []eventDetail {
	rows := make([]eventDetail, 0, len(details))
	for _, key := range slices.Sorted(maps.Keys(details)) {
		if key == "by" && skipBy {
			continue
		}

		label := key
		if labelKey := "event.detail." + key; i18n.Has(labelKey) {
			label = i18n.T(lang, labelKey)
		}
		rows = append(rows, eventDetail{Label: label, Value: detailValue(lang, key, details[key])})
	}

	return rows
}

// detailValue formats one detail value in lang. Numbers come back from the
// JSON column as float64 and are formatted without an exponent.
func detailValue(lang, key string, value any) string {
	var text string
	switch v := value.(type) {
	case float64:
		if key == "locked_for_seconds" {
			return lockDuration(lang, v)
		}
		text = strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		text = v
	default:
		text = fmt.Sprint(v)
	}

	if valueKey := "event.detail." + key + "." + text; i18n.Has(valueKey) {
		return i18n.T(lang, valueKey)
	}

	return text
}

// lockDuration formats a lock of the given seconds in whole minutes, the
// unit of the login page's lock message. A lock under half a minute, which
// the configuration does not allow, is formatted in seconds.
func lockDuration(lang string, seconds float64) string {
	d := time.Duration(seconds * float64(time.Second)).Round(time.Minute)
	if d < time.Minute {
		return strconv.FormatFloat(seconds, 'f', -1, 64) + " s"
	}

	return i18n.FormatDuration(lang, d)
}
