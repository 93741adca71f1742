package eventschema

import (
	"reflect"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/google/uuid"
)

// The fast path of Decode. Stored events are written by Encode, so nearly all of them use a small
// subset of JSON: objects whose keys are exactly the field names, strings without escapes,
// integers, booleans, arrays of strings and null for a nil slice. fastDecode parses that subset in
// one pass, straight into the fields (no intermediate maps, no second parse for the key check),
// and reports false for anything else — an escape, an unknown or case-folded key, a duplicate
// key, a float, a null where it does not mean a nil slice, invalid JSON — without an error: the
// caller then decodes with the general path (encoding/json and checkKeys), which gives the
// documented answer and error. So the fast path decides nothing on its own: it accepts only input
// the general path accepts, with the value the general path would give (fast_test.go checks both
// paths against each other), and strictness is kept by construction, since only exact field
// names are ever matched.

type fastKind uint8

const (
	fkString fastKind = iota + 1 // any string kind
	fkBool
	fkInt // any signed integer kind; bits in fastField.bits
	fkTime
	fkUUID
	fkStruct      // a nested struct without custom JSON
	fkStringSlice // a slice of a string kind
)

type fastField struct {
	name string
	off  uintptr
	kind fastKind
	bits int
	sub  *fastPlan
}

// fastPlan is how the fast path fills one struct type.
type fastPlan struct {
	fields []fastField
}

var fastPlans sync.Map // reflect.Type -> *fastPlan (nil: not supported)

// fastPlanOf compiles (once) the plan of struct type t, or nil when t uses anything the fast
// path does not handle (pointers, maps, interfaces, floats, custom JSON other than time.Time
// and uuid.UUID, ",string" fields, more than 64 fields).
func fastPlanOf(t reflect.Type) *fastPlan {
	if p, ok := fastPlans.Load(t); ok {
		return p.(*fastPlan)
	}
	p := compileFast(t, 0)
	fastPlans.Store(t, p)
	return p
}

func compileFast(t reflect.Type, depth int) *fastPlan {
	if depth > 8 || t.Kind() != reflect.Struct || t == timeType || customJSON(t, unmarshalerType) || customJSON(t, textUnmarshalType) {
		return nil
	}
	fs := jsonFields(t)
	if len(fs) > 64 {
		return nil
	}
	p := &fastPlan{}
	for _, f := range fs {
		if f.quoted {
			return nil
		}
		// The field's offset through embedded structs (never through a pointer).
		var off uintptr
		cur := t
		for _, i := range f.index {
			if cur.Kind() != reflect.Struct {
				return nil
			}
			sf := cur.Field(i)
			off += sf.Offset
			cur = sf.Type
		}
		if cur != f.typ {
			return nil
		}
		ff := fastField{name: f.name, off: off}
		switch ft := f.typ; {
		case ft == timeType:
			ff.kind = fkTime
		case ft == uuidType:
			ff.kind = fkUUID
		case customJSON(ft, unmarshalerType) || customJSON(ft, textUnmarshalType):
			return nil
		case ft.Kind() == reflect.String:
			ff.kind = fkString
		case ft.Kind() == reflect.Bool:
			ff.kind = fkBool
		case ft.Kind() == reflect.Int || ft.Kind() == reflect.Int64 || ft.Kind() == reflect.Int32 || ft.Kind() == reflect.Int16 || ft.Kind() == reflect.Int8:
			ff.kind, ff.bits = fkInt, ft.Bits()
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String &&
			!customJSON(ft.Elem(), unmarshalerType) && !customJSON(ft.Elem(), textUnmarshalType) && !customJSON(ft, unmarshalerType):
			ff.kind = fkStringSlice
		case ft.Kind() == reflect.Struct:
			sub := compileFast(ft, depth+1)
			if sub == nil {
				return nil
			}
			ff.kind, ff.sub = fkStruct, sub
		default:
			return nil
		}
		p.fields = append(p.fields, ff)
	}
	return p
}

// fastDecode fills the zero value of the plan's struct at dst from data, or reports false (dst
// then holds garbage and must be discarded or zeroed). Strings of the result share one copy
// of data.
func fastDecode(p *fastPlan, data []byte, dst unsafe.Pointer) bool {
	if p == nil {
		return false
	}
	d := fastDecoder{s: string(data)}
	d.ws()
	if !d.object(p, dst) {
		return false
	}
	d.ws()
	return d.i == len(d.s)
}

type fastDecoder struct {
	s string
	i int
}

