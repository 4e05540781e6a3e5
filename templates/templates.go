// Package templates embeds Portero's HTML templates so that the binary
// carries them.
package templates

import "embed"

// FS contains layout.html and one file for each page.
//
//go:embed *.html
var FS embed.FS
