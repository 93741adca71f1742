package openapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/openapi"
	"github.com/portal-access/backend/internal/openapi/openapitest"
)

type Kind string

type Inner struct {
	Name string `json:"name"`
}

type Base struct {
	ID      string `json:"id"`
	Shadow  string `json:"shadow"`
	Created time.Time
}

type Tree struct {
	Value    int     `json:"value"`
	Children []*Tree `json:"children,omitempty"`
	Parent   *Tree   `json:"parent"`
}

type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next_cursor,omitempty"`
}

type Position struct { // same name as eventstore.Position
	Line int `json:"line"`
}

type Money struct{ cents int64 }

func (Money) OpenAPISchema() openapi.Schema {
	return openapi.Schema{"type": "string", "pattern": `^\d+\.\d\d$`}
}

type Everything struct {
	Base
	Shadow     int                 `json:"shadow"` // shallower: wins over Base.Shadow
	Kind       Kind                `json:"kind"`
	Opt        string              `json:"opt,omitempty"`
	Zero       time.Time           `json:"zero,omitzero"`
	When       time.Time           `json:"when"`
	MaybeWhen  *time.Time          `json:"maybe_when"`
	Ptr        *Inner              `json:"ptr"`
	PtrOmit    *Inner              `json:"ptr_omit,omitempty"`
	Inner      Inner               `json:"inner"`
	List       []Inner             `json:"list"`
	ListOmit   []string            `json:"list_omit,omitempty"`
	Map        map[string]int      `json:"map"`
	IntKeys    map[int]bool        `json:"int_keys,omitempty"`
	Raw        json.RawMessage     `json:"raw"`
	Any        any                 `json:"any"`
	Bytes      []byte              `json:"bytes"`
	Count      uint32              `json:"count"`
	Ratio      float64             `json:"ratio"`
	Quoted     int64               `json:"quoted,string"`
	Hidden     string              `json:"-"`
	FromPath   string              `json:"-" path:"id"`
	unexported string              //nolint:unused
	Untagged   bool                //
	Anon       struct{ A int }     `json:"anon"`
	Tree       Tree                `json:"tree"`
	Page       Page[Inner]         `json:"page"`
	Pos        eventstore.Position `json:"pos"`
	LocalPos   Position            `json:"local_pos"`
	Money      Money               `json:"money"`
	Arr        [2]int              `json:"arr"`
	Nested     map[string][]Kind   `json:"nested,omitempty"`
}

func reflectAll(t *testing.T, samples ...any) (*openapi.Reflector, []openapi.Schema) {
	t.Helper()
	r := openapi.NewReflector()
	if err := r.Prepare(samples...); err != nil {
		t.Fatal(err)
	}
	var out []openapi.Schema
	for _, s := range samples {
		sc, err := r.Schema(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sc)
	}
	return r, out
}

