// Package openapitest checks HTTP answers against an OpenAPI 3.1 document built by package
// openapi, and the document against the OpenAPI 3.1 specification. It is for tests: it keeps
// the validators out of the service's binary.
package openapitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/portal-access/backend/internal/openapi"
)

// Validator checks responses against a document. It is strict where the document is open:
// every object schema is closed (additionalProperties: false unless the schema says otherwise),
// so that a field the handler renames or adds is caught, not only a required one that goes
// missing.
type Validator struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	routes   []route

	mu       sync.Mutex
	compiled map[string]*jsonschema.Schema
	seen     map[string]map[int]bool // operationId → statuses validated
}

type route struct {
	method string
	segs   []string // "{x}" matches any one segment
	path   string   // the template
	op     map[string]any
}

const resourceURL = "mem:///openapi.json"

// NewValidator compiles doc (every schema in it, against JSON Schema 2020-12).
func NewValidator(doc []byte) (*Validator, error) {
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("openapitest: document: %w", err)
	}
	v := &Validator{doc: d, compiled: map[string]*jsonschema.Schema{}, seen: map[string]map[int]bool{}}
	strict, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, err
	}
	closeAll(strict)
	v.compiler = jsonschema.NewCompiler()
	v.compiler.DefaultDraft(jsonschema.Draft2020)
	if err := v.compiler.AddResource(resourceURL, strict); err != nil {
		return nil, err
	}
	paths, _ := d["paths"].(map[string]any)
	for _, p := range sortedKeys(paths) {
		item, _ := paths[p].(map[string]any)
		for _, m := range sortedKeys(item) {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			v.routes = append(v.routes, route{method: strings.ToUpper(m), segs: strings.Split(p, "/"), path: p, op: op})
		}
	}
	// Compile every schema now, so that a schema that is not valid 2020-12 fails here.
	schemas, _ := d["components"].(map[string]any)["schemas"].(map[string]any)
	for _, name := range sortedKeys(schemas) {
		if _, err := v.schema("#/components/schemas/" + escape(name)); err != nil {
			return nil, err
		}
	}
	for _, rt := range v.routes {
		for _, loc := range mediaSchemas(rt) {
			if _, err := v.schema(loc); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// mediaSchemas are the pointers to every request and response schema of a route.
func mediaSchemas(rt route) []string {
	base := "#/paths/" + escape(rt.path) + "/" + strings.ToLower(rt.method)
	var out []string
	add := func(prefix string, content map[string]any) {
		for _, mt := range sortedKeys(content) {
			if m, _ := content[mt].(map[string]any); m != nil && m["schema"] != nil {
				out = append(out, prefix+"/content/"+escape(mt)+"/schema")
			}
		}
	}
	if rb, ok := rt.op["requestBody"].(map[string]any); ok {
		c, _ := rb["content"].(map[string]any)
		add(base+"/requestBody", c)
	}
	rs, _ := rt.op["responses"].(map[string]any)
	for _, st := range sortedKeys(rs) {
		r, _ := rs[st].(map[string]any)
		c, _ := r["content"].(map[string]any)
		add(base+"/responses/"+st, c)
	}
	return out
}

func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func (v *Validator) schema(pointer string) (*jsonschema.Schema, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if s, ok := v.compiled[pointer]; ok {
		return s, nil
	}
	s, err := v.compiler.Compile(resourceURL + pointer)
	if err != nil {
		return nil, fmt.Errorf("openapitest: schema %s: %w", pointer, err)
	}
	v.compiled[pointer] = s
	return s, nil
}

// closeAll sets additionalProperties: false on every object schema of the document that has
// properties and does not say otherwise.
func closeAll(doc any) {
	d, _ := doc.(map[string]any)
	if c, ok := d["components"].(map[string]any); ok {
		if s, ok := c["schemas"].(map[string]any); ok {
			for _, x := range s {
				closeSchema(x)
			}
		}
	}
	paths, _ := d["paths"].(map[string]any)
	for _, item := range paths {
		ops, _ := item.(map[string]any)
		for _, op := range ops {
			o, _ := op.(map[string]any)
			var contents []any
			if rb, ok := o["requestBody"].(map[string]any); ok {
				contents = append(contents, rb["content"])
			}
			if rs, ok := o["responses"].(map[string]any); ok {
				for _, r := range rs {
					if rm, ok := r.(map[string]any); ok {
						contents = append(contents, rm["content"])
					}
				}
			}
			for _, c := range contents {
				cm, _ := c.(map[string]any)
				for _, m := range cm {
					if mm, ok := m.(map[string]any); ok {
						closeSchema(mm["schema"])
					}
				}
			}
		}
	}
}

func closeSchema(s any) {
	m, ok := s.(map[string]any)
	if !ok {
		return
	}
	if props, ok := m["properties"].(map[string]any); ok {
		if _, set := m["additionalProperties"]; !set {
			if _, set := m["unevaluatedProperties"]; !set {
				m["additionalProperties"] = false
			}
		}
		for _, p := range props {
			closeSchema(p)
		}
	}
	for _, k := range []string{"items", "additionalProperties", "not", "contains", "if", "then", "else"} {
		closeSchema(m[k])
	}
	for _, k := range []string{"anyOf", "oneOf", "allOf", "prefixItems"} {
		if l, ok := m[k].([]any); ok {
			for _, x := range l {
				closeSchema(x)
			}
		}
	}
	for _, k := range []string{"$defs", "patternProperties", "dependentSchemas"} {
		if d, ok := m[k].(map[string]any); ok {
			for _, x := range d {
				closeSchema(x)
			}
		}
	}
}

// Operation finds the operation that serves method and path: a concrete URL path
// (/v1/companies/abc), a Gin path (/v1/companies/:company_id) or a template. Literal segments
// win over parameters, as in Gin.
func (v *Validator) Operation(method, path string) (opID, template string, op map[string]any, err error) {
	path, _, _ = strings.Cut(path, "?")
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	best, bestScore := -1, -1
	for i, rt := range v.routes {
		if rt.method != method || len(rt.segs) != len(segs) {
			continue
		}
		score := 0
		for j, s := range rt.segs {
			if isParam(s) {
				continue
			}
			if s != segs[j] {
				score = -1
				break
			}
			score += 1 << (len(segs) - j) // earlier literal segments weigh more
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return "", "", nil, fmt.Errorf("%w %s %s", ErrNoOperation, method, path)
	}
	rt := v.routes[best]
	id, _ := rt.op["operationId"].(string)
	return id, rt.path, rt.op, nil
}

func isParam(s string) bool { return strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") }

// ErrNoOperation: the document has no operation for a request's method and path.
var ErrNoOperation = errors.New("openapitest: the document has no operation")

// ValidateResponse checks that the operation of method and path declares status with the
// content type, and that body validates against the schema (strictly). An empty body is valid
// only where the response declares no content. A 404 or 405 to a request no operation
// describes must be a problem+json refusal.
func (v *Validator) ValidateResponse(method, path string, status int, contentType string, body []byte) error {
	id, tmpl, op, err := v.Operation(method, path)
	if errors.Is(err, ErrNoOperation) && (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) {
		// A request no route serves: the document cannot describe it, but the refusal must
		// still be a problem.
		var p struct {
			Status int    `json:"status"`
			Code   string `json:"code"`
		}
		if !strings.HasPrefix(contentType, "application/problem+json") || json.Unmarshal(body, &p) != nil || p.Status != status || p.Code == "" {
			return fmt.Errorf("openapitest: %s %s answering %d: not a problem+json refusal: %q", method, path, status, truncate(body))
		}
		return nil
	}
	if err != nil {
		return err
	}
	where := fmt.Sprintf("%s %s (%s) answering %d", method, tmpl, id, status)
	responses, _ := op["responses"].(map[string]any)
	key := strconv.Itoa(status)
	resp, ok := responses[key].(map[string]any)
	if !ok {
		key = strconv.Itoa(status/100) + "XX"
		if resp, ok = responses[key].(map[string]any); !ok {
			key = "default"
			if resp, ok = responses[key].(map[string]any); !ok {
				return fmt.Errorf("openapitest: %s: status not declared", where)
			}
		}
	}
	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		if len(bytes.TrimSpace(body)) != 0 {
			return fmt.Errorf("openapitest: %s: the response declares no body, got %q", where, truncate(body))
		}
		v.mark(id, status)
		return nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("openapitest: %s: content type %q: %w", where, contentType, err)
	}
	media, ok := content[mt].(map[string]any)
	if !ok {
		return fmt.Errorf("openapitest: %s: content type %s not declared (declared: %v)", where, mt, sortedKeys(content))
	}
	if media["schema"] == nil {
		v.mark(id, status)
		return nil
	}
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		v.mark(id, status) // not JSON: its schema is not checked here
		return nil
	}
	s, err := v.schema("#/paths/" + escape(tmpl) + "/" + strings.ToLower(method) + "/responses/" + key + "/content/" + escape(mt) + "/schema")
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("openapitest: %s: body is not JSON: %w: %q", where, err, truncate(body))
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("openapitest: %s: body %s does not match the document: %w", where, truncate(body), err)
	}
	v.mark(id, status)
	return nil
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

func (v *Validator) mark(id string, status int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen[id] == nil {
		v.seen[id] = map[int]bool{}
	}
	v.seen[id][status] = true
}

// ValidateHTTP checks an answer to req (its method and URL path).
func (v *Validator) ValidateHTTP(req *http.Request, resp *http.Response, body []byte) error {
	return v.ValidateResponse(req.Method, req.URL.Path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
}

// Seen returns, by operation id, the statuses validated so far (sorted).
func (v *Validator) Seen() map[string][]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string][]int{}
	for id, st := range v.seen {
		for s := range st {
			out[id] = append(out[id], s)
		}
		sort.Ints(out[id])
	}
	return out
}

// OperationIDs lists the document's operation ids (sorted).
func (v *Validator) OperationIDs() []string {
	var out []string
	for _, rt := range v.routes {
		if id, ok := rt.op["operationId"].(string); ok {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// ValidateResponse is NewValidator(doc).ValidateResponse (compiling the document each call).
func ValidateResponse(doc []byte, method, path string, status int, contentType string, body []byte) error {
	v, err := NewValidator(doc)
	if err != nil {
		return err
	}
	return v.ValidateResponse(method, path, status, contentType, body)
}

// ValidateDocument checks doc against the OpenAPI 3.1 specification's schema (with
// libopenapi-validator) and that libopenapi builds a model of it without error.
func ValidateDocument(doc []byte) error {
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return fmt.Errorf("openapitest: parse: %w", err)
	}
	if v := d.GetSpecInfo().SpecFormat; v != "oas3_1" {
		return fmt.Errorf("openapitest: not an OpenAPI 3.1 document: %q", v)
	}
	if _, err := d.BuildV3Model(); err != nil {
		return fmt.Errorf("openapitest: model: %w", err)
	}
	val, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		return fmt.Errorf("openapitest: %v", errs)
	}
	ok, verrs := val.ValidateDocument()
	if ok {
		return nil
	}
	var b strings.Builder
	for _, e := range verrs {
		fmt.Fprintf(&b, "%s: %s", e.Message, e.Reason)
		for _, s := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "; %s", s.Reason)
		}
		b.WriteString("\n")
	}
	return fmt.Errorf("openapitest: the document is not valid OpenAPI %s:\n%s", openapi.Version, b.String())
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
