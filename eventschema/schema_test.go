package eventschema_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/portal-access/backend/eventschema"
)

func schemaDoc(t *testing.T, r *eventschema.Registry) map[string]any {
	t.Helper()
	b, err := r.JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("JSONSchema is not valid JSON: %v\n%s", err, b)
	}
	return doc
}

// at walks a decoded JSON document by keys.
func at(t *testing.T, v any, path ...string) any {
	t.Helper()
	for i, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object", strings.Join(path[:i], "/"))
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("%s: missing", strings.Join(path[:i+1], "/"))
		}
	}
	return v
}

func TestJSONSchemaDeterministic(t *testing.T) {
	a, err := newRegistry(t).JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		// A fresh registry with registrations in another order must render
		// the same bytes.
		r := eventschema.NewRegistry()
		_ = r.Register("TenantConfigured", 1, TenantConfigured{}, "Tenant settings (seats) changed.")
		_ = r.Register("UserInvited", 3, UserInvited{}, "A user was invited to a company.")
		_ = r.Register("CompanyRegistered", 1, CompanyRegistered{}, "A company was registered in the tenant.")
		_ = r.RegisterUpcaster("UserInvited", 2, upAddRole)
		_ = r.RegisterUpcaster("UserInvited", 1, upMailToEmail)
		b, err := r.JSONSchema()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("JSONSchema output differs between calls:\n%s\n---\n%s", a, b)
		}
	}
}

func TestJSONSchemaContent(t *testing.T) {
	doc := schemaDoc(t, newRegistry(t))
	if got := doc["$schema"]; got != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", got)
	}
	if got := at(t, doc, "x-event-types"); !reflect.DeepEqual(got, []any{"CompanyRegistered", "TenantConfigured", "UserInvited"}) {
		t.Errorf("x-event-types = %v", got)
	}
	tests := []struct {
		name string
		path []string
		want any
	}{
		{"envelope required", []string{"$defs", "Envelope", "required"},
			[]any{"event_id", "type", "schema_version", "tenant", "occurred_at", "actor", "correlation_id", "causation_id", "command"}},
		{"envelope event_id is uuid", []string{"$defs", "Envelope", "properties", "event_id", "format"}, "uuid"},
		{"envelope occurred_at is date-time", []string{"$defs", "Envelope", "properties", "occurred_at", "format"}, "date-time"},
		{"envelope actor ref", []string{"$defs", "Envelope", "properties", "actor", "$ref"}, "#/$defs/Actor"},
		{"actor kinds", []string{"$defs", "Actor", "properties", "kind", "enum"}, []any{"user", "service", "system"}},
		{"actor id required unless system", []string{"$defs", "Actor", "then", "required"}, []any{"id"}},

		{"payload version", []string{"$defs", "UserInvited", "x-schema-version"}, 3.0},
		{"payload event type", []string{"$defs", "UserInvited", "x-event-type"}, "UserInvited"},
		{"payload doc", []string{"$defs", "UserInvited", "description"}, "A user was invited to a company."},
		{"payload required", []string{"$defs", "UserInvited", "required"}, []any{"email", "role"}},
		{"payload closed", []string{"$defs", "UserInvited", "additionalProperties"}, false},
		{"pointer registration", []string{"$defs", "TenantConfigured", "properties", "seats", "type"}, "integer"},

		// Declaration order, omitempty fields not required, embedded
		// struct fields promoted.
		{"company required", []string{"$defs", "CompanyRegistered", "required"},
			[]any{"company_id", "name", "sites", "registered_at", "active", "seats"}},
		{"company promoted embedded field", []string{"$defs", "CompanyRegistered", "properties", "note", "type"}, "string"},
		{"uuid format", []string{"$defs", "CompanyRegistered", "properties", "company_id", "format"}, "uuid"},
		{"field doc tag", []string{"$defs", "CompanyRegistered", "properties", "company_id", "description"}, "Id of the new company."},
		{"pointer nullable", []string{"$defs", "CompanyRegistered", "properties", "parent_id", "type"}, []any{"string", "null"}},
		{"pointer keeps format", []string{"$defs", "CompanyRegistered", "properties", "parent_id", "format"}, "uuid"},
		{"time format", []string{"$defs", "CompanyRegistered", "properties", "registered_at", "format"}, "date-time"},
		{"bool", []string{"$defs", "CompanyRegistered", "properties", "active", "type"}, "boolean"},
		{"slice nullable", []string{"$defs", "CompanyRegistered", "properties", "sites", "type"}, []any{"array", "null"}},
		{"nested struct", []string{"$defs", "CompanyRegistered", "properties", "sites", "items", "required"}, []any{"id", "name"}},
		{"nested closed", []string{"$defs", "CompanyRegistered", "properties", "sites", "items", "additionalProperties"}, false},
		{"map values", []string{"$defs", "CompanyRegistered", "properties", "tags", "additionalProperties", "type"}, "string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := at(t, doc, tt.path...); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s = %#v, want %#v", strings.Join(tt.path, "/"), got, tt.want)
			}
		})
	}
	props := at(t, doc, "$defs", "CompanyRegistered", "properties").(map[string]any)
	for _, hidden := range []string{"internal", "Audit"} {
		if _, ok := props[hidden]; ok {
			t.Errorf("property %q must not appear", hidden)
		}
	}
}

// TestEnvelopeSchemaMatchesStruct keeps the hand-written envelope schema in
// step with the Envelope struct: same JSON names, same required set.
func TestEnvelopeSchemaMatchesStruct(t *testing.T) {
	doc := schemaDoc(t, eventschema.NewRegistry())
	props := at(t, doc, "$defs", "Envelope", "properties").(map[string]any)
	var fromSchema, required []string
	for k := range props {
		if !strings.HasPrefix(k, "$") { // EventStoreDB copies, not struct fields
			fromSchema = append(fromSchema, k)
		}
	}
	var fromStruct []string
	et := reflect.TypeFor[eventschema.Envelope]()
	for i := range et.NumField() {
		name, opts, _ := strings.Cut(et.Field(i).Tag.Get("json"), ",")
		fromStruct = append(fromStruct, name)
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	slices.Sort(fromSchema)
	slices.Sort(fromStruct)
	if !slices.Equal(fromSchema, fromStruct) {
		t.Errorf("schema properties %v != struct fields %v", fromSchema, fromStruct)
	}
	gotReq := at(t, doc, "$defs", "Envelope", "required").([]any)
	var gotReqS []string
	for _, v := range gotReq {
		gotReqS = append(gotReqS, v.(string))
	}
	if !slices.Equal(gotReqS, required) {
		t.Errorf("schema required %v != struct required %v", gotReqS, required)
	}
}