// js normalizes a value through JSON, so that expectations compare as decoded JSON.
func js(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReflectStruct(t *testing.T) {
	r, s := reflectAll(t, Everything{})
	if got := js(t, s[0]); !reflect.DeepEqual(got, js(t, map[string]any{"$ref": "#/components/schemas/Everything"})) {
		t.Fatalf("top-level named struct: %v", got)
	}
	comps := r.Components()
	ev := js(t, comps["Everything"]).(map[string]any)
	props := ev["props"]
	_ = props
	p := ev["properties"].(map[string]any)
	want := map[string]any{
		"id":         map[string]any{"type": "string"},
		"shadow":     map[string]any{"type": "integer", "format": "int64"},
		"Created":    map[string]any{"type": "string", "format": "date-time"},
		"kind":       map[string]any{"type": "string"},
		"opt":        map[string]any{"type": "string"},
		"zero":       map[string]any{"type": "string", "format": "date-time"},
		"when":       map[string]any{"type": "string", "format": "date-time"},
		"maybe_when": map[string]any{"type": []any{"string", "null"}, "format": "date-time"},
		"ptr":        map[string]any{"anyOf": []any{map[string]any{"$ref": "#/components/schemas/Inner"}, map[string]any{"type": "null"}}},
		"ptr_omit":   map[string]any{"$ref": "#/components/schemas/Inner"},
		"inner":      map[string]any{"$ref": "#/components/schemas/Inner"},
		"list":       map[string]any{"type": []any{"array", "null"}, "items": map[string]any{"$ref": "#/components/schemas/Inner"}},
		"list_omit":  map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
		"map":        map[string]any{"type": []any{"object", "null"}, "additionalProperties": map[string]any{"type": "integer", "format": "int64"}},
		"int_keys":   map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "boolean"}, "propertyNames": map[string]any{"pattern": "^-?[0-9]+$"}},
		"raw":        map[string]any{},
		"any":        map[string]any{},
		"bytes":      map[string]any{"type": []any{"string", "null"}, "contentEncoding": "base64"},
		"count":      map[string]any{"type": "integer", "format": "int32", "minimum": float64(0)},
		"ratio":      map[string]any{"type": "number", "format": "double"},
		"quoted":     map[string]any{"type": "string"},
		"Untagged":   map[string]any{"type": "boolean"},
		"anon": map[string]any{"type": "object", "properties": map[string]any{"A": map[string]any{"type": "integer", "format": "int64"}},
			"required": []any{"A"}},
		"tree":      map[string]any{"$ref": "#/components/schemas/Tree"},
		"page":      map[string]any{"$ref": "#/components/schemas/Page_Inner"},
		"pos":       map[string]any{"$ref": "#/components/schemas/eventstore.Position"},
		"local_pos": map[string]any{"$ref": "#/components/schemas/openapi_test.Position"},
		"money":     map[string]any{"type": "string", "pattern": `^\d+\.\d\d$`},
		"arr":       map[string]any{"type": "array", "items": map[string]any{"type": "integer", "format": "int64"}, "minItems": float64(2), "maxItems": float64(2)},
		"nested":    map[string]any{"type": "object", "additionalProperties": map[string]any{"type": []any{"array", "null"}, "items": map[string]any{"type": "string"}}},
	}
	for name, w := range want {
		if !reflect.DeepEqual(p[name], w) {
			t.Errorf("property %s:\n got %v\nwant %v", name, p[name], w)
		}
	}
	for name := range p {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected property %s: %v", name, p[name])
		}
	}
	var req []string
	for _, x := range ev["required"].([]any) {
		req = append(req, x.(string))
	}
	wantReq := "Created Untagged anon any arr bytes count id inner kind list local_pos map maybe_when money page pos ptr quoted ratio raw shadow tree when"
	if strings.Join(req, " ") != wantReq {
		t.Errorf("required:\n got %s\nwant %s", strings.Join(req, " "), wantReq)
	}
	if _, closed := ev["additionalProperties"]; closed {
		t.Errorf("a response type is closed: %v", ev)
	}

	// Recursion goes through the $ref; generics are named by their arguments.
	tree := js(t, comps["Tree"]).(map[string]any)["properties"].(map[string]any)
	if !reflect.DeepEqual(tree["children"], js(t, map[string]any{"type": "array", "items": map[string]any{"anyOf": []any{map[string]any{"$ref": "#/components/schemas/Tree"}, map[string]any{"type": "null"}}}})) {
		t.Errorf("recursive children: %v", tree["children"])
	}
	if _, ok := comps["Page_Inner"]; !ok {
		t.Errorf("generic component missing: %v", keys(comps))
	}
	for _, n := range []string{"Inner", "Tree", "Page_Inner", "eventstore.Position", "openapi_test.Position", "Everything"} {
		if _, ok := comps[n]; !ok {
			t.Errorf("component %s missing: %v", n, keys(comps))
		}
	}
	if len(comps) != 6 {
		t.Errorf("components: %v", keys(comps))
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestReflectScalarsAndTopLevel(t *testing.T) {
	_, s := reflectAll(t, "", 0, true, []Inner{}, map[string]string{}, &Inner{}, time.Time{}, Kind(""))
	want := []any{
		map[string]any{"type": "string"},
		map[string]any{"type": "integer", "format": "int64"},
		map[string]any{"type": "boolean"},
		map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/Inner"}},
		map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}},
		map[string]any{"$ref": "#/components/schemas/Inner"}, // a pointer sample is its element
		map[string]any{"type": "string", "format": "date-time"},
		map[string]any{"type": "string"},
	}
	for i := range want {
		if got := js(t, s[i]); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("sample %d: got %v want %v", i, got, want[i])
		}
	}
}

