package handlers

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"text/template/parse"

	"github.com/portero/portero/db"
	"github.com/portero/portero/i18n"
	"github.com/portero/portero/static"
	"github.com/portero/portero/templates"
)

// parseReference parses every page the plain way, without baking: the
// renderer whose output the baked pages must match byte for byte.
func parseReference(t *testing.T, fsys fs.FS, funcs template.FuncMap) map[string]*template.Template {
	t.Helper()

	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, "layout.html")
	if err != nil {
		t.Fatalf("parse layout: %v", err)
	}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		set, err := layout.Clone()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := set.ParseFS(fsys, name+".html"); err != nil {
			t.Fatalf("parse page %s: %v", name, err)
		}
		pages[name] = set
	}

	return pages
}

// execute renders the layout of set, and returns the output or the error
// message, so that a page that fails is compared by its error.
func execute(set *template.Template, page *Page) string {
	var buf bytes.Buffer
	if err := set.ExecuteTemplate(&buf, "layout", page); err != nil {
		return "error: " + err.Error()
	}

	return buf.String()
}

// firstDifference describes where got and want first differ.
func firstDifference(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	start := max(i-60, 0)

	return fmt.Sprintf("at byte %d:\n got: %q\nwant: %q", i, got[start:min(i+60, len(got))], want[start:min(i+60, len(want))])
}

// hostile is user data with every character that some context escapes.
const hostile = `<script>alert("x")</script> & 'q' +1 {{.Lang}} javascript:x`

// sampleData returns data for a page that takes both branches of its
// conditions across the returned values.
func sampleData(name, lang string) []any {
	event := eventRow{Time: "14 de marzo", TimeISO: "2025-03-14T09:26:53Z", Label: "Login", By: hostile, ClientIP: "192.0.2.7", Browser: hostile, UserID: 7, UserEmail: hostile, Details: []eventDetail{{Label: hostile, Value: hostile}, {Label: "k", Value: "v"}}}
	anonymous := eventRow{Time: "t", TimeISO: "2025-03-14T09:26:53Z", Label: hostile}
	row := adminUserRow{ID: 7, Email: hostile, Name: hostile, Admin: true, Created: "c", CreatedISO: "2025-03-14T09:26:53Z", ActiveSessions: 2}
	disabled := adminUserRow{ID: 8, Email: "b@example.org", Disabled: true, DisabledSince: "d", DisabledISO: "2025-03-15T09:26:53Z"}

	switch name {
	case "login":
		return []any{loginForm{}, loginForm{Email: hostile, Next: "/account?x=" + hostile}}
	case "dashboard":
		return []any{dashboardData{Name: hostile, Email: hostile, Started: "s", StartedISO: "2025-03-14T09:26:53Z", Expires: "e", ExpiresISO: "2025-03-21T09:26:53Z", IdleTimeout: i18n.FormatDuration(lang, 0)}}
	case "account_sessions":
		sessions := []sessionRow{
			{ID: 1, Device: hostile, ClientIP: "192.0.2.7", Started: "s", StartedISO: "x", LastSeen: "l", LastSeenISO: "y", Current: true},
			{ID: 2, Device: "Firefox", ClientIP: hostile},
		}
		return []any{sessionsData{}, sessionsData{Sessions: sessions, HasOthers: true, ReauthNote: hostile}}
	case "reauth":
		return []any{reauthData{Action: "/account/sessions/revoke-others", ActionKey: "reauth.action_revoke_other"}, reauthData{Action: "/account/sessions/revoke", ID: 3, ActionKey: "reauth.action_revoke"}, reauthData{Action: "/account/keys/remove", ID: 4, ActionKey: "reauth.action_remove_key", Cancel: "/account/keys"}}
	case "account_keys":
		keys := []keyRow{
			{ID: 1, Name: hostile, Added: "a", AddedISO: "x", LastUsed: "l", LastUsedISO: "y"},
			{ID: 2, Name: "USB", Added: hostile, LastUsed: hostile},
		}
		return []any{keysData{}, keysData{Keys: keys, ReauthNote: hostile, NeedPassword: true, KeyName: hostile}, keysData{Pending: &pendingKey{Name: hostile, Options: hostile}}}
	case "login_key":
		return []any{loginKeyData{}, loginKeyData{Options: `{"publicKey":{"challenge":"` + hostile + `"}}`}}
	case "my_account":
		return []any{myAccountData{}, myAccountData{Name: hostile, Email: hostile, Admin: true, EventsLimit: 20, Events: []eventRow{event, anonymous}}}
	case "admin_users":
		return []any{
			adminUsersData{},
			adminUsersData{Users: []adminUserRow{row, disabled}, PrevURL: "/admin/users?page=1", NextURL: "/admin/users?page=" + hostile, Form: adminCreateForm{Email: hostile, Name: hostile, Admin: true}, NeedPassword: true, ReauthWindow: "10 min"},
		}
	case "admin_user":
		return []any{
			adminUserData{User: row, Self: true},
			adminUserData{User: disabled, NeedPassword: true, ReauthWindow: "10 min", Events: []eventRow{event}},
			adminUserData{User: row, Events: []eventRow{anonymous}, SecurityKeys: 2},
		}
	case "admin_events":
		return []any{[]eventRow{}, []eventRow{event, anonymous}}
	}

	return []any{nil}
}

