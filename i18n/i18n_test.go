package i18n_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portero/portero/i18n"
)

// verbPattern finds fmt verbs, so that a translation that drops or adds one
// is caught before it prints %!d(MISSING) on a page.
var verbPattern = regexp.MustCompile(`%[-+# 0]*[0-9]*(\.[0-9]+)?[a-zA-Z%]`)

func TestCatalogComplete(t *testing.T) {
	es := i18n.Keys(i18n.Spanish)
	en := i18n.Keys(i18n.English)

	if len(es) == 0 {
		t.Fatal("Keys(es): got no keys, want the catalog")
	}
	for _, k := range es {
		if !slices.Contains(en, k) {
			t.Errorf("key %q: found in es, missing in en", k)
		}
	}
	for _, k := range en {
		if !slices.Contains(es, k) {
			t.Errorf("key %q: found in en, missing in es", k)
		}
	}
}

func TestCatalogNoEmptyMessage(t *testing.T) {
	for _, lang := range i18n.Languages {
		for _, k := range i18n.Keys(lang) {
			if strings.TrimSpace(i18n.T(lang, k)) == "" {
				t.Errorf("T(%q, %q): got an empty message, want text", lang, k)
			}
		}
	}
}

func TestCatalogSameVerbs(t *testing.T) {
	for _, k := range i18n.Keys(i18n.Spanish) {
		es := verbPattern.FindAllString(i18n.T(i18n.Spanish, k), -1)
		en := verbPattern.FindAllString(i18n.T(i18n.English, k), -1)

		if !slices.Equal(es, en) {
			t.Errorf("verbs of %q: got %q in es and %q in en, want the same", k, es, en)
		}
	}
}

func TestKeysSorted(t *testing.T) {
	for _, lang := range i18n.Languages {
		keys := i18n.Keys(lang)
		if !slices.IsSorted(keys) {
			t.Errorf("Keys(%q): got unsorted keys, want them sorted", lang)
		}
	}
}

func TestTranslate(t *testing.T) {
	tests := []struct {
		lang string
		key  string
		args []any
		want string
	}{
		{i18n.Spanish, "login.submit", nil, "Entrar"},
		{i18n.English, "login.submit", nil, "Log in"},
		{i18n.Spanish, "dashboard.welcome", []any{"Ana"}, "Hola, Ana"},
		{i18n.English, "dashboard.welcome", []any{"Ana"}, "Hello, Ana"},
		{"fr", "login.submit", nil, "Entrar"},
		{i18n.English, "no.such.key", nil, "no.such.key"},
	}

	for _, tt := range tests {
		got := i18n.T(tt.lang, tt.key, tt.args...)
		if got != tt.want {
			t.Errorf("T(%q, %q): got %q, want %q", tt.lang, tt.key, got, tt.want)
		}
	}
}

func TestSupported(t *testing.T) {
	tests := []struct {
		lang string
		want bool
	}{
		{"es", true},
		{"en", true},
		{"", false},
		{"fr", false},
		{"EN", false},
		{"en-US", false},
	}

	for _, tt := range tests {
		if got := i18n.Supported(tt.lang); got != tt.want {
			t.Errorf("Supported(%q): got %v, want %v", tt.lang, got, tt.want)
		}
	}
}

