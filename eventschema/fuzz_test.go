package eventschema_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"

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

	sentinels := []error{eventschema.ErrUnknownEventType, eventschema.ErrUnsupportedVersion, eventschema.ErrMalformedEvent}
	f.Fuzz(func(t *testing.T, eventType string, data, metadata []byte) {
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
	})
}