func testFuncs(t *testing.T) template.FuncMap {
	t.Helper()

	assets, err := loadAssets(static.FS)
	if err != nil {
		t.Fatalf("load assets: %v", err)
	}
	a := &App{assets: assets}

	return template.FuncMap{"asset": a.assetURL}
}

func TestBakedPagesMatchReference(t *testing.T) {
	funcs := testFuncs(t)
	reference := parseReference(t, templates.FS, funcs)
	baked, err := parseTemplates(templates.FS, funcs)
	if err != nil {
		t.Fatalf("parseTemplates: %v", err)
	}

	users := map[string]*db.User{
		"anonymous": nil,
		"user":      {ID: 8, Email: hostile, DisplayName: hostile, Role: db.RoleUser},
		"admin":     {ID: 7, Email: "ana@example.org", DisplayName: "Ana", Role: db.RoleAdmin},
	}
	for _, name := range pageNames {
		rendered := 0
		for _, lang := range i18n.Languages {
			set, ok := baked[pageKey(name, lang)]
			if !ok {
				t.Fatalf("page %s in %s: missing from parseTemplates", name, lang)
			}

			for userName, user := range users {
				for di, data := range sampleData(name, lang) {
					for _, message := range []string{"", hostile} {
						page := &Page{Lang: lang, Title: hostile, CSRFToken: "token+/=", Error: message, Notice: message, Languages: languageLinks(lang), User: user, Data: data}
						got, want := execute(set, page), execute(reference[name], page)
						if got != want {
							t.Errorf("page %s, %s, %s user, data %d, message %q: baked output differs %s", name, lang, userName, di, message, firstDifference(got, want))
						}
						if !strings.HasPrefix(want, "error: ") {
							rendered++
						}
					}
				}
			}
		}
		if rendered == 0 {
			t.Errorf("page %s: got 0 renders without an error, want at least one", name)
		}
	}
}

// languageOnlyAction matches the first command of an action that depends
// only on the page language.
var languageOnlyAction = regexp.MustCompile(`^(\$?\.T "[^"]*"|asset "[^"]*"|\$?\.Lang|\$?\.Languages)$`)

func TestBakedPagesKeepOnlyDynamicActions(t *testing.T) {
	pages, err := parseTemplates(templates.FS, testFuncs(t))
	if err != nil {
		t.Fatalf("parseTemplates: %v", err)
	}

	for key, set := range pages {
		for _, name := range []string{"layout", "content"} {
			tmpl := set.Lookup(name)
			if tmpl == nil {
				t.Fatalf("%s: template %s missing", key, name)
			}
			forEachNode(tmpl.Tree.Root, func(n parse.Node) {
				var pipe *parse.PipeNode
				switch n := n.(type) {
				case *parse.ActionNode:
					pipe = n.Pipe
				case *parse.RangeNode:
					pipe = n.Pipe
				default:
					return
				}
				if first := pipe.Cmds[0].String(); languageOnlyAction.MatchString(first) {
					location, _ := tmpl.Tree.ErrorContext(n)
					t.Errorf("%s: %s: language-only %s was not baked", key, location, first)
				}
			})
		}
	}
}

func TestBakedDashboardActions(t *testing.T) {
	pages, err := parseTemplates(templates.FS, testFuncs(t))
	if err != nil {
		t.Fatalf("parseTemplates: %v", err)
	}

	count := 0
	for _, name := range []string{"layout", "content"} {
		forEachNode(pages[pageKey("dashboard", i18n.Spanish)].Lookup(name).Tree.Root, func(n parse.Node) {
			switch n.(type) {
			case *parse.ActionNode, *parse.IfNode, *parse.RangeNode, *parse.WithNode:
				count++
			}
		})
	}
	// .Title, the welcome line, the email, two times with their ISO
	// forms, the expiry note, the admin condition and the CSRF token.
	if count != 10 {
		t.Errorf("dashboard: got %d actions after baking, want 10", count)
	}
}

// testLayout is a minimal layout for templates that tests make up.
const testLayout = `{{define "layout"}}<!DOCTYPE html><html lang="{{.Lang}}"><title>{{.Title}}</title>{{template "content" .}}</html>{{end}}`

