// Package webui serves the web UI (web/, built by `make web` into dist/)
// from inside the binary: no CDN, no files next to the binary. Hashed
// assets are cached forever, index.html never is, and every path that is
// not a file is a route of the single-page app, so it gets index.html.
// Every response carries a strict Content-Security-Policy: the app has no
// inline script or style, which keeps text from captured traffic inert even
// if some view forgot to treat it as text.
package webui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var embedded embed.FS

// CSP is the Content-Security-Policy of every response.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// Files is the built app embedded in the binary (empty but for a
// .gitignore when `make web` has not run).
func Files() fs.FS {
	sub, err := fs.Sub(embedded, "dist")
	if err != nil {
		panic(err) // "dist" is a constant, valid path
	}
	return sub
}

// Handler serves an app's files.
type Handler struct {
	files map[string]file
	log   *slog.Logger
}

type file struct {
	data  []byte
	ctype string
	etag  string
}

// maxFile bounds one file read into memory: the app's files are small, and
// a larger one means something other than the UI was put in dist.
const maxFile = 16 << 20

// New reads the app's files (index.html at the root, assets under
// assets/) into memory. Files whose name starts with a dot are not served.
func New(files fs.FS, log *slog.Logger) (*Handler, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{files: map[string]file{}, log: log}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != "." {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > maxFile {
			log.Warn("webui: file too large, not served", "file", p, "bytes", info.Size())
			return nil
		}
		data, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = http.DetectContentType(data)
		}
		h.files[p] = file{data: data, ctype: ctype, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Built reports whether the app was built (index.html is there).
func (h *Handler) Built() bool {
	_, ok := h.files["index.html"]
	return ok
}

// Default serves the embedded app.
func Default(log *slog.Logger) (*Handler, error) { return New(Files(), log) }

// Cache lifetimes: Vite names assets by content hash, so a changed asset
// has a new name and the old one can be cached for good; index.html names
// the current assets and must be revalidated every time.
const (
	cacheAsset = "public, max-age=31536000, immutable"
	cacheOther = "no-cache"
)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean("/" + r.URL.Path)
	// API paths never fall back to the app: a client of the API asking a
	// path that does not exist must get an error, not a page of HTML.
	if p == "/api" || strings.HasPrefix(p, "/api/") || p == "/metrics" {
		hd.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"no such endpoint; see /api/openapi.json"}` + "\n"))
		return
	}
	name := strings.TrimPrefix(p, "/")
	f, ok := h.files[name]
	cache := cacheOther
	switch {
	case ok && name != "index.html":
		if strings.HasPrefix(name, "assets/") {
			cache = cacheAsset
		}
	case name != "index.html" && (strings.HasPrefix(name, "assets/") || path.Ext(name) != ""):
		// A missing script or image must fail as such: answering
		// index.html would hand the browser HTML as JavaScript.
		http.Error(w, "not found", http.StatusNotFound)
		return
	default:
		// "/", "/map", "/explorer?...": routes of the app.
		if f, ok = h.files["index.html"]; !ok {
			http.Error(w, "the web UI is not built into this binary: run `make web` (or `make build`) and rebuild", http.StatusServiceUnavailable)
			return
		}
	}
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", cache)
	hd.Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}
