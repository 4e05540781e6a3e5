package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	texttemplate "text/template"
	"text/template/parse"

	"github.com/portero/portero/i18n"
)

// Baking: most actions of a page depend on nothing but the page language,
// such as {{.T "key"}} without arguments, {{asset "name"}}, {{.Lang}} and
// the language switch. bakePage renders each of them once per language and
// puts the output into the parse tree as text, so that a request executes
// only the actions that depend on it.
//
// A baked part must write exactly what html/template would have written in
// its place, escaping included, so renderProbes gets that output from
// html/template itself. It renders the part alone after markup that opens
// the same escaping context (probeContexts). It keeps the output only if
// html/template escapes every action of the part there exactly as in the
// whole page. Parts in other contexts, such as scripts, styles and unquoted
// attributes, stay actions.
//
// NOTE: The comparison reads the escaping from the parse tree, where
// html/template (Go 1.26) appends its escaper functions to each action's
// pipeline and renames calls of templates that it escapes in another
// context. bakeNode bakes nothing if an action shows no escaper.

// assetFunc is the name of the template function that returns the URL of a
// static file. Its output depends only on its argument.
const assetFunc = "asset"

// dataKind is the kind of a template value, as far as baking tracks it.
type dataKind int

const (
	otherData dataKind = iota
	// pageData is the *Page that the layout receives.
	pageData
	// languagesData is Page.Languages.
	languagesData
	// linkData is one LangLink of Page.Languages.
	linkData
	// languageValue is any other value that depends only on the page
	// language.
	languageValue
)

// nodeKey identifies an action or a template call in a set: the name of
// its template and its byte offset in the template's file.
type nodeKey struct {
	template string
	pos      parse.Pos
}

// probeContext is markup around a baked part that puts the part in one
// escaping context of html/template.
type probeContext struct {
	prefix, suffix string
	// url marks the start of a URL attribute. Baked text there can change
	// how html/template escapes a later action in the same URL, for
	// example from path to query escaping after a "?", so the part must be
	// the whole attribute value.
	url bool
}

var probeContexts = []probeContext{
	{prefix: "", suffix: ""},
	{prefix: "<title>", suffix: "</title>"},
	{prefix: `<p title="`, suffix: `">`},
	{prefix: `<a href="`, suffix: `">`, url: true},
}

// bakeCache maps a language, the source of a language-only node, the escaped
// form of each of its actions and whether it ends a URL attribute to the
// node's output. The layout and many messages repeat on every page.
type bakeCache map[string]bakedNode

type bakedNode struct {
	text []byte
	// ok is false if the node cannot be baked.
	ok bool
}

// bakePage returns a copy of set for each language in i18n.Languages, with
// the language-only parts of the templates that receive the *Page rendered
// into text. set must not have been executed. It fails if baking changes
// how html/template escapes an action that remains.
func bakePage(set *template.Template, funcs template.FuncMap, cache bakeCache) (map[string]*template.Template, error) {
	analysis, err := set.Clone()
	if err != nil {
		return nil, err
	}
	if err := escapeSet(analysis); err != nil {
		return nil, err
	}
	escaped := escapedForms(analysis)
	bakeable := pageTemplates(set, escaped)

	sets := make(map[string]*template.Template, len(i18n.Languages))
	for _, lang := range i18n.Languages {
		langSet, err := set.Clone()
		if err != nil {
			return nil, err
		}

		b := &baker{
			page:    &Page{Lang: lang, Languages: languageLinks(lang)},
			funcs:   funcs,
			escaped: escaped,
			cache:   cache,
		}
		for _, t := range langSet.Templates() {
			if t.Tree != nil && bakeable[t.Name()] {
				if err := b.bakeTree(t.Name(), t.Tree); err != nil {
					return nil, fmt.Errorf("language %s: %w", lang, err)
				}
			}
		}

		if err := escapeSet(langSet); err != nil {
			return nil, fmt.Errorf("language %s: %w", lang, err)
		}
		if err := checkEscaping(langSet, escaped); err != nil {
			return nil, fmt.Errorf("language %s: %w", lang, err)
		}
		sets[lang] = langSet
	}

	return sets, nil
}

// escapeSet makes html/template escape "layout" and every template it
// calls, which html/template does only on the first execution. Execution
// errors are ignored, because empty page data can fail, for example at a
// field of a nil pointer, and escaping has finished by then.
func escapeSet(set *template.Template) error {
	err := set.ExecuteTemplate(io.Discard, "layout", &Page{})
	var execErr texttemplate.ExecError
	if err != nil && !errors.As(err, &execErr) {
		return err
	}

	return nil
}