func TestReflectRefusesWhatJSONCannotEncode(t *testing.T) {
	type bad struct {
		C chan int `json:"c"`
	}
	if err := openapi.NewReflector().Prepare(bad{}); err == nil {
		t.Fatal("a channel field was accepted")
	}
	type badKey struct {
		M map[Inner]int `json:"m"`
	}
	if err := openapi.NewReflector().Prepare(badKey{}); err == nil {
		t.Fatal("a struct map key was accepted")
	}
}

func TestHasBody(t *testing.T) {
	type onlyPath struct {
		ID string `json:"-" path:"id"`
	}
	for _, tc := range []struct {
		sample any
		want   bool
	}{{nil, false}, {onlyPath{}, false}, {&onlyPath{}, false}, {Inner{}, true}, {time.Time{}, true}, {[]int{}, true}} {
		if got := openapi.HasBody(tc.sample); got != tc.want {
			t.Errorf("HasBody(%T) = %v", tc.sample, got)
		}
	}
}

func TestPathTemplate(t *testing.T) {
	tmpl, params, err := openapi.PathTemplate("/v1/people/:person_id/memberships/:company_id/role")
	if err != nil || tmpl != "/v1/people/{person_id}/memberships/{company_id}/role" || strings.Join(params, ",") != "person_id,company_id" {
		t.Fatalf("%q %v %v", tmpl, params, err)
	}
	if tmpl, _, _ := openapi.PathTemplate("/files/*path"); tmpl != "/files/{path}" {
		t.Fatalf("catch-all: %q", tmpl)
	}
	for _, bad := range []string{"v1/x", "/a/:x/b/:x", "/a/:"} {
		if _, _, err := openapi.PathTemplate(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

type createThing struct {
	Parent string   `json:"-" path:"parent_id"`
	Name   string   `json:"name"`
	Tags   []string `json:"tags,omitempty"`
	Inner  Inner    `json:"inner"`
}

type thing struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Note    string    `json:"note,omitempty"`
}

func sampleOps() []openapi.Operation {
	return []openapi.Operation{
		{Method: "POST", Path: "/v1/parents/:parent_id/things", ID: "CreateThing", Summary: "create a thing", Tags: []string{"things"},
			Headers: map[string]string{"Idempotency-Key": "retry safely"}, Request: createThing{},
			Responses: map[int]any{201: thing{}, 200: thing{}}, Problems: []int{400, 404, 409, 503},
			ResponseHeaders: map[string]string{"X-Log-Position": "where the event landed"}},
		{Method: "GET", Path: "/v1/things", ID: "ListThings", Tags: []string{"things"},
			Query: map[string]string{"limit": "page size", "cursor": "next"}, Responses: map[int]any{200: Page[thing]{}},
			Produces: []string{"application/x-ndjson"}, Problems: []int{400}},
		{Method: "DELETE", Path: "/v1/things/:id", ID: "DeleteThing", Request: struct {
			ID string `json:"-" path:"id"`
		}{}, Responses: map[int]any{204: nil}, Problems: []int{404}},
		openapi.Self(),
	}
}

func TestBuild(t *testing.T) {
	doc, err := openapi.Build(openapi.Info{Title: "test", Version: "1"}, sampleOps())
	if err != nil {
		t.Fatal(err)
	}
	// Deterministic: the same operations in another order give the same bytes.
	ops := sampleOps()
	rev := []openapi.Operation{ops[3], ops[2], ops[1], ops[0]}
	doc2, err := openapi.Build(openapi.Info{Title: "test", Version: "1"}, rev[:2], rev[2:])
	if err != nil {
		t.Fatal(err)
	}
	if string(doc) != string(doc2) {
		t.Fatal("the document depends on the order of the operations")
	}
	if err := openapitest.ValidateDocument(doc); err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	create := d["paths"].(map[string]any)["/v1/parents/{parent_id}/things"].(map[string]any)["post"].(map[string]any)
	if create["operationId"] != "CreateThing" {
		t.Fatalf("operation: %v", create)
	}
	params := js(t, create["parameters"]).([]any)
	if len(params) != 2 || params[0].(map[string]any)["in"] != "path" || params[0].(map[string]any)["name"] != "parent_id" ||
		params[1].(map[string]any)["in"] != "header" || params[1].(map[string]any)["name"] != "Idempotency-Key" {
		t.Fatalf("parameters: %v", params)
	}
	body := create["requestBody"].(map[string]any)
	if body["required"] != true {
		t.Fatalf("request body: %v", body)
	}
	comp := d["components"].(map[string]any)["schemas"].(map[string]any)
	if ct := comp["createThing"].(map[string]any); ct["additionalProperties"] != false || comp["Inner"].(map[string]any)["additionalProperties"] != false {
		t.Fatalf("request types are not closed: %v", ct)
	}
	if _, closed := comp["thing"].(map[string]any)["additionalProperties"]; closed {
		t.Fatal("a response type is closed")
	}
	if _, has := comp["Problem"]; !has {
		t.Fatalf("no Problem schema: %v", keys(comp))
	}
	resp := create["responses"].(map[string]any)
	for _, st := range []string{"200", "201", "400", "401", "404", "409", "503"} {
		if _, ok := resp[st]; !ok {
			t.Errorf("response %s missing", st)
		}
	}
	if _, ok := resp["401"].(map[string]any)["content"].(map[string]any)["application/problem+json"]; !ok {
		t.Errorf("401 is not a problem: %v", resp["401"])
	}
	if _, ok := resp["201"].(map[string]any)["headers"].(map[string]any)["X-Log-Position"]; !ok {
		t.Errorf("no response header: %v", resp["201"])
	}
	if create["security"] == nil {
		t.Error("no security on a protected operation")
	}
	self := d["paths"].(map[string]any)["/openapi.json"].(map[string]any)["get"].(map[string]any)
	if self["security"] != nil || self["responses"].(map[string]any)["401"] != nil {
		t.Errorf("public operation has security: %v", self)
	}
	del := d["paths"].(map[string]any)["/v1/things/{id}"].(map[string]any)["delete"].(map[string]any)
	if del["requestBody"] != nil {
		t.Errorf("a path-only input has a body: %v", del)
	}
	list := d["paths"].(map[string]any)["/v1/things"].(map[string]any)["get"].(map[string]any)
	if _, ok := list["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/x-ndjson"]; !ok {
		t.Errorf("produces: %v", list["responses"])
	}

	// The validator accepts what the types encode and refuses drift.
	v, err := openapitest.NewValidator(doc)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := json.Marshal(thing{ID: "1", Name: "a", Created: time.Now()})
	if err := v.ValidateResponse("POST", "/v1/parents/p1/things", 201, "application/json; charset=utf-8", good); err != nil {
		t.Fatal(err)
	}
	if err := v.ValidateResponse("POST", "/v1/parents/:parent_id/things", 200, "application/json", good); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		status int
		ct     string
		body   string
	}{
		"renamed field":      {201, "application/json", `{"id":"1","nom":"a","created":"2024-01-01T00:00:00Z"}`},
		"extra field":        {201, "application/json", `{"id":"1","name":"a","created":"2024-01-01T00:00:00Z","x":1}`},
		"wrong type":         {201, "application/json", `{"id":1,"name":"a","created":"2024-01-01T00:00:00Z"}`},
		"undeclared status":  {202, "application/json", string(good)},
		"wrong content type": {201, "text/plain", string(good)},
		"problem as json":    {404, "application/json", `{"type":"/problems/not-found","title":"Not Found","status":404,"code":"not-found"}`},
		"bad problem":        {404, "application/problem+json", `{"title":"Not Found","status":404}`},
		"not JSON":           {201, "application/json", `{`},
	} {
		if err := v.ValidateResponse("POST", "/v1/parents/p1/things", tc.status, tc.ct, []byte(tc.body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := v.ValidateResponse("POST", "/v1/parents/p1/things", 404, "application/problem+json",
		[]byte(`{"type":"/problems/not-found","title":"Not Found","status":404,"code":"not-found","instance":"/x"}`)); err != nil {
		t.Fatal(err)
	}
	if err := v.ValidateResponse("DELETE", "/v1/things/1", 204, "", nil); err != nil {
		t.Fatal(err)
	}
	if err := v.ValidateResponse("DELETE", "/v1/things/1", 204, "", []byte(`{}`)); err == nil {
		t.Fatal("a body where none is declared")
	}
	if err := v.ValidateResponse("GET", "/v1/nowhere", 200, "application/json", good); err == nil {
		t.Fatal("an undeclared path")
	}
	page, _ := json.Marshal(Page[thing]{Items: []thing{{ID: "1", Name: "x"}}})
	if err := v.ValidateResponse("GET", "/v1/things?limit=1", 200, "application/json", page); err != nil {
		t.Fatal(err)
	}
	if got := v.Seen()["CreateThing"]; !reflect.DeepEqual(got, []int{200, 201, 404}) {
		t.Fatalf("seen %v", got)
	}
}

func TestBuildRefuses(t *testing.T) {
	ok := openapi.Operation{Method: "GET", Path: "/a", ID: "A", Responses: map[int]any{200: thing{}}}
	for name, ops := range map[string][]openapi.Operation{
		"duplicate id":       {ok, {Method: "GET", Path: "/b", ID: "A", Responses: map[int]any{200: nil}}},
		"duplicate route":    {ok, {Method: "GET", Path: "/a", ID: "B", Responses: map[int]any{200: nil}}},
		"same template":      {{Method: "GET", Path: "/x/:a", ID: "A", Responses: map[int]any{200: nil}}, {Method: "GET", Path: "/x/:b", ID: "B", Responses: map[int]any{200: nil}}},
		"bad method":         {{Method: "FETCH", Path: "/a", ID: "A", Responses: map[int]any{200: nil}}},
		"no id":              {{Method: "GET", Path: "/a", Responses: map[int]any{200: nil}}},
		"problem is success": {{Method: "GET", Path: "/a", ID: "A", Responses: map[int]any{200: nil}, Problems: []int{200}}},
		"both":               {{Method: "GET", Path: "/a", ID: "A", Responses: map[int]any{404: nil}, Problems: []int{404}}},
		"no response":        {{Method: "GET", Path: "/a", ID: "A", Public: true}},
		"authorization":      {{Method: "GET", Path: "/a", ID: "A", Responses: map[int]any{200: nil}, Headers: map[string]string{"Authorization": ""}}},
	} {
		if _, err := openapi.Build(openapi.Info{Title: "t", Version: "1"}, ops); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestHandler(t *testing.T) {
	gin.SetMode(gin.TestMode)
	e := gin.New()
	doc := []byte(`{"openapi":"3.1.0"}`)
	e.GET("/openapi.json", openapi.Handler(doc))
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != string(doc) {
		t.Fatalf("%d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
}

func TestValidateDocumentRefusesAnInvalidDocument(t *testing.T) {
	doc, err := openapi.Build(openapi.Info{Title: "test", Version: "1"}, sampleOps())
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	delete(d["info"].(map[string]any), "version")
	ok := d["paths"].(map[string]any)["/v1/things"].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)["200"].(map[string]any)
	delete(ok, "description")
	bad, _ := json.Marshal(d)
	if err := openapitest.ValidateDocument(bad); err == nil {
		t.Fatal("a document without info.version nor a response description passed")
	}
	if err := openapitest.ValidateDocument([]byte(`{"swagger":"2.0","info":{"title":"x","version":"1"},"paths":{}}`)); err == nil {
		t.Fatal("a Swagger 2 document passed")
	}
}