func (d *fastDecoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// consume skips whitespace and the byte c.
func (d *fastDecoder) consume(c byte) bool {
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

// str reads a string without escapes, control characters or invalid UTF-8 (those are left to
// the general path), returning its content.
func (d *fastDecoder) str() (string, bool) {
	d.ws()
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return "", false
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.s); j++ {
		c := d.s[j]
		switch {
		case c == '"':
			v := d.s[start:j]
			if !ascii && !utf8.ValidString(v) {
				return "", false
			}
			d.i = j + 1
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
	}
	return "", false
}

// rawStr is str returning the value with its quotes (for time.Time's UnmarshalJSON).
func (d *fastDecoder) rawStr() (string, bool) {
	d.ws()
	start := d.i
	if _, ok := d.str(); !ok {
		return "", false
	}
	return d.s[start:d.i], true
}

// literal reads word (true, false, null) when it comes next.
func (d *fastDecoder) literal(word string) bool {
	d.ws()
	if len(d.s)-d.i >= len(word) && d.s[d.i:d.i+len(word)] == word {
		d.i += len(word)
		return true
	}
	return false
}

// integer reads an integer literal (JSON grammar, no fraction or exponent).
func (d *fastDecoder) integer(bits int) (int64, bool) {
	d.ws()
	start := d.i
	j := d.i
	if j < len(d.s) && d.s[j] == '-' {
		j++
	}
	digits := j
	for j < len(d.s) && '0' <= d.s[j] && d.s[j] <= '9' {
		j++
	}
	switch {
	case j == digits: // no digit
		return 0, false
	case d.s[digits] == '0' && j-digits > 1: // leading zero
		return 0, false
	case j < len(d.s) && (d.s[j] == '.' || d.s[j] == 'e' || d.s[j] == 'E'):
		return 0, false
	}
	n, err := strconv.ParseInt(d.s[start:j], 10, 64)
	if err != nil {
		return 0, false
	}
	if bits < 64 {
		if lim := int64(1) << (bits - 1); n < -lim || n >= lim {
			return 0, false
		}
	}
	d.i = j
	return n, true
}

func (d *fastDecoder) object(p *fastPlan, dst unsafe.Pointer) bool {
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return true
	}
	var seen uint64
	for {
		key, ok := d.str()
		if !ok {
			return false
		}
		fi := -1
		for i := range p.fields {
			if p.fields[i].name == key {
				fi = i
				break
			}
		}
		if fi < 0 || seen&(1<<fi) != 0 || !d.consume(':') {
			return false // unknown (or case-folded) key, duplicate: the general path decides
		}
		seen |= 1 << fi
		if !d.value(&p.fields[fi], unsafe.Add(dst, p.fields[fi].off)) {
			return false
		}
		if d.consume(',') {
			continue
		}
		return d.consume('}')
	}
}

func (d *fastDecoder) value(f *fastField, at unsafe.Pointer) bool {
	switch f.kind {
	case fkString:
		v, ok := d.str()
		*(*string)(at) = v
		return ok
	case fkBool:
		switch {
		case d.literal("true"):
			*(*bool)(at) = true
		case d.literal("false"):
		default:
			return false
		}
		return true
	case fkInt:
		n, ok := d.integer(f.bits)
		if !ok {
			return false
		}
		switch f.bits {
		case 64:
			*(*int64)(at) = n
		case 32:
			*(*int32)(at) = int32(n)
		case 16:
			*(*int16)(at) = int16(n)
		case 8:
			*(*int8)(at) = int8(n)
		default:
			return false
		}
		return true
	case fkTime:
		raw, ok := d.rawStr()
		if !ok {
			return false
		}
		return (*time.Time)(at).UnmarshalJSON(unsafe.Slice(unsafe.StringData(raw), len(raw))) == nil
	case fkUUID:
		v, ok := d.str()
		if !ok {
			return false
		}
		return (*uuid.UUID)(at).UnmarshalText(unsafe.Slice(unsafe.StringData(v), len(v))) == nil
	case fkStruct:
		return d.object(f.sub, at)
	case fkStringSlice:
		if d.literal("null") {
			return true // a nil slice (the destination is zero)
		}
		if !d.consume('[') {
			return false
		}
		out := []string{} // an empty array is an empty, non-nil slice, as encoding/json gives
		if !d.consume(']') {
			for {
				v, ok := d.str()
				if !ok {
					return false
				}
				out = append(out, v)
				if d.consume(',') {
					continue
				}
				if !d.consume(']') {
					return false
				}
				break
			}
		}
		*(*[]string)(at) = out
		return true
	}
	return false
}
