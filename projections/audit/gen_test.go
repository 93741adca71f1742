package audit

// Test helpers shared with the external tests (package audit_test): random events of every
// registered type and the reflection walk Refs replaced, kept as the reference.

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/projections"
)

// TrickyStrings are strings encoding/json escapes or rewrites: quotes and backslashes, every
// control character, HTML's <, > and &, DEL, non-ASCII, U+2028/U+2029, U+FFFD itself and
// invalid UTF-8 (a lone continuation byte, a truncated sequence, an encoded surrogate, an
// overlong form, bytes that never occur).
var TrickyStrings = func() []string {
	out := []string{"", "plain", `"quoted"`, `back\slash`, `\"`, "<script>&amp;</script>", "a>b", "\x7f",
		"é", "日本語", "🎉 emoji", "line\u2028sep\u2029para", "\ufffd", "\xff", "a\xffb", "\xc3", "\xe6\x97",
		"\xed\xa0\x80", "\xc0\xaf", "\xf8\x88\x80\x80\x80", "mixed \"<\u2028\xfe>\" \t\n", strings.Repeat("x", 300)}
	var ctl strings.Builder
	for c := range 0x20 {
		out = append(out, string(rune(c)))
		ctl.WriteByte(byte(c))
	}
	return append(out, ctl.String())
}()

// RandString is an id-like string most of the time, otherwise a tricky one or random bytes.
func RandString(r *rand.Rand) string {
	switch r.IntN(6) {
	case 0:
		return TrickyStrings[r.IntN(len(TrickyStrings))]
	case 1:
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return string(b)
	case 2:
		return ""
	default:
		return fmt.Sprint([]string{"u", "c", "g", "s", "t", "d"}[r.IntN(6)], r.IntN(20))
	}
}

// RandTime covers whole seconds and nanoseconds, UTC and other offsets, and the ends of the
// years RFC 3339 represents.
func RandTime(r *rand.Rand) time.Time {
	var t time.Time
	switch r.IntN(8) {
	case 0:
		t = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	case 1:
		t = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	case 2:
		t = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	default:
		t = time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC()
		if r.IntN(3) == 0 {
			t = t.Truncate(time.Duration([]int64{1, 1e3, 1e6, 1e9}[r.IntN(4)]))
		}
	}
	if y := t.Year(); y > 0 && y < 9999 && r.IntN(4) == 0 {
		t = t.In(time.FixedZone("", (r.IntN(47)-23)*1800))
	}
	return t
}

// RandFill sets every exported field of v (recursively) to a random value: strings as
// RandString, levels among the real ones (company the most often), nil and non-empty slices.
func RandFill(r *rand.Rand, v reflect.Value) {
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(RandTime(r)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		if v.Type() == reflect.TypeFor[domain.AccessLevel]() {
			v.SetString([]string{string(domain.LevelCompany), string(domain.LevelCompany), "user", "group", ""}[r.IntN(5)])
			return
		}
		v.SetString(RandString(r))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(r.Int64N(1<<20) - 1<<10)
	case reflect.Slice:
		if r.IntN(4) == 0 {
			return // nil
		}
		s := reflect.MakeSlice(v.Type(), r.IntN(4), 4)
		for i := range s.Len() {
			RandFill(r, s.Index(i))
		}
		v.Set(s)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				RandFill(r, v.Field(i))
			}
		}
	}
}

// NewPayload is a new zero payload (a pointer) of a registered event type, as Decode returns it.
func NewPayload(reg *eventschema.Registry, t eventschema.TypeInfo) (domain.Event, error) {
	meta, err := json.Marshal(eventschema.Envelope{EventID: uuid.New(), Type: t.Type, SchemaVersion: t.Version, Tenant: "t",
		OccurredAt: time.Now().UTC(), Actor: eventschema.SystemActor(), CorrelationID: "c", CausationID: "c", Command: "C"})
	if err != nil {
		return nil, err
	}
	ev, err := reg.Decode(t.Type, []byte("{}"), meta)
	if err != nil {
		return nil, fmt.Errorf("a zero %s: %w", t.Type, err)
	}
	p, ok := ev.Payload.(domain.Event)
	if !ok {
		return nil, fmt.Errorf("%s decodes to %T, not a domain.Event", t.Type, ev.Payload)
	}
	return p, nil
}

