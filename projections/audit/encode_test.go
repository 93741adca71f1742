package audit

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/eventstore"
)

// checkEncoding fails unless appendEntry writes exactly json.Marshal's bytes (or both fail).
func checkEncoding(t *testing.T, e *Entry) {
	t.Helper()
	want, wantErr := json.Marshal(e)
	got, err := appendEntry([]byte("prefix"), e)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("error %v, json.Marshal's %v, for %+v", err, wantErr, e)
	}
	if err == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("appendEntry wrote\n%q\njson.Marshal writes\n%q", got, want)
	}
}

// The entry JSON is json.Marshal(entry)'s, byte for byte, for events of every registered type
// with every field random (tricky strings, invalid UTF-8, times in other zones, nil and empty
// id lists, zero and maximal numbers).
func TestAppendEntryIsJSONMarshal(t *testing.T) {
	reg := eventschema.MustPortal()
	r := rand.New(rand.NewPCG(1, 2))
	events, err := RandEvents(r, reg, 40*len(reg.Types()))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		payload, err := json.Marshal(ev.Payload)
		if err != nil {
			t.Fatal(err)
		}
		subjects, companies := Refs(ev.Payload)
		e := Entry{Envelope: ev.Envelope, Payload: payload, Stream: ev.Stream, Revision: ev.Revision,
			Position: ev.Position, Subjects: subjects, Companies: companies}
		checkEncoding(t, &e)
		// nil lists (null), lists of tricky strings, no payload.
		e.Subjects, e.Companies = nil, []string{RandString(r), RandString(r)}
		checkEncoding(t, &e)
		e.Payload = nil
		checkEncoding(t, &e)
	}
}

func TestAppendEntryEdgeCases(t *testing.T) {
	base := Entry{Envelope: eventschema.Envelope{EventID: uuid.MustParse("00112233-4455-6677-8899-aabbccddeeff"), Type: "T",
		SchemaVersion: 1, Tenant: "t", OccurredAt: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC), Actor: eventschema.SystemActor(),
		CorrelationID: "c", CausationID: "c", Command: "C"}, Payload: json.RawMessage(`{"a":"\u003c"}`)}
	for _, s := range TrickyStrings {
		e := base
		e.Type, e.Tenant, e.Actor, e.ActorCompany, e.CorrelationID, e.Reason, e.Stream, e.Subjects =
			s, s, eventschema.Actor{Kind: eventschema.ActorKind(s), ID: s}, s, s, s, s, []string{s, s}
		checkEncoding(t, &e)
	}
	for _, at := range []time.Time{{}, time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600)), time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("", -90*60-30)),
		time.Date(2024, 1, 1, 0, 0, 0, 0, time.Local), time.Now()} {
		e := base
		e.OccurredAt = at
		checkEncoding(t, &e) // the out-of-range ones fail in both
	}
	e := base
	e.SchemaVersion, e.Revision, e.Position = -7, 1<<64-1, eventstore.Position{Commit: 1<<64 - 1, Prepare: 0}
	checkEncoding(t, &e)
	e.Subjects, e.Companies = []string{}, []string{}
	checkEncoding(t, &e)
}

// Every byte, and every rune around the ones encoding/json treats specially, alone and in
// company: appendString is encoding/json's string encoding with HTML escaping.
func TestAppendStringIsJSONMarshal(t *testing.T) {
	check := func(s string) {
		t.Helper()
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: %s, want %s", s, got, want)
		}
	}
	for c := range 256 {
		check(string([]byte{byte(c)}))
		check("a" + string([]byte{byte(c)}) + "é")
	}
	for _, r := range []rune{0x7f, 0x80, 0x7ff, 0x800, 0x2027, 0x2028, 0x2029, 0x202a, 0xfffd, 0xffff, 0x10000, 0x10ffff} {
		check(string(r))
		check("x" + string(r) + "\xff" + string(r))
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range TrickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: %s, want %s", s, got, want)
		}
	})
}

