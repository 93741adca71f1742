package eventschema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
)

// FuzzDecode feeds arbitrary store records to Decode. Whatever the bytes,
// Decode must not panic, must classify every failure under one of the
// documented sentinels, and a success must be a complete event that
// re-encodes and decodes to itself.
func FuzzDecode(f *testing.F) {
	r := newRegistry(f)
	valid, err := r.Encode(eventschema.Event{Envelope: validEnvelope("UserInvited"), Payload: &UserInvited{Email: "a@example.com", Role: "admin"}})
	if err != nil {
		f.Fatal(err)
	}
	company, err := r.Encode(eventschema.Event{Envelope: validEnvelope("CompanyRegistered"), Payload: &CompanyRegistered{Name: "Acme", Sites: []Site{{ID: "s", Name: "S"}}, Tags: map[string]string{"a": "b"}, RegisteredAt: t0}})
	if err != nil {
		f.Fatal(err)
	}
	v1 := storedMetadata(f, "UserInvited", 1)
	f.Add(valid.Type, valid.Data, valid.Metadata)
	f.Add(company.Type, company.Data, company.Metadata)
	f.Add("UserInvited", []byte(`{"mail":"old@example.com"}`), v1)                                // upcast chain
	f.Add("UserInvited", []byte(`{"email":"x"}`), v1)                                             // upcaster refuses
	f.Add("UserInvited", []byte(`{"email":"a","role":"b"}`), storedMetadata(f, "UserInvited", 9)) // newer
	f.Add("UserInvited", []byte(`{"email":`), valid.Metadata)                                     // broken data
	f.Add("UserInvited", valid.Data, []byte(`{"event_id":"`))                                     // broken metadata
	f.Add("UserInvited", []byte(`{"Email":"a","role":"b"}`), valid.Metadata)                      // case-folded key
	f.Add("UserInvited", []byte(`null`), []byte(`null`))
	f.Add("CompanyRegistered", valid.Data, valid.Metadata) // type mismatch
	f.Add("Unknown", []byte(`{}`), []byte(`{}`))
	f.Add("", []byte{}, []byte{})

	// Envelope metadata: what EventStoreDB keys, older or newer releases and hand edits leave.
	env := func(edit func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(valid.Metadata, &m); err != nil {
			f.Fatal(err)
		}
		edit(m)
		b, err := json.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	for _, edit := range []func(m map[string]any){
		func(m map[string]any) { m["unknown_key"] = []any{1, "x"} },                       // ignored
		func(m map[string]any) { delete(m, "$correlationId"); delete(m, "$causationId") }, // older release
		func(m map[string]any) { m["occurred_at"] = "2025-03-14T15:09:26+14:00" },         // offset
		func(m map[string]any) { m["occurred_at"] = "9999-12-31T23:59:59-01:00" },         // past year 9999 in UTC
		func(m map[string]any) { m["occurred_at"] = "0001-01-01T00:00:00Z" },              // zero
		func(m map[string]any) { m["actor"] = map[string]any{"kind": "robot", "id": "r"} },
		func(m map[string]any) { m["actor"] = map[string]any{"kind": "system"} },
		func(m map[string]any) { m["actor"] = map[string]any{"kind": "user", "id": " "} },
		func(m map[string]any) { m["event_id"] = "00000000-0000-0000-0000-000000000000" },
		func(m map[string]any) { m["event_id"] = "not-a-uuid" },
		func(m map[string]any) { m["schema_version"] = 0 },
		func(m map[string]any) { m["schema_version"] = -1 },
		func(m map[string]any) { m["schema_version"] = 2 },   // upcast from v2 only
		func(m map[string]any) { m["schema_version"] = 1.5 }, // not an integer
		func(m map[string]any) { m["schema_version"] = "3" }, // a string
		func(m map[string]any) { m["type"] = "CompanyRegistered" },
		func(m map[string]any) { m["tenant"] = nil; m["command"] = "" },
		func(m map[string]any) { m["Tenant"] = "other" }, // case-folded key
	} {
		f.Add("UserInvited", valid.Data, env(edit))
	}
	f.Add("UserInvited", []byte(`{"mail":"old@example.com","role":"admin"}`), v1) // upcast keeps a given role
	f.Add("UserInvited", []byte(`null`), v1)                                      // upcaster refuses null
	f.Add("UserInvited", []byte(`[1]`), v1)                                       // upcaster gets an array
	f.Add("UserInvited", []byte(`{"mail":{"nested":true}}`), v1)                  // upcast to a wrong type
	f.Add("UserInvited", []byte(`{"email":"a"}`), storedMetadata(f, "UserInvited", 2))

	f.Fuzz(func(t *testing.T, eventType string, data, metadata []byte) {
		checkDecode(t, r, eventType, data, metadata)
	})
}

// FuzzDecodePortal is FuzzDecode over the registry of every event the service writes (its fast
// decoding path included), seeded with each type at its current version.
func FuzzDecodePortal(f *testing.F) {
	r, err := eventschema.Portal()
	if err != nil {
		f.Fatal(err)
	}
	for i, e := range domain.AllEvents() {
		payload := reflect.New(reflect.TypeOf(e))
		sample(payload.Elem(), i)
		ev := eventschema.Event{Envelope: validEnvelope(e.EventType()), Payload: payload.Interface()}
		enc, err := r.Encode(ev)
		if err != nil {
			f.Fatalf("%s: %v", e.EventType(), err)
		}
		if _, err := r.Decode(enc.Type, enc.Data, enc.Metadata); err != nil {
			f.Fatalf("%s: the sample does not decode: %v", e.EventType(), err)
		}
		f.Add(enc.Type, enc.Data, enc.Metadata)
		if i%4 == 0 { // and near misses
			f.Add(enc.Type, append(bytes.TrimSuffix(enc.Data, []byte("}")), []byte(`,"unknown":1}`)...), enc.Metadata)
			f.Add(enc.Type, enc.Data, storedMetadata(f, e.EventType(), 2))
			f.Add(enc.Type, bytes.ToUpper(enc.Data), enc.Metadata)
			f.Add(enc.Type, enc.Data[:len(enc.Data)/2], enc.Metadata)
		}
	}
	f.Fuzz(func(t *testing.T, eventType string, data, metadata []byte) {
		checkDecode(t, r, eventType, data, metadata)
	})
}

// sample fills v with a value where every field is set (seed is varied into strings and numbers).
func sample(v reflect.Value, seed int) {
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(t0.Add(time.Duration(seed) * time.Hour)))
		return
	case v.Type() == reflect.TypeFor[uuid.UUID]():
		v.Set(reflect.ValueOf(uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(seed)})))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("v-%d", seed))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(seed + 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed + 1))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(seed) + 0.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		sample(v.Elem(), seed)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		sample(v.Index(0), seed)
	case reflect.Map:
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		sample(k, seed)
		sample(e, seed)
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(k, e)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				sample(v.Field(i), seed)
			}
		}
	}
}

