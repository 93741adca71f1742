package openapi

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Schema is a JSON Schema (2020-12, the dialect of OpenAPI 3.1) as a JSON object.
type Schema = map[string]any

// SchemaProvider lets a type describe its own JSON form, for types whose MarshalJSON makes
// reflection on their fields meaningless. The returned schema is used inline, as is.
type SchemaProvider interface {
	OpenAPISchema() Schema
}

var (
	timeType          = reflect.TypeFor[time.Time]()
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	providerType      = reflect.TypeFor[SchemaProvider]()
)

// Reflector derives JSON Schemas from Go types the way encoding/json encodes them: json tags
// name the properties, fields without omitempty/omitzero are required, pointers (and slices and
// maps that encode as null when nil) are nullable unless omitted when empty, time.Time is a
// date-time string, json.RawMessage and interfaces are any value, named string types are
// strings. Named struct types become components (#/components/schemas/Name), so shared and
// recursive types are described once.
//
// Names are assigned when every type is known (Prepare), so that they do not depend on the
// order of discovery: a struct is named by its Go name (generic arguments reduced to their
// names: Page[CompanyView] is Page_CompanyView); two types of the same name are qualified
// with their package name (domain.Company, readapi.Company).
type Reflector struct {
	// Names forces the component name of some types (problem.Details is "Problem").
	Names map[reflect.Type]string
	// Closed types get additionalProperties: false (the request bodies, decoded strictly).
	Closed map[reflect.Type]bool

	named   map[reflect.Type]string
	schemas map[string]Schema
	err     error
}

// NewReflector returns a reflector with no types yet.
func NewReflector() *Reflector {
	return &Reflector{Names: map[reflect.Type]string{}, Closed: map[reflect.Type]bool{}}
}

// Prepare registers every named struct type reachable from the samples and assigns their
// component names. It must see every type before Schema is called.
func (r *Reflector) Prepare(samples ...any) error {
	seen := map[reflect.Type]bool{}
	for _, s := range samples {
		if s == nil {
			continue
		}
		if err := r.collect(reflect.TypeOf(s), seen); err != nil {
			return err
		}
	}
	return r.assignNames(seen)
}

// Components are the named schemas produced so far, by component name.
func (r *Reflector) Components() map[string]Schema { return r.schemas }

// OneOf is a response sample of several shapes (a body that is exactly one of them).
type OneOf []any

// Schema returns the schema of sample's type: a $ref for a named struct, else inline.
func (r *Reflector) Schema(sample any) (Schema, error) {
	if alts, ok := sample.(OneOf); ok {
		var out []any
		for _, a := range alts {
			s, err := r.Schema(a)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return Schema{"oneOf": out}, nil
	}
	if r.named == nil {
		if err := r.Prepare(sample); err != nil {
			return nil, err
		}
	}
	t := reflect.TypeOf(sample)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s := r.schemaOf(t)
	return s, r.err
}

// HasBody reports whether sample encodes as something else than an object with no property:
// a struct whose every field is hidden from JSON (filled from the path) has no body.
func HasBody(sample any) bool {
	if sample == nil {
		return false
	}
	t := reflect.TypeOf(sample)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || special(t) {
		return true
	}
	return len(jsonFields(t)) > 0
}

// special types are described without looking at their fields.
func special(t reflect.Type) bool {
	return t == timeType || t == rawMessageType || implements(t, providerType) ||
		implements(t, jsonMarshalerType) || implements(t, textMarshalerType)
}

func implements(t, iface reflect.Type) bool {
	return t.Implements(iface) || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(iface))
}

// isComponent reports whether t becomes a named component.
func isComponent(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t.Name() != "" && !special(t)
}

func (r *Reflector) collect(t reflect.Type, seen map[reflect.Type]bool) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if special(t) {
		return nil
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return r.collect(t.Elem(), seen)
	case reflect.Map:
		if !validMapKey(t.Key()) {
			return fmt.Errorf("openapi: %s: map keys must be strings, integers or text marshalers", t)
		}
		return r.collect(t.Elem(), seen)
	case reflect.Struct:
		if seen[t] {
			return nil
		}
		if t.Name() != "" {
			seen[t] = true
		}
		for _, f := range jsonFields(t) {
			if err := r.collect(f.typ, seen); err != nil {
				return fmt.Errorf("%s.%s: %w", t, f.goName, err)
			}
		}
		return nil
	case reflect.Chan, reflect.Func, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer:
		return fmt.Errorf("openapi: %s cannot be encoded as JSON", t)
	}
	return nil
}

