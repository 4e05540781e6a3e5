package handlers

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html/template"
	"strconv"
	"strings"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
)

// A stencil is a page rendered once, at start, with a marker in place of
// each value that changes between requests, and cut at the markers. Filling
// it in writes the parts and the escaped values in turn, which gives the same
// bytes as the template at a fraction of the cost. html/template evaluates
// every field and escaper through reflection, which took about a quarter of
// the server's CPU time on GET /dashboard in a profile under wrk.
//
// Only values that html/template escapes with its HTML, attribute or RCDATA
// escaper may be markers, because escapeHTML reproduces those three for
// plain strings. TestDashboardStencilMatchesTemplate compares both renders.
type stencil struct {
	// parts has one more element than fields. fields[i] is the index of the
	// value that goes between parts[i] and parts[i+1].
	parts  []string
	fields []int
}

// newStencil renders the template set with page, in which the caller has put
// markers[i] in place of value i, and cuts the output at the markers. It
// fails unless every marker occurs at least once.
func newStencil(set *template.Template, page *Page, markers []string) (*stencil, error) {
	var buf bytes.Buffer
	if err := set.ExecuteTemplate(&buf, "layout", page); err != nil {
		return nil, err
	}
	out := buf.String()

	s := &stencil{}
	seen := make([]bool, len(markers))
	for {
		at, field := -1, -1
		for i, marker := range markers {
			if j := strings.Index(out, marker); j >= 0 && (at < 0 || j < at) {
				at, field = j, i
			}
		}
		if at < 0 {
			break
		}
		s.parts = append(s.parts, out[:at])
		s.fields = append(s.fields, field)
		seen[field] = true
		out = out[at+len(markers[field]):]
	}
	s.parts = append(s.parts, out)

	for i, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("stencil: marker %d is missing from the output, so its value is escaped or changed on the way", i)
		}
	}

	return s, nil
}

// write appends the page with values in place of the markers to buf.
func (s *stencil) write(buf *bytes.Buffer, values []string) {
	for i, field := range s.fields {
		buf.WriteString(s.parts[i])
		escapeHTML(buf, values[field])
	}
	buf.WriteString(s.parts[len(s.parts)-1])
}

// escapeHTML appends s to buf escaped as html/template's HTML, attribute and
// RCDATA escapers escape a plain string (htmlReplacementTable in Go's
// html/template/html.go). Every byte it replaces is ASCII, and no byte of a
// multibyte UTF-8 sequence is, so working on bytes gives the same result as
// html/template's work on runes, also for invalid UTF-8.
func escapeHTML(buf *bytes.Buffer, s string) {
	written := 0
	for i := 0; i < len(s); i++ {
		var replacement string
		switch s[i] {
		case 0:
			replacement = "\uFFFD"
		case '"':
			replacement = "&#34;"
		case '&':
			replacement = "&amp;"
		case '\'':
			replacement = "&#39;"
		case '+':
			replacement = "&#43;"
		case '<':
			replacement = "&lt;"
		case '>':
			replacement = "&gt;"
		default:
			continue
		}
		buf.WriteString(s[written:i])
		buf.WriteString(replacement)
		written = i + 1
	}
	buf.WriteString(s[written:])
}

// Indexes of the request-specific strings of the dashboard, the values of its
// stencil.
const (
	dashboardCSRFToken = iota
	dashboardName
	dashboardEmail
	dashboardStarted
	dashboardStartedISO
	dashboardExpires
	dashboardExpiresISO
	dashboardValueCount
)

// dashboardStencilKey selects the stencil of a language, for admins or not,
// because the admin link is a branch of the template.
type dashboardStencilKey struct {
	lang  string
	admin bool
}

// buildDashboardStencils makes a dashboard stencil for each language, with
// and without the admin link. The dashboard uses them while the user has no
// security notice to show; with notices it runs the template.
func (a *App) buildDashboardStencils() (map[dashboardStencilKey]*stencil, error) {
	// A random marker cannot occur in the template's own text.
	random := make([]byte, 8)
	if _, err := rand.Read(random); err != nil {
		return nil, err
	}
	markers := make([]string, dashboardValueCount)
	for i := range markers {
		markers[i] = "stencil" + hex.EncodeToString(random) + "v" + strconv.Itoa(i) + "z"
	}

	stencils := make(map[dashboardStencilKey]*stencil)
	for _, lang := range i18n.Languages {
		set, ok := a.pages[pageKey("dashboard", lang)]
		if !ok {
			return nil, fmt.Errorf("stencil: no dashboard page in language %q", lang)
		}
		for _, role := range []string{db.RoleUser, db.RoleAdmin} {
			user := &db.User{Role: role}
			page := &Page{
				Lang:      lang,
				CSRFToken: markers[dashboardCSRFToken],
				User:      user,
				Languages: languageLinks(lang),
				Data:      a.dashboardData(lang, markers, nil),
			}
			page.Title = page.T("dashboard.title")
			s, err := newStencil(set, page, markers)
			if err != nil {
				return nil, fmt.Errorf("dashboard stencil in language %q: %w", lang, err)
			}
			stencils[dashboardStencilKey{lang, user.Admin()}] = s
		}
	}

	return stencils, nil
}
