package eventschema

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// This file mirrors encoding/json's view of Go types, for two uses: deriving
// the JSON Schema of a payload, and refusing object keys that encoding/json
// would match only case-insensitively (its DisallowUnknownFields accepts
// "Name" for a field tagged "name"; a strict decoder must not).

var (
	timeType          = reflect.TypeFor[time.Time]()
	uuidType          = reflect.TypeFor[uuid.UUID]()
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	numberType        = reflect.TypeFor[json.Number]()
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	unmarshalerType   = reflect.TypeFor[json.Unmarshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshalType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// jsonField is one JSON object member of a struct, as encoding/json sees it.
type jsonField struct {
	name      string
	index     []int
	typ       reflect.Type
	tagged    bool
	omitEmpty bool // omitempty or omitzero: may be absent
	quoted    bool // ",string" option
	doc       string
}

var fieldCache sync.Map // reflect.Type -> []jsonField

// jsonFields returns the members of struct type t in declaration order,
// applying encoding/json's rules for tags and embedded structs.
func jsonFields(t reflect.Type) []jsonField {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]jsonField)
	}
	f := computeFields(t)
	fieldCache.Store(t, f)
	return f
}

func computeFields(t reflect.Type) []jsonField {
	type queued struct {
		typ   reflect.Type
		index []int
	}
	var found []jsonField
	visited := map[reflect.Type]bool{}
	next := []queued{{typ: t}}
	for len(next) > 0 {
		current := next
		next = nil
		for _, q := range current {
			if visited[q.typ] {
				continue
			}
			visited[q.typ] = true
			for i := 0; i < q.typ.NumField(); i++ {
				sf := q.typ.Field(i)
				if sf.Anonymous {
					ft := sf.Type
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !validTagName(name) {
					name = ""
				}
				index := append(slices.Clip(q.index), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					next = append(next, queued{typ: ft, index: index})
					continue
				}
				f := jsonField{name: name, index: index, typ: sf.Type, tagged: name != "", doc: sf.Tag.Get("doc")}
				if f.name == "" {
					f.name = sf.Name
				}
				for _, o := range strings.Split(opts, ",") {
					switch o {
					case "omitempty", "omitzero":
						f.omitEmpty = true
					case "string":
						switch ft.Kind() {
						case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
							reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
							reflect.Float32, reflect.Float64, reflect.String:
							f.quoted = true
						}
					}
				}
				found = append(found, f)
			}
		}
	}
	// Dominance: for each name keep the shallowest field; among equals a
	// single tagged one wins; otherwise the name is dropped (as in
	// encoding/json).
	byName := map[string][]jsonField{}
	for _, f := range found {
		byName[f.name] = append(byName[f.name], f)
	}
	var out []jsonField
	for _, fs := range byName {
		depth := len(fs[0].index)
		for _, f := range fs {
			depth = min(depth, len(f.index))
		}
		var top, tagged []jsonField
		for _, f := range fs {
			if len(f.index) == depth {
				top = append(top, f)
				if f.tagged {
					tagged = append(tagged, f)
				}
			}
		}
		switch {
		case len(top) == 1:
			out = append(out, top[0])
		case len(tagged) == 1:
			out = append(out, tagged[0])
		}
	}
	slices.SortFunc(out, func(a, b jsonField) int { return slices.Compare(a.index, b.index) })
	return out
}

func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c > 127):
			return false
		}
	}
	return true
}

// customJSON reports whether t (or *t) controls its own JSON encoding, in
// which case its shape is opaque to reflection.
func customJSON(t reflect.Type, iface reflect.Type) bool {
	return t.Implements(iface) || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(iface))
}