func validMapKey(k reflect.Type) bool {
	switch k.Kind() {
	case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return implements(k, textMarshalerType)
}

var (
	pkgQualifier = regexp.MustCompile(`([A-Za-z0-9_.\-~]+/)*[A-Za-z0-9_\-]+\.`)
	nonNameChar  = regexp.MustCompile(`[^A-Za-z0-9._\-]+`)
)

// baseName is t's Go name reduced to the characters a component name may hold.
func baseName(t reflect.Type) string {
	n := pkgQualifier.ReplaceAllString(t.Name(), "")
	n = nonNameChar.ReplaceAllString(n, "_")
	return strings.Trim(n, "_")
}

func pkgName(t reflect.Type) string {
	p := t.PkgPath()
	return p[strings.LastIndex(p, "/")+1:]
}

func (r *Reflector) assignNames(seen map[reflect.Type]bool) error {
	if r.named == nil {
		r.named, r.schemas = map[reflect.Type]string{}, map[string]Schema{}
	}
	for t := range r.named {
		seen[t] = true
	}
	byName := map[string][]reflect.Type{}
	for t := range seen {
		n := r.Names[t]
		if n == "" {
			n = baseName(t)
		}
		byName[n] = append(byName[n], t)
	}
	taken := map[string]reflect.Type{}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	assign := func(t reflect.Type, n string) error {
		if o, ok := taken[n]; ok && o != t {
			return fmt.Errorf("openapi: component name %q of %s is taken by %s", n, t, o)
		}
		if prev, ok := r.named[t]; ok && prev != n {
			return fmt.Errorf("openapi: %s was already named %q", t, prev)
		}
		taken[n], r.named[t] = t, n
		return nil
	}
	for _, n := range names {
		ts := byName[n]
		if len(ts) == 1 {
			if err := assign(ts[0], n); err != nil {
				return err
			}
			continue
		}
		// Same name in several packages: qualify them all; a clash left then (same package
		// name at two paths) is numbered in the order of the full paths.
		sort.Slice(ts, func(i, j int) bool { return ts[i].PkgPath()+"."+ts[i].Name() < ts[j].PkgPath()+"."+ts[j].Name() })
		count := map[string]int{}
		for _, t := range ts {
			q := pkgName(t) + "." + n
			count[q]++
			if count[q] > 1 {
				q = fmt.Sprintf("%s%d", q, count[q])
			}
			if err := assign(t, q); err != nil {
				return err
			}
		}
	}
	return nil
}

func ref(name string) Schema { return Schema{"$ref": "#/components/schemas/" + name} }

// Nullable widens s to accept null too.
func Nullable(s Schema) Schema {
	if len(s) == 0 {
		return s // any value, null included
	}
	if _, ok := s["$ref"]; ok {
		return Schema{"anyOf": []any{s, Schema{"type": "null"}}}
	}
	out := Schema{}
	for k, v := range s {
		out[k] = v
	}
	switch t := s["type"].(type) {
	case string:
		if t != "null" {
			out["type"] = []any{t, "null"}
		}
	case []any:
		for _, x := range t {
			if x == "null" {
				return out
			}
		}
		out["type"] = append(append([]any{}, t...), "null")
	default:
		return Schema{"anyOf": []any{s, Schema{"type": "null"}}}
	}
	return out
}

// schemaOf describes a value of type t that is present (not null).
func (r *Reflector) schemaOf(t reflect.Type) Schema {
	if t.Kind() == reflect.Pointer {
		return Nullable(r.schemaOf(t.Elem()))
	}
	switch {
	case implements(t, providerType):
		v := reflect.New(t).Elem()
		if t.Kind() != reflect.Pointer && !t.Implements(providerType) {
			v = reflect.New(t)
		}
		return v.Interface().(SchemaProvider).OpenAPISchema()
	case t == timeType:
		return Schema{"type": "string", "format": "date-time"}
	case t == rawMessageType:
		return Schema{}
	case implements(t, jsonMarshalerType):
		return Schema{} // its own encoding: any value
	case implements(t, textMarshalerType):
		return Schema{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return Schema{"type": "boolean"}
	case reflect.String:
		return Schema{"type": "string"}
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return Schema{"type": "integer", "format": "int32"}
	case reflect.Int, reflect.Int64:
		return Schema{"type": "integer", "format": "int64"}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return Schema{"type": "integer", "format": "int32", "minimum": 0}
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return Schema{"type": "integer", "format": "int64", "minimum": 0}
	case reflect.Float32:
		return Schema{"type": "number", "format": "float"}
	case reflect.Float64:
		return Schema{"type": "number", "format": "double"}
	case reflect.Interface:
		return Schema{}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !implements(t.Elem(), jsonMarshalerType) && !implements(t.Elem(), textMarshalerType) {
			return Schema{"type": "string", "contentEncoding": "base64"}
		}
		return Schema{"type": "array", "items": r.elemSchema(t.Elem())}
	case reflect.Array:
		return Schema{"type": "array", "items": r.elemSchema(t.Elem()), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Map:
		s := Schema{"type": "object", "additionalProperties": r.elemSchema(t.Elem())}
		if k := t.Key(); k.Kind() != reflect.String && !implements(k, textMarshalerType) {
			s["propertyNames"] = Schema{"pattern": `^-?[0-9]+$`}
		}
		return s
	case reflect.Struct:
		if !isComponent(t) {
			return r.objectSchema(t)
		}
		name, ok := r.named[t]
		if !ok {
			r.fail(fmt.Errorf("openapi: %s was not prepared", t))
			return Schema{}
		}
		if _, done := r.schemas[name]; !done {
			r.schemas[name] = Schema{} // placeholder: recursion stops at the $ref
			r.schemas[name] = r.objectSchema(t)
		}
		return ref(name)
	}
	r.fail(fmt.Errorf("openapi: %s cannot be encoded as JSON", t))
	return Schema{}
}

// elemSchema describes an element of a slice, array or map: a nil slice or map there encodes
// as null (a nil pointer too, which schemaOf handles).
func (r *Reflector) elemSchema(t reflect.Type) Schema {
	s := r.schemaOf(t)
	if (t.Kind() == reflect.Slice || t.Kind() == reflect.Map) && !special(t) {
		s = Nullable(s)
	}
	return s
}

func (r *Reflector) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *Reflector) objectSchema(t reflect.Type) Schema {
	props := Schema{}
	var required []any
	for _, f := range jsonFields(t) {
		var s Schema
		switch {
		case f.asString:
			s = Schema{"type": "string"}
		case f.typ.Kind() == reflect.Pointer:
			s = r.schemaOf(f.typ.Elem())
			if !f.omit {
				s = Nullable(s)
			}
		default:
			s = r.schemaOf(f.typ)
			// A nil slice or map encodes as null unless omitted.
			if !f.omit && (f.typ.Kind() == reflect.Slice || f.typ.Kind() == reflect.Map) && !special(f.typ) {
				s = Nullable(s)
			}
		}
		props[f.name] = s
		if !f.omit {
			required = append(required, f.name)
		}
	}
	s := Schema{"type": "object", "properties": props}
	if len(required) > 0 {
		sort.Slice(required, func(i, j int) bool { return required[i].(string) < required[j].(string) })
		s["required"] = required
	}
	if r.Closed[t] {
		s["additionalProperties"] = false
	}
	return s
}

// field is one property of a struct as encoding/json sees it.
type field struct {
	name     string
	goName   string
	typ      reflect.Type
	omit     bool // omitempty or omitzero: may be absent
	asString bool // ,string
	tagged   bool
	depth    int
	index    []int
}

// jsonFields lists the fields encoding/json encodes for t, embedded structs flattened, by the
// same rules: the shallowest wins a name, then the tagged one, else the name is dropped.
func jsonFields(t reflect.Type) []field {
	type queued struct {
		t     reflect.Type
		index []int
	}
	var all []field
	current, next := []queued{}, []queued{{t: t}}
	visited := map[reflect.Type]bool{}
	for depth := 0; len(next) > 0; depth++ {
		current, next = next, nil
		for _, q := range current {
			if visited[q.t] {
				continue
			}
			visited[q.t] = true
			for i := 0; i < q.t.NumField(); i++ {
				sf := q.t.Field(i)
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				ft := sf.Type
				if sf.Anonymous {
					if ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				index := append(append([]int{}, q.index...), i)
				if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct && !special(ft) {
					next = append(next, queued{t: ft, index: index})
					continue
				}
				f := field{name: name, goName: sf.Name, typ: sf.Type, tagged: name != "", depth: depth, index: index}
				if f.name == "" {
					f.name = sf.Name
				}
				for _, o := range strings.Split(opts, ",") {
					switch o {
					case "omitempty", "omitzero":
						f.omit = true
					case "string":
						switch base(sf.Type).Kind() {
						case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
							reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
							reflect.Float32, reflect.Float64, reflect.String:
							f.asString = true
						}
					}
				}
				all = append(all, f)
			}
		}
	}
	// Resolve name conflicts.
	byName := map[string][]field{}
	for _, f := range all {
		byName[f.name] = append(byName[f.name], f)
	}
	var out []field
	for _, fs := range byName {
		minDepth := fs[0].depth
		for _, f := range fs {
			minDepth = min(minDepth, f.depth)
		}
		var best []field
		for _, f := range fs {
			if f.depth == minDepth {
				best = append(best, f)
			}
		}
		if len(best) > 1 {
			var tagged []field
			for _, f := range best {
				if f.tagged {
					tagged = append(tagged, f)
				}
			}
			best = tagged
		}
		if len(best) == 1 {
			out = append(out, best[0])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func base(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}