// escapedForms returns the source of every action and template call in
// set, as html/template rewrote it: actions with the escapers it added,
// and calls with the name of the copy it made for another context.
func escapedForms(set *template.Template) map[nodeKey]string {
	forms := map[nodeKey]string{}
	forEachEscapable(set, func(t *template.Template, n parse.Node) {
		forms[nodeKey{t.Name(), n.Position()}] = n.String()
	})

	return forms
}

// checkEscaping returns an error if html/template escapes an action or
// template call of the baked set differently than before baking.
func checkEscaping(baked *template.Template, want map[nodeKey]string) error {
	var errs []error
	forEachEscapable(baked, func(t *template.Template, n parse.Node) {
		got, expected := n.String(), want[nodeKey{t.Name(), n.Position()}]
		if got != expected {
			location, _ := t.Tree.ErrorContext(n)
			errs = append(errs, fmt.Errorf("%s: baked text before this action changes its escaping from %s to %s, so move the action or the language-only part before it", location, expected, got))
		}
	})

	return errors.Join(errs...)
}

// forEachEscapable calls fn for each action and template call in the
// templates of set, which are the nodes that html/template rewrites.
func forEachEscapable(set *template.Template, fn func(*template.Template, parse.Node)) {
	for _, t := range set.Templates() {
		if t.Tree == nil {
			continue
		}
		forEachNode(t.Tree.Root, func(n parse.Node) {
			switch n.(type) {
			case *parse.ActionNode, *parse.TemplateNode:
				fn(t, n)
			}
		})
	}
}

// pageTemplates returns the templates that receive the *Page as their data:
// "layout" and each template that is only called with the page as its
// argument, in the escaping context of its definition. html/template
// escapes a template called in another context in a separate copy, which
// baked text would not fit.
func pageTemplates(set *template.Template, escaped map[nodeKey]string) map[string]bool {
	kinds := map[string]dataKind{"layout": pageData}
	for changed := true; changed; {
		changed = false
		names := make([]string, 0, len(kinds))
		for name := range kinds {
			names = append(names, name)
		}

		for _, name := range names {
			t := set.Lookup(name)
			if t == nil || t.Tree == nil {
				continue
			}
			forEachCall(t.Tree.Root, kinds[name], kinds[name], func(call *parse.TemplateNode, arg dataKind) {
				if escaped[nodeKey{name, call.Pos}] != call.String() {
					arg = otherData
				}
				old, seen := kinds[call.Name]
				switch {
				case !seen:
					kinds[call.Name] = arg
					changed = true
				case old != arg && old != otherData:
					kinds[call.Name] = otherData
					changed = true
				}
			})
		}
	}

	pages := map[string]bool{}
	for name, kind := range kinds {
		pages[name] = kind == pageData
	}

	return pages
}

// forEachCall calls fn for each template call in list with the kind of the
// argument it passes. dot and dollar are the kinds of . and $ at the start.
func forEachCall(list *parse.ListNode, dot, dollar dataKind, fn func(*parse.TemplateNode, dataKind)) {
	if list == nil {
		return
	}
	for _, n := range list.Nodes {
		switch n := n.(type) {
		case *parse.TemplateNode:
			fn(n, pipeKind(n.Pipe, dot, dollar))
		case *parse.IfNode:
			forEachCall(n.List, dot, dollar, fn)
			forEachCall(n.ElseList, dot, dollar, fn)
		case *parse.RangeNode:
			forEachCall(n.List, rangeDot(n, dot, dollar), dollar, fn)
			forEachCall(n.ElseList, dot, dollar, fn)
		case *parse.WithNode:
			forEachCall(n.List, otherData, dollar, fn)
			forEachCall(n.ElseList, dot, dollar, fn)
		}
	}
}

// forEachNode calls fn for each node in list and in its branches.
func forEachNode(list *parse.ListNode, fn func(parse.Node)) {
	if list == nil {
		return
	}
	for _, n := range list.Nodes {
		fn(n)
		var branch *parse.BranchNode
		switch n := n.(type) {
		case *parse.IfNode:
			branch = &n.BranchNode
		case *parse.RangeNode:
			branch = &n.BranchNode
		case *parse.WithNode:
			branch = &n.BranchNode
		}
		if branch != nil {
			forEachNode(branch.List, fn)
			forEachNode(branch.ElseList, fn)
		}
	}
}