// schemaOf derives the JSON Schema of values of type t. stack holds the
// struct types being expanded, to refuse recursive types (which would need
// $ref plumbing that payloads have no use for).
func schemaOf(t reflect.Type, quoted bool, stack map[reflect.Type]bool) (map[string]any, error) {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}, nil
	case uuidType:
		return map[string]any{"type": "string", "format": "uuid"}, nil
	case rawMessageType:
		return map[string]any{}, nil
	case numberType:
		return map[string]any{"type": "number"}, nil
	}
	if t.Kind() == reflect.Pointer {
		s, err := schemaOf(t.Elem(), quoted, stack)
		if err != nil {
			return nil, err
		}
		return nullable(s), nil
	}
	if customJSON(t, marshalerType) {
		return map[string]any{}, nil // any JSON: shape is the type's own business
	}
	if customJSON(t, textMarshalerType) {
		return map[string]any{"type": "string"}, nil
	}
	scalar := func(typ string) map[string]any {
		if quoted {
			return map[string]any{"type": "string"}
		}
		return map[string]any{"type": typ}
	}
	switch t.Kind() {
	case reflect.Bool:
		return scalar("boolean"), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalar("integer"), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		s := scalar("integer")
		if !quoted {
			s["minimum"] = 0
		}
		return s, nil
	case reflect.Float32, reflect.Float64:
		return scalar("number"), nil
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Interface:
		return map[string]any{}, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !customJSON(t.Elem(), marshalerType) && !customJSON(t.Elem(), textMarshalerType) {
			return map[string]any{"type": []any{"string", "null"}, "contentEncoding": "base64"}, nil
		}
		items, err := schemaOf(t.Elem(), false, stack)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": []any{"array", "null"}, "items": items}, nil
	case reflect.Array:
		items, err := schemaOf(t.Elem(), false, stack)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items, "minItems": t.Len(), "maxItems": t.Len()}, nil
	case reflect.Map:
		s := map[string]any{"type": []any{"object", "null"}}
		switch k := t.Key(); {
		case k.Kind() == reflect.String:
		case customJSON(k, textMarshalerType):
		case k.Kind() >= reflect.Int && k.Kind() <= reflect.Uintptr:
			s["propertyNames"] = map[string]any{"pattern": "^-?[0-9]+$"}
		default:
			return nil, fmt.Errorf("map key type %s cannot be encoded as JSON", k)
		}
		vals, err := schemaOf(t.Elem(), false, stack)
		if err != nil {
			return nil, err
		}
		s["additionalProperties"] = vals
		return s, nil
	case reflect.Struct:
		if stack[t] {
			return nil, fmt.Errorf("recursive type %s is not supported", t)
		}
		stack[t] = true
		defer delete(stack, t)
		props := map[string]any{}
		required := []any{}
		for _, f := range jsonFields(t) {
			s, err := schemaOf(f.typ, f.quoted, stack)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.name, err)
			}
			if f.doc != "" {
				s["description"] = f.doc
			}
			props[f.name] = s
			if !f.omitEmpty {
				required = append(required, f.name)
			}
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		return s, nil
	}
	return nil, fmt.Errorf("type %s (kind %s) cannot be encoded as JSON", t, t.Kind())
}

// nullable widens a schema to also accept null, as encoding/json writes nil
// pointers, slices and maps.
func nullable(s map[string]any) map[string]any {
	switch typ := s["type"].(type) {
	case string:
		s["type"] = []any{typ, "null"}
	case []any:
		if !slices.Contains(typ, any("null")) {
			s["type"] = append(typ, "null")
		}
	}
	return s
}

var errCaseKey = errors.New("unknown field")

// checkKeys walks JSON that already decoded into t and refuses object keys
// that do not name a field exactly (encoding/json folds case). It returns
// nil for shapes it does not inspect (custom unmarshalers, scalars).
func checkKeys(raw json.RawMessage, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType || t == uuidType || customJSON(t, unmarshalerType) || customJSON(t, textUnmarshalType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			return nil // null, or a shape the typed decode already accepted
		}
		fields := map[string]jsonField{}
		for _, f := range jsonFields(t) {
			fields[f.name] = f
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			f, ok := fields[k]
			if !ok {
				return fmt.Errorf("%w %q at %s (field names are case-sensitive)", errCaseKey, k, pathOr(path))
			}
			if f.quoted {
				continue
			}
			if err := checkKeys(obj[k], f.typ, path+"."+k); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return nil
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(raw, &arr); err != nil {
			return nil
		}
		for i, v := range arr {
			if err := checkKeys(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			if err := checkKeys(obj[k], t.Elem(), fmt.Sprintf("%s[%q]", path, k)); err != nil {
				return err
			}
		}
	}
	return nil
}

func pathOr(p string) string {
	if p == "" {
		return "top level"
	}
	return strings.TrimPrefix(p, ".")
}
