package handlers

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
)

// pageNames lists every page; parsing fails at start if one is missing.
var pageNames = []string{"login", "dashboard", "error", "https", "account_sessions", "account_password", "reauth",
	"my_account", "admin_users", "admin_user", "admin_events", "account_keys", "login_key"}

// parseTemplates parses layout.html with each page into its own set, because
// every page defines the same "content" block. It returns one set per page
// and language, keyed by pageKey, in which bakePage has already rendered the
// parts that depend only on the language.
func parseTemplates(fsys fs.FS, funcs template.FuncMap) (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, "layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}

	pages := make(map[string]*template.Template, len(pageNames)*len(i18n.Languages))
	cache := bakeCache{}
	for _, name := range pageNames {
		set, err := layout.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := set.ParseFS(fsys, name+".html"); err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}

		langSets, err := bakePage(set, funcs, cache)
		if err != nil {
			return nil, fmt.Errorf("bake page %s: %w", name, err)
		}
		for lang, langSet := range langSets {
			pages[pageKey(name, lang)] = langSet
		}
	}

	return pages, nil
}

// pageKey is the key of a page's template set for one language.
func pageKey(name, lang string) string {
	return name + "/" + lang
}

// LangLink is one entry of the language switch.
type LangLink struct {
	Code    string
	Name    string
	Current bool
}

// Page is the data every template receives.
type Page struct {
	Lang      string
	Title     string
	CSRFToken string
	Error     string
	Notice    string
	Languages []LangLink
	User      *db.User
	Data      any
	// PasswordLimit comes from the app's password hasher, so
	// PASSWORD_PEPPER raises it.
	PasswordLimit PasswordLimit
}

// PasswordLimit is the maximum length of a new password, for the hints of
// the password forms and the checks of password.js.
type PasswordLimit struct {
	// MaxChars is the maximum in characters, or 0 when MaxBytes alone
	// limits the length, as without a pepper.
	MaxChars int
	// MaxBytes is the maximum in bytes of UTF-8.
	MaxBytes int
}

// T returns the message for key in the page's language.
func (p *Page) T(key string, args ...any) string {
	return i18n.T(p.Lang, key, args...)
}

// newPage builds the page data shared by every page: language, switch,
// CSRF token and the user, if any.
func (a *App) newPage(c echo.Context, titleKey string) *Page {
	lang := langOf(c)
	p := &Page{
		Lang:      lang,
		CSRFToken: csrfTokenOf(c),
		User:      userOf(c),
		Languages: languageLinks(lang),
	}
	p.Title = p.T(titleKey)
	p.PasswordLimit.MaxChars, p.PasswordLimit.MaxBytes = a.hasher.MaxLength()

	return p
}

// languageLinks builds the language switch of a page in lang.
func languageLinks(lang string) []LangLink {
	links := make([]LangLink, 0, len(i18n.Languages))
	for _, code := range i18n.Languages {
		links = append(links, LangLink{Code: code, Name: i18n.T(code, "lang.name"), Current: code == lang})
	}

	return links
}

// render executes a page into a buffer first, so that a template error
// becomes a clean error page instead of half a page with status 200.
func (a *App) render(c echo.Context, status int, name string, page *Page) error {
	set, ok := a.pages[pageKey(name, page.Lang)]
	if !ok {
		return fmt.Errorf("render: unknown page %q in language %q", name, page.Lang)
	}

	buf := pageBuffers.Get().(*bytes.Buffer)
	defer releasePageBuffer(buf)
	if err := set.ExecuteTemplate(buf, "layout", page); err != nil {
		return fmt.Errorf("render page %s: %w", name, err)
	}

	setPageHeaders(c, page.Lang)
	// HTMLBlob copies the bytes into the response before it returns, so the
	// buffer can go back to the pool afterwards.
	return c.HTMLBlob(status, buf.Bytes())
}

// setPageHeaders sets the headers of every rendered page.
func setPageHeaders(c echo.Context, lang string) {
	h := c.Response().Header()
	// Shared values, as in securityHeaders.
	if v, ok := contentLanguageHeaders[lang]; ok {
		h["Content-Language"] = v
	} else {
		h.Set("Content-Language", lang)
	}
	h["Cache-Control"] = noStoreHeader
}

// Values of the page headers, each with length and capacity 1.
var (
	contentLanguageHeaders = languageHeaders()
	noStoreHeader          = []string{"no-store"}
)

func languageHeaders() map[string][]string {
	m := make(map[string][]string, len(i18n.Languages))
	for _, lang := range i18n.Languages {
		m[lang] = []string{lang}
	}

	return m
}

// pageBuffers keeps render's buffers between requests. Growing a new buffer
// to the size of a page was the largest allocation of a dashboard request
// (about 10 KB of its 16 KB), and the garbage collector ran that much more
// often under load.
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledPageBuffer is the largest buffer kept in pageBuffers, so that one
// unusually large page does not stay in memory.
const maxPooledPageBuffer = 64 << 10

func releasePageBuffer(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledPageBuffer {
		return
	}
	buf.Reset()
	pageBuffers.Put(buf)
}

func (a *App) redirect(c echo.Context, path string) error {
	return c.Redirect(http.StatusSeeOther, path)
}
