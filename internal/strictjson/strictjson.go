// Package strictjson closes the gaps encoding/json leaves in a strict API: it matches object
// keys to struct fields case-insensitively ("Name" fills "name") and lets a repeated key
// silently override the first. Request bodies are checked with ExactKeys after decoding, so
// that a body means exactly what the published schema says.
package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// ExactKeys walks body (already decoded successfully into a value of type t) and refuses an
// object key that names a field of t only case-insensitively, an unknown key, or a key given
// twice.
func ExactKeys(body []byte, t reflect.Type) *KeyError {
	return exactKeys(json.NewDecoder(bytes.NewReader(body)), t, "")
}

// KeyError names the offending key (as a path like "checks[2].resource.Type") and says what is wrong.
type KeyError struct{ Field, Msg string }

func (e *KeyError) Error() string { return e.Field + ": " + e.Msg }

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// exactKeys walks one JSON value (already decoded successfully into t) and refuses an object
// key that names a field of t only case-insensitively, or a key given twice.
func exactKeys(dec *json.Decoder, t reflect.Type, path string) *KeyError {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() == reflect.Interface) {
		t = nil // its own decoding, or anything: only the structure is walked
	}
	tok, err := dec.Token()
	if err != nil {
		return &KeyError{"body", "malformed JSON"}
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return &KeyError{"body", "malformed JSON"}
			}
			key, _ := kt.(string)
			field := key
			if path != "" {
				field = path + "." + key
			}
			if seen[key] {
				return &KeyError{field, fmt.Sprintf("%q is given twice", key)}
			}
			seen[key] = true
			var ft reflect.Type
			switch {
			case t == nil:
			case t.Kind() == reflect.Map:
				ft = t.Elem()
			case t.Kind() == reflect.Struct:
				f, ok := fieldByJSONName(t, key)
				if !ok {
					return &KeyError{field, fmt.Sprintf("unknown field %q", key)}
				}
				ft = f
			}
			if e := exactKeys(dec, ft, field); e != nil {
				return e
			}
		}
		if _, err := dec.Token(); err != nil {
			return &KeyError{"body", "malformed JSON"}
		}
	case json.Delim('['):
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if e := exactKeys(dec, et, fmt.Sprintf("%s[%d]", path, i)); e != nil {
				return e
			}
		}
		if _, err := dec.Token(); err != nil {
			return &KeyError{"body", "malformed JSON"}
		}
	}
	return nil
}

// fieldByJSONName is the type of t's field whose JSON name is exactly name.
func fieldByJSONName(t reflect.Type, name string) (reflect.Type, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		n, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && n == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if got, ok := fieldByJSONName(ft, name); ok {
					return got, true
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if n == "" {
			n = f.Name
		}
		if n == name {
			return f.Type, true
		}
	}
	return nil, false
}
