package webui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func serve(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Result()
}

func TestHandler(t *testing.T) {
	index := "<!doctype html><script type=module src=/assets/index-abc.js></script>"
	h, err := New(fstest.MapFS{
		"index.html":           {Data: []byte(index)},
		"assets/index-abc.js":  {Data: []byte("console.log(1)")},
		"assets/index-abc.css": {Data: []byte("body{}")},
		".gitignore":           {Data: []byte("*")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, path string
		code         int
		ctype, cache string
		body         string
	}{
		{"GET", "/", 200, "text/html", "no-cache", index},
		{"GET", "/map?from=-1h", 200, "text/html", "no-cache", index},
		{"GET", "/explorer/tx/123", 200, "text/html", "no-cache", index},
		{"HEAD", "/dashboard", 200, "text/html", "no-cache", ""},
		{"GET", "/assets/index-abc.js", 200, "text/javascript", "public, max-age=31536000, immutable", "console.log(1)"},
		{"GET", "/assets/index-abc.css", 200, "text/css", "public, max-age=31536000, immutable", "body{}"},
		{"GET", "/assets/missing.js", 404, "text/plain", "", ""},
		{"GET", "/favicon.ico", 404, "text/plain", "", ""},
		{"GET", "/.gitignore", 404, "text/plain", "", ""},
		{"GET", "/assets/../index.html", 200, "text/html", "no-cache", index},
		{"GET", "/api/v1/nope", 404, "application/json", "", `{"error"`},
		{"GET", "/metrics", 404, "application/json", "", `{"error"`},
		{"POST", "/", 405, "text/plain", "", ""},
	}
	for _, c := range cases {
		resp := serve(t, h, c.method, c.path, nil)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.code)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.ctype) {
			t.Errorf("%s %s: content type %q, want %s", c.method, c.path, ct, c.ctype)
		}
		if c.cache != "" && resp.Header.Get("Cache-Control") != c.cache {
			t.Errorf("%s %s: cache %q, want %q", c.method, c.path, resp.Header.Get("Cache-Control"), c.cache)
		}
		if c.body != "" && !strings.HasPrefix(string(body), c.body) {
			t.Errorf("%s %s: body %q, want %q", c.method, c.path, body, c.body)
		}
		if resp.Header.Get("Content-Security-Policy") != CSP || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: security headers %v", c.method, c.path, resp.Header)
		}
	}
	// Revalidation: the ETag of index.html answers 304.
	first := serve(t, h, "GET", "/", nil)
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if r := serve(t, h, "GET", "/map", map[string]string{"If-None-Match": etag}); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", r.StatusCode)
	}
}

func TestNotBuilt(t *testing.T) {
	h, err := New(fstest.MapFS{".gitignore": {Data: []byte("*")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.Built() {
		t.Error("Built with no index.html")
	}
	resp := serve(t, h, "GET", "/", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "make web") {
		t.Errorf("unbuilt UI: %d %q", resp.StatusCode, body)
	}
}

// TestEmbeddedHasNoInlineScript: the built app (when built) loads every
// script and style from files, as the CSP requires.
func TestEmbeddedHasNoInlineScript(t *testing.T) {
	h, err := Default(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Built() {
		t.Fatal("the web UI is not built into this test binary: run `make web` (make test does)")
	}
	idx := string(h.files["index.html"].data)
	for _, bad := range []string{"<script>", "<style", " style=", "onload=", "onerror="} {
		if strings.Contains(idx, bad) {
			t.Errorf("index.html contains %q:\n%s", bad, idx)
		}
	}
	if !strings.Contains(idx, `<script type="module" crossorigin src="/assets/`) {
		t.Errorf("index.html does not load its script from /assets:\n%s", idx)
	}
}
