package api

import (
	"reflect"
	"strconv"
	"strings"
	"time"
)

// openAPI builds the OpenAPI 3.0 document from the route table: paths
// and parameters from the routes, response schemas from the Go types the
// handlers encode (so a field added to a response type is documented by
// construction).
func openAPI(rs []*route, cfg Config) map[string]any {
	g := &schemaGen{defs: map[string]any{}, names: map[reflect.Type]string{}}
	errRef := g.of(reflect.TypeOf(ErrorResponse{}), true)
	paths := map[string]any{}
	for _, rt := range rs {
		op := map[string]any{
			"operationId": operationID(rt.Path),
			"summary":     rt.Summary,
			"tags":        []string{rt.Tag},
		}
		if rt.Desc != "" {
			op["description"] = rt.Desc
		}
		params := make([]any, 0, len(rt.Params))
		for _, p := range rt.Params {
			params = append(params, paramDoc(p))
		}
		op["parameters"] = params
		ok := map[string]any{"description": "OK"}
		switch {
		case rt.Response != nil:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.of(reflect.TypeOf(rt.Response), true)}}
		case rt.Content == "application/json":
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
		default:
			ok["content"] = map[string]any{rt.Content: map[string]any{"schema": map[string]any{"type": "string"}}}
		}
		errContent := map[string]any{"application/json": map[string]any{"schema": errRef}}
		responses := map[string]any{
			"200": ok,
			"400": map[string]any{"description": "A bad parameter (unknown name, bad value, value out of range); the message names it.", "content": errContent},
			"405": map[string]any{"description": "A method other than GET or HEAD.", "content": errContent},
			"500": map[string]any{"description": "An internal error; the detail is in the center's log.", "content": errContent},
		}
		if len(rt.Params) > 0 || rt.Response != nil {
			responses["503"] = map[string]any{"description": "The query ran out of time (" + cfg.QueryTimeout.String() + ").", "content": errContent}
		}
		op["responses"] = responses
		paths[rt.Path] = map[string]any{"get": op}
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "wirewatch center API",
			"version":     "1",
			"description": "Summaries, flows, transactions, the traffic map and probe health of a wirewatch center. docs/api.md has examples.",
		},
		"paths":      paths,
		"components": map[string]any{"schemas": g.defs},
	}
}

// operationID turns /api/v1/flows/top into flowsTop.
func operationID(path string) string {
	path = strings.TrimPrefix(strings.TrimPrefix(path, "/api/v1"), "/api")
	var b strings.Builder
	upper := false
	for _, r := range path {
		switch {
		case r == '/' || r == '.' || r == '_':
			upper = b.Len() > 0
		case upper:
			b.WriteString(strings.ToUpper(string(r)))
			upper = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// paramDoc describes one parameter.
func paramDoc(p *param) map[string]any {
	s := map[string]any{}
	var style string
	switch p.Kind {
	case kindTime:
		s["type"] = "string"
		s["format"] = "date-time-or-relative"
	case kindPrefix:
		s["type"] = "string"
		s["format"] = "cidr"
	case kindPort:
		s["type"], s["minimum"], s["maximum"] = "integer", 1, 65535
	case kindInt:
		s["type"], s["minimum"], s["maximum"] = "integer", p.Min, p.Max
	case kindNumber:
		s["type"], s["minimum"], s["maximum"] = "number", p.Min, p.Max
	case kindBool:
		s["type"] = "boolean"
	case kindList:
		s["type"], s["items"] = "array", map[string]any{"type": "string"}
		style = "form"
	case kindEnum:
		s["type"], s["enum"] = "string", p.Enum
	case kindEnumList:
		s["type"], s["items"] = "array", map[string]any{"type": "string", "enum": p.Enum}
		style = "form"
	case kindLabel:
		s["type"], s["pattern"] = "string", "^[^=]+=.+$"
	default:
		s["type"] = "string"
	}
	if p.MaxLen > 0 && s["type"] == "string" {
		s["maxLength"] = p.MaxLen
	}
	if p.Default != "" {
		s["default"] = typedValue(p, p.Default)
	}
	d := map[string]any{"name": p.Name, "in": "query", "required": false, "description": p.Desc, "schema": s}
	if style != "" {
		d["style"], d["explode"] = style, false
	}
	if p.Prefix {
		// OpenAPI 3.0 has no parameter-name patterns: the name says it,
		// and the extension gives the prefix to clients that look.
		d["name"] = p.Name + "{key}"
		d["x-name-prefix"] = p.Name
	}
	if p.Example != "" {
		d["example"] = typedValue(p, p.Example)
	}
	return d
}

// typedValue gives a default or example its JSON type.
func typedValue(p *param, v string) any {
	switch p.Kind {
	case kindInt, kindPort:
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	case kindNumber:
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			return n
		}
	case kindBool:
		return v == "true"
	case kindList, kindEnumList:
		return strings.Split(v, ",")
	}
	return v
}

// schemaGen derives JSON schemas from Go types, as encoding/json encodes
// them. Named struct types become components; others are inlined.
type schemaGen struct {
	defs  map[string]any
	names map[reflect.Type]string
}

var timeType = reflect.TypeOf(time.Time{})

// of returns the schema of t. strict: t is this package's type, whose
// slices and maps the handlers never leave nil; types of other packages
// may encode a nil slice or map as null.
func (g *schemaGen) of(t reflect.Type, strict bool) map[string]any {
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := g.of(t.Elem(), strict)
		if _, ref := s["$ref"]; ref {
			// 3.0: a $ref cannot carry siblings; wrap it.
			return map[string]any{"allOf": []any{s}, "nullable": true}
		}
		s["nullable"] = true
		return s
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int:
		return map[string]any{"type": "integer", "format": "int32"}
	case reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return map[string]any{"type": "integer", "format": "int64", "minimum": 0}
	case reflect.Uint, reflect.Uint64:
		return map[string]any{"type": "integer", "format": "int64", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		s := map[string]any{"type": "array", "items": g.of(t.Elem(), strict && isLocal(t.Elem()))}
		if !strict && t.Kind() == reflect.Slice {
			s["nullable"] = true
		}
		return s
	case reflect.Map:
		s := map[string]any{"type": "object", "additionalProperties": g.of(t.Elem(), strict && isLocal(t.Elem()))}
		if !strict {
			s["nullable"] = true
		}
		return s
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t, strict)
		}
		name, ok := g.names[t]
		if !ok {
			name = t.Name()
			if _, taken := g.defs[name]; taken {
				name = pkgName(t) + "." + t.Name()
			}
			g.names[t] = name
			g.defs[name] = nil // placeholder: recursive types stop here
			g.defs[name] = g.object(t, strict && isLocal(t))
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func isLocal(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	return t.PkgPath() == reflect.TypeOf(route{}).PkgPath() || t.PkgPath() == "" || t == timeType ||
		strings.HasSuffix(t.PkgPath(), "/center/graph")
}

func pkgName(t reflect.Type) string {
	p := t.PkgPath()
	return p[strings.LastIndex(p, "/")+1:]
}

// object describes a struct: its exported fields under their JSON names,
// embedded structs flattened, fields without omitempty required.
func (g *schemaGen) object(t reflect.Type, strict bool) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(t, strict, props, &required)
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func (g *schemaGen) fields(t reflect.Type, strict bool, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			g.fields(f.Type, strict && isLocal(f.Type), props, required)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.of(f.Type, strict && isLocal(f.Type))
		if !strings.Contains(opts, "omitempty") {
			*required = append(*required, name)
		}
	}
}
