package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/internal/problem"
)

// Version is the OpenAPI version of the documents Build writes.
const Version = "3.1.0"

// Info is the document's info object.
type Info struct {
	Title       string
	Version     string
	Description string
}

// SecurityScheme is the name of the bearer (JWT) scheme every non-public operation requires.
const SecurityScheme = "bearerAuth"

// ProblemSchema is the component name of problem.Details.
const ProblemSchema = "Problem"

var methods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodHead: true, http.MethodOptions: true,
}

var anyParam = regexp.MustCompile(`\{[^}]*\}`)

var ginParam = regexp.MustCompile(`^[:*]([A-Za-z_][A-Za-z0-9_]*)$`)

// PathTemplate turns a Gin path (/v1/companies/:company_id) into an OpenAPI path template
// (/v1/companies/{company_id}) and lists its parameters in order.
func PathTemplate(ginPath string) (string, []string, error) {
	if !strings.HasPrefix(ginPath, "/") {
		return "", nil, fmt.Errorf("openapi: path %q does not start with /", ginPath)
	}
	segs := strings.Split(ginPath, "/")
	var params []string
	seen := map[string]bool{}
	for i, s := range segs {
		if s == "" || (s[0] != ':' && s[0] != '*') {
			continue
		}
		m := ginParam.FindStringSubmatch(s)
		if m == nil {
			return "", nil, fmt.Errorf("openapi: path %q: bad parameter segment %q", ginPath, s)
		}
		if seen[m[1]] {
			return "", nil, fmt.Errorf("openapi: path %q names parameter %q twice", ginPath, m[1])
		}
		seen[m[1]] = true
		params = append(params, m[1])
		segs[i] = "{" + m[1] + "}"
	}
	return strings.Join(segs, "/"), params, nil
}

