package handlers

import (
	"bytes"
	"html/template"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
)

// stencilInputs are values that html/template escapes or could mangle:
// markup, quotes, NUL, invalid UTF-8, non-ASCII text and the noncharacters
// that html/template treats apart in some contexts.
var stencilInputs = []string{
	"",
	"plain",
	`<script>alert("x")</script>`,
	`"'&+<>`,
	"a\x00b",
	"\xff\xfe invalid",
	"Ana Núñez 👩‍💻",
	"\ufdd0\uffff",
	"&amp; &#34; already escaped",
	"stencil0v0z",
}

func TestDashboardStencilMatchesTemplate(t *testing.T) {
	a := newRenderApp(t)

	for _, lang := range i18n.Languages {
		for _, role := range []string{db.RoleUser, db.RoleAdmin} {
			user := &db.User{ID: 7, Email: "ana@example.org", DisplayName: "Ana", Role: role}
			st := a.dashboardStencils[dashboardStencilKey{lang, user.Admin()}]
			if st == nil {
				t.Fatalf("no dashboard stencil for language %s, role %s", lang, role)
			}
			for i, input := range stencilInputs {
				values := make([]string, dashboardValueCount)
				for field := range values {
					// Each field gets a different input, so a value written
					// into the wrong gap shows.
					values[field] = stencilInputs[(i+field)%len(stencilInputs)]
				}

				page := &Page{
					Lang:      lang,
					CSRFToken: values[dashboardCSRFToken],
					User:      user,
					Languages: languageLinks(lang),
					Data:      a.dashboardData(lang, values, nil),
				}
				page.Title = page.T("dashboard.title")
				var want bytes.Buffer
				if err := a.pages[pageKey("dashboard", lang)].ExecuteTemplate(&want, "layout", page); err != nil {
					t.Fatal(err)
				}

				var got bytes.Buffer
				st.write(&got, values)
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("language %s, role %s, input %q: stencil output differs from the template's\ngot:  %s\nwant: %s",
						lang, role, input, got.String(), want.String())
				}
			}
		}
	}
}

func TestNewStencilRejectsMissingMarker(t *testing.T) {
	set := template.Must(template.New("layout").Parse(`<p>{{.CSRFToken}}</p>`))
	_, err := newStencil(set, &Page{CSRFToken: "marker0"}, []string{"marker0", "marker1"})
	if err == nil {
		t.Fatal("newStencil with a marker the output lacks: got no error, want one")
	}
}

func TestNewStencilRepeatedMarker(t *testing.T) {
	set := template.Must(template.New("layout").Parse(`<p title="{{.CSRFToken}}">{{.CSRFToken}}</p>`))
	st, err := newStencil(set, &Page{CSRFToken: "marker0"}, []string{"marker0"})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	st.write(&got, []string{`a"b`})
	if want := `<p title="a&#34;b">a&#34;b</p>`; got.String() != want {
		t.Errorf("write: got %s, want %s", got.String(), want)
	}
}

// htmlTemplateEscape escapes s with html/template in HTML text.
func htmlTemplateEscape(t testing.TB, s string) string {
	t.Helper()
	var out strings.Builder
	if err := template.Must(template.New("").Parse(`{{.}}`)).Execute(&out, s); err != nil {
		t.Fatal(err)
	}

	return out.String()
}

func TestEscapeHTMLMatchesTemplate(t *testing.T) {
	inputs := append([]string{}, stencilInputs...)
	for b := range 256 {
		inputs = append(inputs, string([]byte{'x', byte(b), 'y'}))
	}
	random := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		buf := make([]byte, random.IntN(24))
		for i := range buf {
			buf[i] = byte(random.IntN(256))
		}
		inputs = append(inputs, string(buf))
	}

	for _, input := range inputs {
		var got bytes.Buffer
		escapeHTML(&got, input)
		if want := htmlTemplateEscape(t, input); got.String() != want {
			t.Errorf("escapeHTML(%q): got %q, want %q", input, got.String(), want)
		}
	}
}

func FuzzEscapeHTMLMatchesTemplate(f *testing.F) {
	for _, input := range stencilInputs {
		f.Add(input)
	}
	f.Fuzz(func(t *testing.T, input string) {
		var got bytes.Buffer
		escapeHTML(&got, input)
		if want := htmlTemplateEscape(t, input); got.String() != want {
			t.Errorf("escapeHTML(%q): got %q, want %q", input, got.String(), want)
		}
	})
}
