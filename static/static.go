// Package static embeds the files served under /static/.
package static

import "embed"

// FS contains the stylesheet, the scripts and the other static files.
//
//go:embed *.css *.js *.svg
var FS embed.FS
