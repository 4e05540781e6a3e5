package handlers

import (
	"strings"
	"testing"
)

func TestLocalPath(t *testing.T) {
	tests := []struct {
		next string
		want bool
	}{
		{"/", true},
		{"/dashboard", true},
		{"/dashboard?tab=session", true},
		{"/a/b?c=d#e", true},
		{"/caf%C3%A9", true},
		{"/dashboard?q=100%25", true},
		// A path segment that only looks like a scheme stays on this site.
		{"/javascript:alert(1)", true},

		{"", false},
		{"dashboard", false},
		{"//evil.example", false},
		{"///evil.example", false},
		{`/\evil.example`, false},
		{`\\evil.example`, false},
		{`/dashboard\..\x`, false},
		{"https://evil.example/", false},
		{"http:/evil.example", false},
		{"javascript:alert(1)", false},
		{"%2F%2Fevil.example", false},
		{"/%2F%2Fevil.example", false},
		{"/%2f/evil.example", false},
		{"/%5Cevil.example", false},
		{"/%5cevil.example", false},
		{"/%252F%252Fevil.example", false},
		{"/%25252F%25252Fevil.example", false},
		{"/%2525252F%2525252Fevil.example", false},
		{"/\t/evil.example", false},
		{"/%09/evil.example", false},
		{"/dashboard\r\nSet-Cookie: x=1", false},
		{"/dashboard%0D%0ASet-Cookie:%20x=1", false},
		{"/dash\x00board", false},
		{"/dash\u0085board", false},
		{"/dash\xffboard", false},
		{"/%zz", false},
		{"/" + strings.Repeat("a", maxNextLength), false},
	}

	for _, tt := range tests {
		if got := localPath(tt.next); got != tt.want {
			t.Errorf("localPath(%q): got %v, want %v", tt.next, got, tt.want)
		}
	}
}

func TestNextOrDefault(t *testing.T) {
	if got := nextOrDefault("/dashboard?tab=1"); got != "/dashboard?tab=1" {
		t.Errorf("nextOrDefault of a local path: got %q, want it unchanged", got)
	}
	if got := nextOrDefault("//evil.example"); got != "/dashboard" {
		t.Errorf("nextOrDefault(%q): got %q, want /dashboard", "//evil.example", got)
	}
}