func TestFromAcceptLanguage(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   string
	}{
		{"empty", "", "es"},
		{"English with region", "en-US,en;q=0.9", "en"},
		{"Spanish with region", "es-MX", "es"},
		{"unsupported only", "fr-FR", "es"},
		{"highest quality wins", "fr, en;q=0.5, es;q=0.8", "es"},
		{"low quality still supported", "de, en;q=0.1", "en"},
		{"upper case tag", "EN-GB", "en"},
		{"spaces around parts", "  fr ,  en ; q=0.7 ", "en"},
		{"tie keeps header order", "en, es", "en"},
		{"quality zero excluded", "en;q=0", "es"},
		{"wildcard", "*", "es"},
		{"malformed quality", "en;q=abc", "es"},
		{"malformed quality ignored", "en;q=high, es;q=0.1", "es"},
		{"malformed quality ignored for es", "es;q=x, en;q=0.5", "en"},
		{"quality over 1", "en;q=2", "es"},
		{"negative quality", "en;q=-1, es;q=0.2", "es"},
		{"garbage", ";;,,;q=", "es"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := i18n.FromAcceptLanguage(tt.header); got != tt.want {
				t.Errorf("FromAcceptLanguage(%q): got %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		cookie string // empty means no cookie
		header string
		want   string
	}{
		{"nothing", "", "", "", "es"},
		{"header only", "", "", "en-US,en;q=0.9", "en"},
		{"cookie over header", "", "es", "en-US", "es"},
		{"cookie only", "", "en", "", "en"},
		{"query over cookie and header", "?lang=en", "es", "es", "en"},
		{"query over cookie", "?lang=es", "en", "en", "es"},
		{"unsupported query falls to cookie", "?lang=fr", "en", "es", "en"},
		{"unsupported cookie falls to header", "", "fr", "en", "en"},
		{"unsupported query and cookie", "?lang=de", "de", "en", "en"},
		{"empty query", "?lang=", "", "en", "en"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/login"+tt.query, nil)
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: i18n.CookieName, Value: tt.cookie})
			}
			if tt.header != "" {
				r.Header.Set("Accept-Language", tt.header)
			}

			if got := i18n.Negotiate(r); got != tt.want {
				t.Errorf("Negotiate: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFormatTime(t *testing.T) {
	plusOne := time.FixedZone("UTC+1", 3600)

	tests := []struct {
		name string
		lang string
		t    time.Time
		want string
	}{
		{"Spanish", i18n.Spanish, time.Date(2024, time.March, 5, 14, 7, 0, 0, time.UTC), "5 de marzo de 2024, 14:07 UTC"},
		{"English", i18n.English, time.Date(2024, time.March, 5, 14, 7, 0, 0, time.UTC), "March 5, 2024, 14:07 UTC"},
		{"Spanish December", i18n.Spanish, time.Date(2025, time.December, 31, 9, 5, 0, 0, time.UTC), "31 de diciembre de 2025, 09:05 UTC"},
		{"English January", i18n.English, time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC), "January 1, 2026, 00:00 UTC"},
		{"converted to UTC", i18n.English, time.Date(2024, time.March, 5, 0, 30, 0, 0, plusOne), "March 4, 2024, 23:30 UTC"},
		{"unsupported language", "fr", time.Date(2024, time.July, 14, 12, 0, 0, 0, time.UTC), "14 de julio de 2024, 12:00 UTC"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := i18n.FormatTime(tt.lang, tt.t); got != tt.want {
				t.Errorf("FormatTime(%q): got %q, want %q", tt.lang, got, tt.want)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		lang string
		d    time.Duration
		want string
	}{
		{i18n.Spanish, 168 * time.Hour, "7 días"},
		{i18n.English, 168 * time.Hour, "7 days"},
		{i18n.Spanish, 720 * time.Hour, "30 días"},
		{i18n.English, 48 * time.Hour, "2 days"},
		{i18n.Spanish, 36 * time.Hour, "36 horas"},
		{i18n.English, 2 * time.Hour, "2 hours"},
		{i18n.Spanish, 90 * time.Minute, "90 minutos"},
		{i18n.English, 30 * time.Minute, "30 minutes"},
	}

	for _, tt := range tests {
		if got := i18n.FormatDuration(tt.lang, tt.d); got != tt.want {
			t.Errorf("FormatDuration(%q, %v): got %q, want %q", tt.lang, tt.d, got, tt.want)
		}
	}
}

// A 24h SESSION_IDLE_TIMEOUT must read "1 day", not "1 days".
func TestFormatDurationSingular(t *testing.T) {
	tests := []struct {
		lang string
		d    time.Duration
		want string
	}{
		{i18n.Spanish, 24 * time.Hour, "1 día"},
		{i18n.English, 24 * time.Hour, "1 day"},
		{i18n.Spanish, time.Hour, "1 hora"},
		{i18n.English, time.Hour, "1 hour"},
		{i18n.Spanish, time.Minute, "1 minuto"},
		{i18n.English, time.Minute, "1 minute"},
	}

	for _, tt := range tests {
		if got := i18n.FormatDuration(tt.lang, tt.d); got != tt.want {
			t.Errorf("FormatDuration(%q, %v): got %q, want %q", tt.lang, tt.d, got, tt.want)
		}
	}
}