// RandEvents are n events cycling through every registered type, every field random (envelope
// included: tricky strings, empty optional fields, every actor kind, extreme positions).
func RandEvents(r *rand.Rand, reg *eventschema.Registry, n int) ([]projections.Event, error) {
	types := reg.Types()
	out := make([]projections.Event, 0, n)
	for i := range n {
		t := types[i%len(types)]
		p, err := NewPayload(reg, t)
		if err != nil {
			return nil, err
		}
		RandFill(r, reflect.ValueOf(p).Elem())
		if r.IntN(5) == 0 { // a payload by value, as handlers may be given one too
			p = reflect.ValueOf(p).Elem().Interface().(domain.Event)
		}
		actor := []eventschema.Actor{eventschema.SystemActor(), eventschema.UserActor(RandString(r)), eventschema.ServiceActor(RandString(r)),
			{Kind: eventschema.ActorKind(RandString(r)), ID: RandString(r)}}[r.IntN(4)]
		env := eventschema.Envelope{EventID: uuid.New(), Type: t.Type, SchemaVersion: t.Version, Tenant: "tn" + RandString(r),
			OccurredAt: RandTime(r), Actor: actor, ActorCompany: RandString(r), CorrelationID: RandString(r),
			CausationID: RandString(r), Command: RandString(r), Reason: RandString(r)}
		if r.IntN(10) == 0 {
			env.EventID = uuid.Nil
		}
		pos := eventstore.Position{Commit: r.Uint64(), Prepare: r.Uint64()}
		rev := r.Uint64()
		if r.IntN(10) == 0 {
			pos.Prepare, rev = math.MaxUint64, 0
		}
		out = append(out, projections.Event{Envelope: env, Payload: p, Stream: "s-" + RandString(r), Revision: rev, Position: pos})
	}
	return out, nil
}

// ReferenceEntryJSON is the entry Apply stored before it was written by hand: json.Marshal of
// the Entry, the ids found by the reflection walk.
func ReferenceEntryJSON(e projections.Event) ([]byte, error) {
	payload, err := json.Marshal(e.Payload)
	if err != nil {
		return nil, err
	}
	subjects, companies := ReferenceRefs(e.Payload)
	if c := e.Envelope.ActorCompany; c != "" {
		if i, found := slices.BinarySearch(companies, c); !found {
			companies = slices.Insert(companies, i, c)
		}
	}
	return json.Marshal(Entry{Envelope: e.Envelope, Payload: payload, Stream: e.Stream, Revision: e.Revision,
		Position: e.Position, Subjects: subjects, Companies: companies})
}

// ReferenceRefs is the reflection walk Refs used to be: every value visited, every field's tag
// parsed, on each call. Refs must give the same answer for any payload.
func ReferenceRefs(payload any) (subjects, companies []string) {
	v := reflect.ValueOf(payload)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil, nil
		}
		v = v.Elem()
	}
	var r refs
	r.walkRef(v)
	return compact(r.subjects), compact(r.companies)
}

func (r *refs) walkRef(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			r.walkRef(v.Elem())
		}
	case reflect.String:
		if idTypes[v.Type()] {
			r.add(v.String(), v.Type() == companyType)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			r.walkRef(v.Index(i))
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			r.walkRef(it.Key())
			r.walkRef(it.Value())
		}
	case reflect.Struct:
		r.walkStructRef(v)
	}
}

func (r *refs) walkStructRef(v reflect.Value) {
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
		r.walkRef(fv)
	}
}
