package audit

import (
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/portal-access/backend/domain"
)

// idTypes are the domain's id types: a payload field of one of these types (or a slice of them)
// names an entity, whatever the field is called. Classifying by type rather than by JSON name
// keeps "from"/"to" of a status or role change (TicketStatus, Role) out of the subjects while
// "from"/"to" of a master-admin transfer (PersonID) are in.
var idTypes = map[reflect.Type]bool{
	reflect.TypeFor[domain.TenantID]():  true,
	reflect.TypeFor[domain.CompanyID](): true,
	reflect.TypeFor[domain.SiteID]():    true,
	reflect.TypeFor[domain.GroupID]():   true,
	reflect.TypeFor[domain.PersonID]():  true,
	reflect.TypeFor[domain.TicketID]():  true,
	reflect.TypeFor[domain.DocID]():     true,
}

var companyType = reflect.TypeFor[domain.CompanyID]()

// untypedIDs are the JSON names of plain-string fields that hold ids of several kinds:
// a company-access holder (person, group or company, as its sibling "level" says) and
// responsible recipients (groups or people).
var untypedIDs = map[string]bool{"holder": true, "responsible": true}

// Refs lists the ids an event payload names — every field of a domain id type, at any depth,
// plus holder and responsible — as subjects, and the subset that are companies (fields of type
// CompanyID, and holder when the payload's level is "company"). Both are sorted, without
// duplicates or empty ids. payload is a payload struct or a pointer to one.
//
// Where the ids are depends on the payload's type alone, so each type is read by a plan built
// once (see planOf) rather than by a walk over every field, tag and value on each call: a
// rebuild calls Refs for every event of the log.
func Refs(payload any) (subjects, companies []string) {
	v := reflect.ValueOf(payload)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil, nil
		}
		v = v.Elem()
	}
	var r refs
	if v.IsValid() {
		planOf(v.Type()).run(&r, v)
	}
	return compact(r.subjects), compact(r.companies)
}

type refs struct{ subjects, companies []string }

func (r *refs) add(id string, company bool) {
	if id == "" {
		return
	}
	r.subjects = append(r.subjects, id)
	if company {
		r.companies = append(r.companies, id)
	}
}

// A plan adds the ids a value of one type names. walk is nil when no value of the type names
// any (strings of other types, numbers, time.Time, structs of those…), so a plan skips such
// fields without looking at them.
type plan struct {
	walk func(r *refs, v reflect.Value)
	done bool // compiled: until then (a recursive type) walk may still be set
}

func (p *plan) run(r *refs, v reflect.Value) {
	if p.walk != nil {
		p.walk(r, v)
	}
}

// empty reports whether the plan is known to find nothing.
func (p *plan) empty() bool { return p.done && p.walk == nil }

var plans sync.Map // reflect.Type → *plan

// planOf is the plan of type t, compiled on first use.
func planOf(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	p, _ := plans.LoadOrStore(t, compile(t, map[reflect.Type]*plan{}))
	return p.(*plan)
}

// compile builds the plan of t. A type met again while it is compiled (a recursive type) gets
// its own unfinished plan, which the finished one fills in.
func compile(t reflect.Type, compiling map[reflect.Type]*plan) *plan {
	if p, ok := compiling[t]; ok {
		return p
	}
	p := &plan{}
	compiling[t] = p
	p.walk = compileWalk(t, compiling)
	p.done = true
	return p
}

// compileWalk is what the reflection walk did with a value of type t, with the decisions that
// depend on t alone taken once: which kinds hold ids, which fields matter, their JSON names.
func compileWalk(t reflect.Type, compiling map[reflect.Type]*plan) func(r *refs, v reflect.Value) {
	switch t.Kind() {
	case reflect.String:
		if !idTypes[t] {
			return nil
		}
		company := t == companyType
		return func(r *refs, v reflect.Value) { r.add(v.String(), company) }
	case reflect.Pointer:
		elem := compile(t.Elem(), compiling)
		if elem.empty() {
			return nil
		}
		return func(r *refs, v reflect.Value) {
			if !v.IsNil() {
				elem.run(r, v.Elem())
			}
		}
	case reflect.Interface: // whatever it holds: its dynamic type's plan
		return func(r *refs, v reflect.Value) {
			if !v.IsNil() {
				e := v.Elem()
				planOf(e.Type()).run(r, e)
			}
		}
	case reflect.Slice, reflect.Array:
		elem := compile(t.Elem(), compiling)
		if elem.empty() {
			return nil
		}
		return func(r *refs, v reflect.Value) {
			for i := range v.Len() {
				elem.run(r, v.Index(i))
			}
		}
	case reflect.Map:
		key, elem := compile(t.Key(), compiling), compile(t.Elem(), compiling)
		if key.empty() && elem.empty() {
			return nil
		}
		return func(r *refs, v reflect.Value) {
			for it := v.MapRange(); it.Next(); {
				key.run(r, it.Key())
				elem.run(r, it.Value())
			}
		}
	case reflect.Struct:
		return compileStruct(t, compiling)
	}
	return nil
}

// A fieldStep reads one field of a struct.
type fieldStep struct {
	index int
	kind  stepKind
	sub   *plan // stepPlan
}

type stepKind uint8

const (
	stepPlan    stepKind = iota + 1 // the field's own plan
	stepUntyped                     // a plain string of untypedIDs
	stepHolder                      // holder as a plain string: a company when level is "company"
	stepStrings                     // a slice of plain strings of untypedIDs (responsible)
)

func compileStruct(t reflect.Type, compiling map[reflect.Type]*plan) func(r *refs, v reflect.Value) {
	level := -1 // the last exported string field named "level"
	var steps []fieldStep
	for i := range t.NumField() {
		f := t.Field(i)
		name := jsonName(f)
		if f.IsExported() && name == "level" && f.Type.Kind() == reflect.String {
			level = i
		}
		if !f.IsExported() || name == "-" {
			continue
		}
		if untypedIDs[name] && !idTypes[f.Type] {
			switch {
			case f.Type.Kind() == reflect.String && name == "holder":
				steps = append(steps, fieldStep{index: i, kind: stepHolder})
				continue
			case f.Type.Kind() == reflect.String:
				steps = append(steps, fieldStep{index: i, kind: stepUntyped})
				continue
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String && !idTypes[f.Type.Elem()]:
				steps = append(steps, fieldStep{index: i, kind: stepStrings})
				continue
			}
		}
		if sub := compile(f.Type, compiling); !sub.empty() {
			steps = append(steps, fieldStep{index: i, kind: stepPlan, sub: sub})
		}
	}
	if len(steps) == 0 {
		return nil
	}
	return func(r *refs, v reflect.Value) {
		for _, s := range steps {
			fv := v.Field(s.index)
			switch s.kind {
			case stepPlan:
				s.sub.run(r, fv)
			case stepUntyped:
				r.add(fv.String(), false)
			case stepHolder:
				r.add(fv.String(), level >= 0 && v.Field(level).String() == string(domain.LevelCompany))
			case stepStrings:
				for j := range fv.Len() {
					r.add(fv.Index(j).String(), false)
				}
			}
		}
	}
}

// jsonName is the field's name in the payload's JSON.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

func compact(s []string) []string {
	if len(s) == 0 {
		return []string{}
	}
	slices.Sort(s)
	return slices.Compact(s)
}
