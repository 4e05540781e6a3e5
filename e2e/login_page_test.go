package e2e

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"
)

// Chromium in headless mode ignores --lang for the Accept-Language header and
// sends "en-US,en;q=0.9" (checked with Debian's chromium 156), so the tests
// set the header with --accept-lang, which it does send.
var (
	spanishBrowser = chromedp.Flag("accept-lang", "es-ES,es")
	englishBrowser = chromedp.Flag("accept-lang", "en-US,en")
)

// TestLoginLanguageNegotiation checks the page language that Accept-Language
// selects when neither ?lang nor the language cookie is present.
func TestLoginLanguageNegotiation(t *testing.T) {
	d := newDeployment(t)
	d.start(t)

	tests := []struct {
		name           string
		acceptLanguage string
		want           string
	}{
		{"no header", "", "es"},
		{"unsupported language", "fr-FR,fr;q=0.9", "es"},
		{"English", "en", "en"},
		{"English region", "en-GB,en;q=0.9", "en"},
		{"Spanish before English", "es-MX,es;q=0.9,en;q=0.8", "es"},
		{"English before Spanish", "de;q=1.0,en;q=0.8,es;q=0.5", "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := htmlLang(t, d.baseURL()+"/login", tt.acceptLanguage)
			if got != tt.want {
				t.Errorf("html lang with Accept-Language %q: got %q, want %q", tt.acceptLanguage, got, tt.want)
			}
		})
	}
}

// TestLoginPageAccessibility checks the login form's labels and autocomplete
// hints, the page language, and the language switch, in Chromium.
func TestLoginPageAccessibility(t *testing.T) {
	ctx := newBrowser(t, spanishBrowser)
	d := newDeployment(t)
	d.start(t)

	do(t, ctx, "open the login page", chromedp.Navigate(d.baseURL()+"/login"))
	requireLang(t, ctx, "for a Spanish browser", "es")

	fields := []struct {
		id           string
		inputType    string
		autocomplete string
	}{
		{"email", "email", "username"},
		{"password", "password", "current-password"},
	}
	spanishLabels := map[string]string{}
	for _, field := range fields {
		selector := chromedp.CSS("#" + field.id)
		attributes := get(t, ctx, "read the attributes of #"+field.id, chromedp.Attributes(selector))
		if got := attributes["type"]; got != field.inputType {
			t.Errorf("#%s type: got %q, want %q", field.id, got, field.inputType)
		}
		if got := attributes["autocomplete"]; got != field.autocomplete {
			t.Errorf("#%s autocomplete: got %q, want %q", field.id, got, field.autocomplete)
		}

		// input.labels lists the labels that the browser associates with the
		// field, which is what a screen reader announces.
		labels := get(t, ctx, "count the labels of #"+field.id,
			chromedp.Evaluate[int](`document.getElementById("`+field.id+`").labels.length`))
		if labels != 1 {
			t.Errorf("labels of #%s: got %d, want 1", field.id, labels)
		}
		spanishLabels[field.id] = labelText(t, ctx, field.id)
		if spanishLabels[field.id] == "" {
			t.Errorf("label of #%s: got empty text, want a name", field.id)
		}
	}

	for _, lang := range []string{"es", "en"} {
		if !get(t, ctx, "check the switch link to "+lang, chromedp.Evaluate[bool](linkVisibleJS(lang))) {
			t.Errorf("language switch link ?lang=%s: got missing or not visible in the viewport, want visible", lang)
		}
	}
	current := get(t, ctx, "read the current language link",
		chromedp.AttributeValue(chromedp.CSS(`nav a[href="?lang=es"]`), "aria-current"))
	if current.Value != "true" {
		t.Errorf(`aria-current of the Spanish link on a Spanish page: got %q, want "true"`, current.Value)
	}

	do(t, ctx, "switch to English",
		chromedp.Click(chromedp.CSS(`nav a[href="?lang=en"]`)),
		chromedp.WaitReady(chromedp.CSS(`html[lang="en"]`)),
	)
	if got, want := currentPath(t, ctx), "/login?lang=en"; got != want {
		t.Errorf("page after the English link: got %s, want %s", got, want)
	}
	for id, spanish := range spanishLabels {
		if got := labelText(t, ctx, id); got == "" || got == spanish {
			t.Errorf("label of #%s in English: got %q, want a non-empty text other than the Spanish %q", id, got, spanish)
		}
	}

	// The switch stores the choice in a cookie, which takes precedence over
	// Accept-Language.
	do(t, ctx, "open the login page again", chromedp.Navigate(d.baseURL()+"/login"))
	requireLang(t, ctx, "after choosing English", "en")

	do(t, ctx, "switch back to Spanish",
		chromedp.Click(chromedp.CSS(`nav a[href="?lang=es"]`)),
		chromedp.WaitReady(chromedp.CSS(`html[lang="es"]`)),
	)
	do(t, ctx, "open the login page again", chromedp.Navigate(d.baseURL()+"/login"))
	requireLang(t, ctx, "after choosing Spanish", "es")

	english := newBrowser(t, englishBrowser)
	do(t, english, "open the login page in an English browser", chromedp.Navigate(d.baseURL()+"/login"))
	requireLang(t, english, "for an English browser", "en")
}

// requireLang fails the test unless the page's html element has lang want.
func requireLang(t *testing.T, ctx context.Context, when, want string) {
	t.Helper()

	got := get(t, ctx, "read html lang", chromedp.AttributeValue(chromedp.CSS("html"), "lang"))
	if got.Value != want {
		t.Errorf("html lang %s: got %q, want %q", when, got.Value, want)
	}
}

func labelText(t *testing.T, ctx context.Context, id string) string {
	t.Helper()

	return get(t, ctx, "read the label of #"+id, chromedp.Text(chromedp.CSS(`label[for="`+id+`"]`)))
}

// linkVisibleJS returns a script that reports whether the switch link to
// lang is rendered, has a size and lies at least partly inside the viewport.
func linkVisibleJS(lang string) string {
	return `(() => {
		const link = document.querySelector('nav a[href="?lang=` + lang + `"]');
		if (!link || !link.checkVisibility({opacityProperty: true, visibilityProperty: true})) {
			return false;
		}
		const box = link.getBoundingClientRect();
		return box.width > 0 && box.height > 0 &&
			box.right > 0 && box.bottom > 0 &&
			box.left < window.innerWidth && box.top < window.innerHeight;
	})()`
}

var htmlLangPattern = regexp.MustCompile(`<html lang="([^"]*)"`)

// htmlLang requests url with a plain HTTP client, which sends no
// Accept-Language unless acceptLanguage is set, and returns the lang
// attribute of the page's html element.
func htmlLang(t *testing.T, url, acceptLanguage string) string {
	t.Helper()

	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("build GET %s: %v", url, err)
	}
	if acceptLanguage != "" {
		req.Header.Set("Accept-Language", acceptLanguage)
	}

	resp, err := noRedirectClient().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the body of GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: got status %d, want 200", url, resp.StatusCode)
	}

	match := htmlLangPattern.FindSubmatch(body)
	if match == nil {
		t.Fatalf("GET %s: got no <html lang=...> in the body, want one", url)
	}

	return string(match[1])
}