// pipeKind returns the kind of the value of p. It recognizes pipelines of
// one command without variables, and returns otherData for the others.
func pipeKind(p *parse.PipeNode, dot, dollar dataKind) dataKind {
	if p == nil {
		// A template call without an argument passes nil.
		return otherData
	}
	if len(p.Decl) != 0 || len(p.Cmds) != 1 {
		return otherData
	}

	args := p.Cmds[0].Args
	switch n := args[0].(type) {
	case *parse.DotNode:
		if len(args) == 1 {
			return dot
		}
	case *parse.VariableNode:
		if n.Ident[0] == "$" {
			return fieldKind(dollar, n.Ident[1:], args[1:])
		}
	case *parse.FieldNode:
		return fieldKind(dot, n.Ident, args[1:])
	case *parse.IdentifierNode:
		if n.Ident == assetFunc && len(args) == 2 && isString(args[1]) {
			return languageValue
		}
	case *parse.StringNode, *parse.BoolNode, *parse.NumberNode:
		if len(args) == 1 {
			return languageValue
		}
	}

	return otherData
}

// fieldKind returns the kind of the field chain fields of a value of kind
// base, called with args.
func fieldKind(base dataKind, fields []string, args []parse.Node) dataKind {
	if len(fields) == 0 {
		if len(args) == 0 {
			return base
		}
		return otherData
	}
	if len(fields) != 1 {
		return otherData
	}

	switch base {
	case pageData:
		switch {
		case fields[0] == "Lang" && len(args) == 0:
			return languageValue
		case fields[0] == "Languages" && len(args) == 0:
			return languagesData
		case fields[0] == "T" && len(args) == 1 && isString(args[0]):
			return languageValue
		}
	case linkData:
		if len(args) == 0 {
			return languageValue
		}
	}

	return otherData
}

func isString(n parse.Node) bool {
	_, ok := n.(*parse.StringNode)
	return ok
}

// rangeDot returns the kind of dot inside the loop body of r.
func rangeDot(r *parse.RangeNode, dot, dollar dataKind) dataKind {
	if pipeKind(r.Pipe, dot, dollar) == languagesData {
		return linkData
	}

	return otherData
}

// languageOnly reports whether the output of n depends only on the page
// language, with dot of kind dot and $ the page.
func languageOnly(n parse.Node, dot dataKind) bool {
	switch n := n.(type) {
	case *parse.TextNode:
		return true
	case *parse.ActionNode:
		return languageKind(pipeKind(n.Pipe, dot, pageData))
	case *parse.IfNode:
		return languageKind(pipeKind(n.Pipe, dot, pageData)) &&
			listLanguageOnly(n.List, dot) && listLanguageOnly(n.ElseList, dot)
	case *parse.RangeNode:
		return pipeKind(n.Pipe, dot, pageData) == languagesData &&
			listLanguageOnly(n.List, linkData) && listLanguageOnly(n.ElseList, dot)
	}

	return false
}

func listLanguageOnly(list *parse.ListNode, dot dataKind) bool {
	if list == nil {
		return true
	}
	for _, n := range list.Nodes {
		if !languageOnly(n, dot) {
			return false
		}
	}

	return true
}

func languageKind(kind dataKind) bool {
	return kind == languageValue || kind == languagesData || kind == linkData
}

// baker renders the language-only parts of templates for one language.
type baker struct {
	page  *Page
	funcs template.FuncMap
	// escaped holds the escaped form of every action before baking.
	escaped map[nodeKey]string
	cache   bakeCache
}

// bakeTree replaces the language-only parts of the template name with text.
func (b *baker) bakeTree(name string, tree *parse.Tree) error {
	var proto *parse.TextNode
	forEachNode(tree.Root, func(n parse.Node) {
		if t, ok := n.(*parse.TextNode); ok && proto == nil {
			proto = t
		}
	})
	if proto == nil {
		// NOTE: New text nodes are copies of an existing one, which
		// points back to the tree for error messages. A template without
		// any text keeps its actions.
		return nil
	}

	return b.bakeList(name, proto, tree.Root, pageData)
}

// bakeList replaces the language-only nodes of list with text and merges
// adjacent text into one node. dot is the kind of dot in list.
func (b *baker) bakeList(name string, proto *parse.TextNode, list *parse.ListNode, dot dataKind) error {
	if list == nil {
		return nil
	}

	out := make([]parse.Node, 0, len(list.Nodes))
	var text []byte
	var textNode *parse.TextNode
	flush := func() {
		if textNode != nil {
			textNode.Text = text
			out = append(out, textNode)
		}
		text, textNode = nil, nil
	}

	for i, n := range list.Nodes {
		if t, ok := n.(*parse.TextNode); ok {
			if textNode == nil {
				textNode = t
			}
			text = append(text, t.Text...)
			continue
		}

		if languageOnly(n, dot) {
			var next parse.Node
			if i+1 < len(list.Nodes) {
				next = list.Nodes[i+1]
			}
			baked, ok, err := b.bakeNode(name, n, next)
			if err != nil {
				return err
			}
			if ok {
				if textNode == nil {
					textNode = proto.Copy().(*parse.TextNode)
					textNode.Pos = n.Position()
				}
				text = append(text, baked...)
				continue
			}
		}

		if err := b.bakeBranches(name, proto, n, dot); err != nil {
			return err
		}
		flush()
		out = append(out, n)
	}
	flush()
	list.Nodes = out

	return nil
}

