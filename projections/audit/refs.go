package audit

import (
	"reflect"
	"slices"
	"strings"

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
func Refs(payload any) (subjects, companies []string) {
	v := reflect.ValueOf(payload)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil, nil
		}
		v = v.Elem()
	}
	var r refs
	r.walk(v)
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

func (r *refs) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			r.walk(v.Elem())
		}
	case reflect.String:
		if idTypes[v.Type()] {
			r.add(v.String(), v.Type() == companyType)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			r.walk(v.Index(i))
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			r.walk(it.Key())
			r.walk(it.Value())
		}
	case reflect.Struct:
		r.walkStruct(v)
	}
}

func (r *refs) walkStruct(v reflect.Value) {
	t := v.Type()
	companyHolder := false
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && jsonName(f) == "level" && v.Field(i).Kind() == reflect.String {
			companyHolder = v.Field(i).String() == string(domain.LevelCompany)
		}
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name := jsonName(f)
		if !f.IsExported() || name == "-" {
			continue
		}
		fv := v.Field(i)
		if untypedIDs[name] && !idTypes[f.Type] {
			switch fv.Kind() {
			case reflect.String:
				r.add(fv.String(), name == "holder" && companyHolder)
				continue
			case reflect.Slice:
				if fv.Type().Elem().Kind() == reflect.String && !idTypes[fv.Type().Elem()] {
					for j := range fv.Len() {
						r.add(fv.Index(j).String(), false)
					}
					continue
				}
			}
		}
		r.walk(fv)
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