// appendEntry knows the fields of Entry and Envelope by heart: a field added to either must be
// added there too (TestAppendEntryIsJSONMarshal then checks its encoding), so this test lists
// them and fails when they change.
func TestAppendEntryKnowsEveryField(t *testing.T) {
	var fields []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous {
				walk(f.Type)
				continue
			}
			fields = append(fields, f.Name+" "+f.Type.String()+" "+string(f.Tag))
		}
	}
	walk(reflect.TypeFor[Entry]())
	walk(reflect.TypeFor[eventschema.Actor]())
	walk(reflect.TypeFor[eventstore.Position]())
	want := []string{
		`EventID uuid.UUID json:"event_id"`,
		`Type string json:"type"`,
		`SchemaVersion int json:"schema_version"`,
		`Tenant string json:"tenant"`,
		`OccurredAt time.Time json:"occurred_at"`,
		`Actor eventschema.Actor json:"actor"`,
		`ActorCompany string json:"actor_company,omitempty"`,
		`CorrelationID string json:"correlation_id"`,
		`CausationID string json:"causation_id"`,
		`Command string json:"command"`,
		`Reason string json:"reason,omitempty"`,
		`Payload json.RawMessage json:"payload"`,
		`Stream string json:"stream"`,
		`Revision uint64 json:"revision"`,
		`Position eventstore.Position json:"position"`,
		`Subjects []string json:"subjects"`,
		`Companies []string json:"companies"`,
		`Kind eventschema.ActorKind json:"kind"`,
		`ID string json:"id,omitempty"`,
		`Commit uint64 json:"commit"`,
		`Prepare uint64 json:"prepare"`,
	}
	if !slices.Equal(fields, want) {
		t.Fatalf("the fields are now\n%q\nappendEntry was written for\n%q", fields, want)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[eventschema.Envelope](), reflect.TypeFor[eventschema.Actor](),
		reflect.TypeFor[eventschema.ActorKind](), reflect.TypeFor[eventstore.Position](), reflect.TypeFor[Entry]()} {
		for _, m := range []reflect.Type{reflect.TypeFor[json.Marshaler](), reflect.TypeFor[encoding.TextMarshaler]()} {
			if typ.Implements(m) || reflect.PointerTo(typ).Implements(m) {
				t.Errorf("%s is a %s, which appendEntry does not call", typ, m)
			}
		}
	}
}

// entrySize is enough for any entry without escapes (so Apply's buffer never grows for them),
// with every optional field set and the widest numbers and time.
func TestEntrySizeBoundsTheEntry(t *testing.T) {
	reg := eventschema.MustPortal()
	r := rand.New(rand.NewPCG(11, 12))
	events, err := RandEvents(r, reg, 10*len(reg.Types()))
	if err != nil {
		t.Fatal(err)
	}
	plain := func() string { return fmt.Sprint("id-", r.IntN(1000)) }
	for i, ev := range events {
		payload, err := json.Marshal(ev.Payload)
		if err != nil {
			t.Fatal(err)
		}
		env := ev.Envelope
		env.Type, env.Tenant, env.Actor, env.ActorCompany, env.CorrelationID, env.CausationID, env.Command, env.Reason =
			plain(), plain(), eventschema.UserActor(plain()), plain(), plain(), plain(), plain(), plain()
		env.SchemaVersion, env.OccurredAt = -1<<63, time.Date(2024, 1, 2, 3, 4, 5, 6, time.FixedZone("", -3600))
		e := Entry{Envelope: env, Payload: payload, Stream: plain(), Revision: 1<<64 - 1,
			Position: eventstore.Position{Commit: 1<<64 - 1, Prepare: 1<<64 - 1}, Subjects: []string{plain(), plain()}, Companies: []string{plain()}}
		if i%2 == 0 {
			e.Subjects, e.Companies, e.Payload = nil, nil, nil
		}
		got, err := appendEntry(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > entrySize(&e) {
			t.Fatalf("%d bytes, entrySize %d: %s", len(got), entrySize(&e), got)
		}
	}
}