// bakeBranches bakes the lists inside n, where dot may be a different value.
func (b *baker) bakeBranches(name string, proto *parse.TextNode, n parse.Node, dot dataKind) error {
	var branch *parse.BranchNode
	inner := dot
	switch n := n.(type) {
	case *parse.IfNode:
		branch = &n.BranchNode
	case *parse.RangeNode:
		branch = &n.BranchNode
		inner = rangeDot(n, dot, pageData)
	case *parse.WithNode:
		branch = &n.BranchNode
		inner = otherData
	default:
		return nil
	}

	if err := b.bakeList(name, proto, branch.List, inner); err != nil {
		return err
	}

	return b.bakeList(name, proto, branch.ElseList, dot)
}

// bakeNode returns the output of n, a language-only node of the template
// name, as renderProbes makes it. ok is false when no probe context matches
// or n fails to render, so that n stays in the template. next is the node
// after n, or nil.
func (b *baker) bakeNode(name string, n, next parse.Node) (text []byte, ok bool, err error) {
	endsURL := startsWithQuote(next)
	key := []string{b.page.Lang, n.String(), strconv.FormatBool(endsURL)}
	want := map[parse.Pos]string{}
	escapedAll := true
	forEachNode(&parse.ListNode{Nodes: []parse.Node{n}}, func(m parse.Node) {
		if _, isAction := m.(*parse.ActionNode); isAction {
			form := b.escaped[nodeKey{name, m.Position()}]
			if form == m.String() {
				// Not escaped, so there is no context to compare.
				escapedAll = false
			}
			want[m.Position()] = form
			key = append(key, form)
		}
	})
	if !escapedAll {
		return nil, false, nil
	}
	cacheKey := strings.Join(key, "\x00")
	if baked, seen := b.cache[cacheKey]; seen {
		return baked.text, baked.ok, nil
	}

	text, ok, err = b.renderProbes(n, endsURL, want)
	if err != nil {
		return nil, false, err
	}
	b.cache[cacheKey] = bakedNode{text: text, ok: ok}

	return text, ok, nil
}

// renderProbes renders n in the first probe context where html/template
// escapes each action of n as want lists. ok is false if none does.
// endsURL allows the URL context.
func (b *baker) renderProbes(n parse.Node, endsURL bool, want map[parse.Pos]string) (text []byte, ok bool, err error) {
	for _, pc := range probeContexts {
		if pc.url && !endsURL {
			continue
		}

		probe, err := template.New("probe").Funcs(b.funcs).Parse(pc.prefix + "{{.}}" + pc.suffix)
		if err != nil {
			return nil, false, fmt.Errorf("parse probe %q: %w", pc.prefix, err)
		}
		root := probe.Tree.Root
		copied := n.Copy()
		for j, m := range root.Nodes {
			if _, isAction := m.(*parse.ActionNode); isAction {
				root.Nodes[j] = copied
			}
		}

		var buf bytes.Buffer
		if err := probe.Execute(&buf, b.page); err != nil {
			continue
		}
		if !sameEscaping(copied, want) {
			continue
		}
		output := buf.Bytes()
		if !bytes.HasPrefix(output, []byte(pc.prefix)) || !bytes.HasSuffix(output, []byte(pc.suffix)) {
			continue
		}

		return output[len(pc.prefix) : len(output)-len(pc.suffix)], true, nil
	}

	return nil, false, nil
}

// sameEscaping reports whether every action in the escaped node n has the
// form in want at its position.
func sameEscaping(n parse.Node, want map[parse.Pos]string) bool {
	same, count := true, 0
	forEachNode(&parse.ListNode{Nodes: []parse.Node{n}}, func(m parse.Node) {
		if _, isAction := m.(*parse.ActionNode); isAction {
			count++
			if form, ok := want[m.Position()]; !ok || form != m.String() {
				same = false
			}
		}
	})

	return same && count == len(want)
}

// startsWithQuote reports whether n is text that starts with a quote, which
// ends the attribute value that the node before it is in.
func startsWithQuote(n parse.Node) bool {
	t, ok := n.(*parse.TextNode)
	return ok && len(t.Text) > 0 && (t.Text[0] == '"' || t.Text[0] == '\'')
}