func TestBakeContexts(t *testing.T) {
	tests := []struct {
		name    string
		content string
		// defines contains further templates of the page file.
		defines string
		asset   string
		// unbaked lists the first command of each language-only action
		// that must stay an action. Every other one must be baked.
		unbaked []string
		wantErr string
	}{
		{name: "text and attribute", content: `<p title="{{.T "a11y.skip"}}">{{.T "password.rules"}}</p><p title='{{$.T "admin.password_rules"}}'>`},
		{name: "language switch", content: `<ul>{{range .Languages}}<li><a href="?lang={{.Code}}"{{if .Current}} aria-current="true"{{end}}>{{.Name}} {{$.T "lang.switch"}}</a></li>{{end}}</ul>`},
		{name: "asset with special characters", content: `<link href="{{asset "x"}}"><p>{{asset "x"}}</p><p title="{{asset "x"}}">`, asset: `/static/x?v={{.Lang}}&a="<'+>"`},
		{name: "unsafe URL", content: `<a href="{{asset "x"}}">x</a>`, asset: `javascript:alert(1)`},
		{name: "action in RCDATA", content: `<textarea>{{.T "admin.password_rules"}}</textarea>`},
		{name: "inside a condition on request data", content: `{{if .User}}<p>{{.T "a11y.skip"}}</p>{{else}}{{.T "login.title"}}{{end}}{{with .Title}}<p>{{.}} {{$.T "lang.switch"}}</p>{{end}}`},

		{name: "script", content: `<script>var skip = {{.T "a11y.skip"}};</script>`, unbaked: []string{`.T "a11y.skip"`}},
		{name: "string in script", content: `<script>var skip = "{{.T "a11y.skip"}}";</script>`, unbaked: []string{`.T "a11y.skip"`}},
		{name: "style", content: `<style>p::before { content: "{{.T "a11y.skip"}}" }</style>`, unbaked: []string{`.T "a11y.skip"`}},
		{name: "unquoted attribute", content: `<p title={{.T "a11y.skip"}}>x</p>`, unbaked: []string{`.T "a11y.skip"`}},
		{name: "event handler attribute", content: `<p onclick="f({{.T "a11y.skip"}})">x</p>`, unbaked: []string{`.T "a11y.skip"`}},
		{name: "URL part before more URL", content: `<a href="{{asset "x"}}#{{.Title}}">x</a>`, asset: "/static/x?v=1", unbaked: []string{`asset "x"`}},
		{name: "URL query", content: `<a href="/next?title={{.T "a11y.skip"}}">x</a>`, unbaked: []string{`.T "a11y.skip"`}},
		{name: "variable", content: `{{$skip := .T "a11y.skip"}}<p>{{$skip}}</p>`, unbaked: []string{`.T "a11y.skip"`}},
		{name: "message with arguments", content: `<p>{{.T "dashboard.welcome" .Title}}</p>`},
		{name: "template called in an attribute", content: `<p title="{{template "skip" .}}">x</p>`, defines: `{{define "skip"}}{{.T "a11y.skip"}}{{end}}`, unbaked: []string{`.T "a11y.skip"`}},

		{name: "URL context changed for a later action", content: `<a href='{{asset "x"}}"{{.Title}}'>x</a>`, asset: "/static/x?v=1", wantErr: "changes its escaping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"layout.html": {Data: []byte(testLayout)},
				"page.html":   {Data: []byte(`{{define "content"}}` + tt.content + `{{end}}` + tt.defines)},
			}
			asset := tt.asset
			if asset == "" {
				asset = "/static/x?v=abc"
			}
			funcs := template.FuncMap{"asset": func(string) string { return asset }}
			parseSet := func() *template.Template {
				set, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, "layout.html", "page.html")
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				return set
			}

			baked, err := bakePage(parseSet(), funcs, bakeCache{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one that contains %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("bakePage: %v", err)
			}

			reference := parseSet()
			for _, lang := range i18n.Languages {
				set := baked[lang]
				for _, user := range []*db.User{nil, {Email: hostile}} {
					page := &Page{Lang: lang, Title: hostile, Languages: languageLinks(lang), User: user}
					if got, want := execute(set, page), execute(reference, page); got != want {
						t.Errorf("%s: baked output differs %s", lang, firstDifference(got, want))
					}
				}

				var unbaked []string
				for _, tmpl := range set.Templates() {
					if tmpl.Tree == nil {
						continue
					}
					forEachNode(tmpl.Tree.Root, func(n parse.Node) {
						if a, ok := n.(*parse.ActionNode); ok {
							if first := a.Pipe.Cmds[0].String(); languageOnlyAction.MatchString(first) {
								unbaked = append(unbaked, first)
							}
						}
					})
				}
				if got, want := strings.Join(unbaked, ", "), strings.Join(tt.unbaked, ", "); got != want {
					t.Errorf("%s: got language-only actions [%s] after baking, want [%s]", lang, got, want)
				}
			}
		})
	}
}
