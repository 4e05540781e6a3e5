package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/labstack/echo/v4"
)

type asset struct {
	body        []byte
	contentType string
	version     string
}

// loadAssets reads every static file once at start and fingerprints it, so
// that pages link to /static/NAME?v=HASH and browsers may cache it for a year.
func loadAssets(fsys fs.FS) (map[string]asset, error) {
	assets := map[string]asset{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(name) == ".go" {
			return err
		}

		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		assets[name] = asset{
			body:        body,
			contentType: mime.TypeByExtension(path.Ext(name)),
			version:     hex.EncodeToString(sum[:6]),
		}

		return nil
	})

	return assets, err
}

// assetURL is the template function "asset".
func (a *App) assetURL(name string) (string, error) {
	as, ok := a.assets[name]
	if !ok {
		return "", &fs.PathError{Op: "asset", Path: name, Err: fs.ErrNotExist}
	}

	return "/static/" + name + "?v=" + as.version, nil
}

func (a *App) serveStatic(c echo.Context) error {
	as, ok := a.assets[c.Param("name")]
	if !ok {
		return echo.ErrNotFound
	}

	h := c.Response().Header()
	h.Set("Content-Type", as.contentType)
	h.Set("ETag", `"`+as.version+`"`)
	if c.QueryParam("v") == as.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=3600")
	}
	http.ServeContent(c.Response(), c.Request(), c.Param("name"), time.Time{}, bytes.NewReader(as.body))

	return nil
}
