// Package static embeds the files served under /static/.
package static

import "embed"

// FS contains the stylesheet and other static files.
//
//go:embed *.css *.svg
var FS embed.FS