// Build writes the OpenAPI 3.1 document (JSON, indented, keys sorted) of the operations of
// every list. It refuses duplicate operation ids or routes, unknown methods and types that
// cannot be encoded as JSON.
func Build(info Info, ops ...[]Operation) ([]byte, error) {
	doc, err := BuildDocument(info, ops...)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("openapi: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// BuildDocument is Build before encoding: the document as JSON values.
func BuildDocument(info Info, lists ...[]Operation) (map[string]any, error) {
	var all []Operation
	for _, l := range lists {
		all = append(all, l...)
	}
	r := NewReflector()
	r.Names[reflect.TypeFor[problem.Details]()] = ProblemSchema
	samples := []any{problem.Details{}}
	for _, op := range all {
		if op.Request != nil {
			samples = append(samples, op.Request)
			closeStructs(reflect.TypeOf(op.Request), r.Closed)
		}
		for _, s := range op.Responses {
			if alts, ok := s.(OneOf); ok {
				samples = append(samples, alts...)
			} else if s != nil {
				samples = append(samples, s)
			}
		}
	}
	if err := r.Prepare(samples...); err != nil {
		return nil, err
	}
	problemRef, err := r.Schema(problem.Details{})
	if err != nil {
		return nil, err
	}

	paths := map[string]map[string]any{}
	ids := map[string]string{}
	routes := map[string]string{}
	tags := map[string]bool{}
	for _, op := range all {
		where := op.Method + " " + op.Path
		if !methods[op.Method] {
			return nil, fmt.Errorf("openapi: %s: unknown method", where)
		}
		if op.ID == "" {
			return nil, fmt.Errorf("openapi: %s: no operation id", where)
		}
		if prev, dup := ids[op.ID]; dup {
			return nil, fmt.Errorf("openapi: operation id %q of %s is also %s", op.ID, where, prev)
		}
		ids[op.ID] = where
		tmpl, params, err := PathTemplate(op.Path)
		if err != nil {
			return nil, err
		}
		shape := op.Method + " " + anyParam.ReplaceAllString(tmpl, "{}")
		if prev, dup := routes[shape]; dup {
			return nil, fmt.Errorf("openapi: %s and %s are the same route", where, prev)
		}
		routes[shape] = where
		o, err := operationObject(r, op, params, problemRef)
		if err != nil {
			return nil, fmt.Errorf("openapi: %s (%s): %w", where, op.ID, err)
		}
		for _, t := range op.Tags {
			tags[t] = true
		}
		if paths[tmpl] == nil {
			paths[tmpl] = map[string]any{}
		}
		paths[tmpl][strings.ToLower(op.Method)] = o
	}

	var tagList []any
	for _, t := range sortedKeys(tags) {
		tagList = append(tagList, map[string]any{"name": t})
	}
	infoObj := map[string]any{"title": info.Title, "version": info.Version}
	if info.Description != "" {
		infoObj["description"] = info.Description
	}
	doc := map[string]any{
		"openapi": Version,
		"info":    infoObj,
		"paths":   paths,
		"components": map[string]any{
			"schemas": r.Components(),
			"securitySchemes": map[string]any{
				SecurityScheme: map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
					"description": "a JWT bearer token: a user's (OpenID Connect) or a service's"},
			},
		},
	}
	if len(tagList) > 0 {
		doc["tags"] = tagList
	}
	return doc, nil
}

func operationObject(r *Reflector, op Operation, pathParams []string, problemRef Schema) (map[string]any, error) {
	o := map[string]any{"operationId": op.ID}
	if op.Summary != "" {
		o["summary"] = op.Summary
	}
	if op.Description != "" {
		o["description"] = op.Description
	}
	if len(op.Tags) > 0 {
		o["tags"] = op.Tags
	}

	var params []any
	for _, p := range pathParams {
		params = append(params, map[string]any{"name": p, "in": "path", "required": true, "schema": Schema{"type": "string"}})
	}
	for _, name := range sortedKeys(op.Query) {
		params = append(params, parameter(name, "query", op.Query[name]))
	}
	for _, name := range sortedKeys(op.Headers) {
		if strings.EqualFold(name, "Authorization") || strings.EqualFold(name, "Accept") || strings.EqualFold(name, "Content-Type") {
			return nil, fmt.Errorf("header %s is described by the document itself, not as a parameter", name)
		}
		params = append(params, parameter(name, "header", op.Headers[name]))
	}
	if len(params) > 0 {
		o["parameters"] = params
	}

	if HasBody(op.Request) {
		s, err := r.Schema(op.Request)
		if err != nil {
			return nil, err
		}
		o["requestBody"] = map[string]any{
			"required": hasRequired(r, s),
			"content":  map[string]any{"application/json": map[string]any{"schema": s}},
		}
	}

	responses := map[string]any{}
	for status, sample := range op.Responses {
		if status < 100 || status > 599 {
			return nil, fmt.Errorf("bad status %d", status)
		}
		resp := map[string]any{"description": statusText(status)}
		if sample != nil {
			s, err := r.Schema(sample)
			if err != nil {
				return nil, err
			}
			content := map[string]any{"application/json": map[string]any{"schema": s}}
			if status == http.StatusOK {
				for _, mt := range op.Produces {
					content[mt] = map[string]any{}
				}
			}
			resp["content"] = content
		}
		if status >= 200 && status < 300 && len(op.ResponseHeaders) > 0 {
			h := map[string]any{}
			for name, desc := range op.ResponseHeaders {
				h[name] = map[string]any{"description": desc, "schema": Schema{"type": "string"}}
			}
			resp["headers"] = h
		}
		responses[strconv.Itoa(status)] = resp
	}
	problems := map[int]bool{}
	for _, status := range op.Problems {
		problems[status] = true
	}
	if !op.Public {
		problems[http.StatusUnauthorized] = true
	}
	for _, status := range sortedInts(problems) {
		if status < 400 || status > 599 {
			return nil, fmt.Errorf("problem status %d is not an error", status)
		}
		key := strconv.Itoa(status)
		if _, dup := responses[key]; dup {
			return nil, fmt.Errorf("status %d is both a response and a problem", status)
		}
		resp := map[string]any{
			"description": statusText(status),
			"content":     map[string]any{problem.ContentType: map[string]any{"schema": problemRef}},
		}
		if status == http.StatusUnauthorized {
			resp["headers"] = map[string]any{"WWW-Authenticate": map[string]any{
				"description": "the bearer challenge", "schema": Schema{"type": "string"}}}
		}
		responses[key] = resp
	}
	if len(responses) == 0 {
		return nil, fmt.Errorf("no responses")
	}
	o["responses"] = responses
	if !op.Public {
		o["security"] = []any{map[string]any{SecurityScheme: []any{}}}
	}
	return o, nil
}

func parameter(name, in, desc string) map[string]any {
	p := map[string]any{"name": name, "in": in, "required": false, "schema": Schema{"type": "string"}}
	if desc != "" {
		p["description"] = desc
	}
	return p
}

// hasRequired reports whether the (possibly referenced) schema requires a property.
func hasRequired(r *Reflector, s Schema) bool {
	if ref, ok := s["$ref"].(string); ok {
		s = r.Components()[strings.TrimPrefix(ref, "#/components/schemas/")]
	}
	req, _ := s["required"].([]any)
	return len(req) > 0
}

func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Status " + strconv.Itoa(status)
}

// closeStructs marks the struct types a request decodes: the API refuses unknown fields, so
// their schemas say additionalProperties: false.
func closeStructs(t reflect.Type, closed map[reflect.Type]bool) {
	t = base(t)
	if special(t) {
		return
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		closeStructs(t.Elem(), closed)
	case reflect.Struct:
		if closed[t] {
			return
		}
		closed[t] = true
		for _, f := range jsonFields(t) {
			closeStructs(f.typ, closed)
		}
	}
}

func sortedInts(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Handler serves the document as application/json.
func Handler(doc []byte) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, "application/json", doc)
	}
}

// Self declares the route that serves the document (GET /openapi.json, public).
func Self() Operation {
	return Operation{Method: http.MethodGet, Path: "/openapi.json", ID: "GetOpenAPIDocument",
		Summary: "this OpenAPI 3.1 document", Tags: []string{"meta"}, Public: true,
		Responses: map[int]any{http.StatusOK: map[string]any{}}}
}