// checkDecode asserts what Decode promises whatever the bytes: no panic, every failure
// classified under one of the documented sentinels with an empty event, and a success a
// complete event at the current version that re-encodes and decodes to itself.
func checkDecode(t *testing.T, r *eventschema.Registry, eventType string, data, metadata []byte) {
	t.Helper()
	sentinels := []error{eventschema.ErrUnknownEventType, eventschema.ErrUnsupportedVersion, eventschema.ErrMalformedEvent}
	ev, err := r.Decode(eventType, data, metadata)
	if err != nil {
		if !slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) }) {
			t.Fatalf("unclassified error: %v", err)
		}
		if !reflect.DeepEqual(ev, eventschema.Event{}) {
			t.Fatalf("error %v with non-empty event %#v", err, ev)
		}
		return
	}
	if err := ev.Validate(); err != nil {
		t.Fatalf("decoded envelope invalid: %v", err)
	}
	if ev.Type != eventType {
		t.Fatalf("decoded type %q from store type %q", ev.Type, eventType)
	}
	types := r.Types()
	if i := slices.IndexFunc(types, func(ti eventschema.TypeInfo) bool { return ti.Type == eventType }); i < 0 || types[i].Version != ev.SchemaVersion {
		t.Fatalf("decoded %s at v%d, not at its current version", eventType, ev.SchemaVersion)
	}
	if pv := reflect.ValueOf(ev.Payload); pv.Kind() != reflect.Pointer || pv.IsNil() {
		t.Fatalf("payload %#v is not a non-nil pointer", ev.Payload)
	}
	enc, err := r.Encode(ev)
	if err != nil {
		t.Fatalf("decoded event does not re-encode: %v", err)
	}
	again, err := r.Decode(enc.Type, enc.Data, enc.Metadata)
	if err != nil {
		t.Fatalf("re-encoded event does not decode: %v", err)
	}
	if !reflect.DeepEqual(again, ev) {
		t.Fatalf("re-encode round trip changed the event\nfirst: %#v\nagain: %#v", ev, again)
	}
}
