package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestOpenAPI walks the served document: every documented path answers
// 200 to a request with every documented parameter (their examples),
// its body matches the documented schema, and the document lists
// exactly the routes the handler serves.
func TestOpenAPI(t *testing.T) {
	f := getFixture(t)
	code, body := get(t, f.srv, "/api/openapi.json", nil)
	if code != http.StatusOK {
		t.Fatalf("openapi.json: %d %s", code, body)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["openapi"] != "3.0.3" {
		t.Errorf("openapi version %v", doc["openapi"])
	}
	paths := doc["paths"].(map[string]any)

	// The document and the route table list the same paths, with the
	// same parameters.
	rs := routes(f.api, prometheus.NewRegistry())
	var docPaths, routePaths []string
	for p := range paths {
		docPaths = append(docPaths, p)
	}
	for _, rt := range rs {
		routePaths = append(routePaths, rt.Path)
		op := paths[rt.Path].(map[string]any)["get"].(map[string]any)
		var names []string
		for _, p := range op["parameters"].([]any) {
			names = append(names, p.(map[string]any)["name"].(string))
		}
		var want []string
		for _, p := range rt.Params {
			n := p.Name
			if p.Prefix {
				n += "{key}"
			}
			want = append(want, n)
		}
		if !slices.Equal(names, want) {
			t.Errorf("%s: documented parameters %v, route takes %v", rt.Path, names, want)
		}
	}
	slices.Sort(docPaths)
	slices.Sort(routePaths)
	if !slices.Equal(docPaths, routePaths) {
		t.Errorf("document paths %v, routes %v", docPaths, routePaths)
	}

	for _, path := range docPaths {
		op := paths[path].(map[string]any)["get"].(map[string]any)
		q := url.Values{}
		for _, p := range op["parameters"].([]any) {
			pm := p.(map[string]any)
			name := pm["name"].(string)
			ex, ok := pm["example"]
			if !ok {
				if name != "cursor" {
					t.Errorf("%s: parameter %s has no example", path, name)
				}
				continue
			}
			val := exampleString(ex)
			if prefix, ok := pm["x-name-prefix"].(string); ok {
				k, v, _ := strings.Cut(val, "=")
				q.Set(prefix+k, v)
				continue
			}
			if name == "from" {
				val = "2013-01-01T00:00:00Z" // the fixture's records are old
			}
			if name == "to" {
				val = "2020-01-01T00:00:00Z"
			}
			if name == "probe" {
				val = f.a.info.ID
			}
			q.Set(name, val)
		}
		// Once with every parameter, once with none.
		for _, qq := range []url.Values{q, nil} {
			code, body := get(t, f.srv, path, qq)
			if code != http.StatusOK {
				t.Errorf("GET %s?%s: %d %s", path, qq.Encode(), code, body)
				continue
			}
			content := op["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)
			js, ok := content["application/json"].(map[string]any)
			if !ok {
				continue
			}
			var v any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Errorf("GET %s: %v", path, err)
				continue
			}
			if err := validate(doc, js["schema"].(map[string]any), v, "$"); err != nil {
				t.Errorf("GET %s?%s: body does not match the documented schema: %v", path, qq.Encode(), err)
			}
		}
	}

	// A path outside the document is a JSON 404; a POST is a JSON 405.
	code, body = get(t, f.srv, "/api/v1/nope", nil)
	if code != http.StatusNotFound || !strings.Contains(string(body), `"error"`) {
		t.Errorf("unknown path: %d %s", code, body)
	}
	resp, err := http.Post(f.srv.URL+"/api/v1/probes", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func exampleString(ex any) string {
	switch v := ex.(type) {
	case []any:
		var s []string
		for _, x := range v {
			s = append(s, fmt.Sprint(x))
		}
		return strings.Join(s, ",")
	default:
		return fmt.Sprint(v)
	}
}

// validate checks a decoded JSON value against an OpenAPI 3.0 schema
// (the subset the document uses).
func validate(doc map[string]any, s map[string]any, v any, at string) error {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		def, ok := doc["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: dangling $ref %s", at, ref)
		}
		return validate(doc, def, v, at)
	}
	if v == nil {
		if s["nullable"] == true {
			return nil
		}
		return fmt.Errorf("%s: null, and the schema is not nullable", at)
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			if err := validate(doc, sub.(map[string]any), v, at); err != nil {
				return err
			}
		}
		return nil
	}
	switch s["type"] {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an object", at, v)
		}
		props, _ := s["properties"].(map[string]any)
		for _, r := range asList(s["required"]) {
			if _, ok := m[r]; !ok {
				return fmt.Errorf("%s: required property %q missing", at, r)
			}
		}
		for k, x := range m {
			if ps, ok := props[k]; ok {
				if err := validate(doc, ps.(map[string]any), x, at+"."+k); err != nil {
					return err
				}
				continue
			}
			if ap, ok := s["additionalProperties"].(map[string]any); ok {
				if err := validate(doc, ap, x, at+"["+k+"]"); err != nil {
					return err
				}
				continue
			}
			if props != nil {
				return fmt.Errorf("%s: property %q is not documented", at, k)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an array", at, v)
		}
		for i, x := range a {
			if err := validate(doc, s["items"].(map[string]any), x, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: %T, want a string", at, v)
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				return fmt.Errorf("%s: %q is not a date-time", at, str)
			}
		}
		if enum := asList(s["enum"]); enum != nil && !slices.Contains(enum, str) {
			return fmt.Errorf("%s: %q not in %v", at, str, enum)
		}
	case "integer":
		n, ok := v.(float64)
		if !ok || n != float64(int64(n)) {
			return fmt.Errorf("%s: %v, want an integer", at, v)
		}
		if min, ok := s["minimum"].(float64); ok && n < min {
			return fmt.Errorf("%s: %v below the minimum %v", at, n, min)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: %T, want a number", at, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %T, want a boolean", at, v)
		}
	default:
		return fmt.Errorf("%s: schema without a type: %v", at, s)
	}
	return nil
}

func asList(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		out = append(out, x.(string))
	}
	return out
}

func TestOperationID(t *testing.T) {
	for in, want := range map[string]string{"/api/v1/flows/top": "flowsTop", "/api/openapi.json": "openapiJson", "/metrics": "metrics", "/api/v1/summary/windows": "summaryWindows"} {
		if got := operationID(in); got != want {
			t.Errorf("operationID(%q) = %q, want %q", in, got, want)
		}
	}
}
