package eventschema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portal-access/backend/eventschema"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	r := newRegistry(t)
	parent := uuid.MustParse("6f1c1f8e-8a59-4f4e-9d6a-0f7a5d2c3b44")
	sysEnv := validEnvelope("UserInvited")
	sysEnv.Actor = eventschema.SystemActor()
	sysEnv.ActorCompany = ""
	sysEnv.Reason = "invitation re-sent after bounce — ünïcode ok"
	paris := validEnvelope("TenantConfigured")
	paris.OccurredAt = t0.In(time.FixedZone("CET", 3600))

	tests := []struct {
		name    string
		in      eventschema.Event
		wantEnv eventschema.Envelope // envelope expected after decode
	}{
		{
			name: "all payload fields set, pointer payload",
			in: eventschema.Event{Envelope: validEnvelope("CompanyRegistered"), Payload: &CompanyRegistered{
				Audit:     Audit{Note: "from CRM"},
				CompanyID: uuid.MustParse("9a3e8f5c-0b8e-4d43-8e0f-6c1de1a3b2f0"), Name: "Acme GmbH",
				ParentID: &parent, Sites: []Site{{ID: "s1", Name: "Berlin"}, {ID: "s2", Name: "Köln"}},
				Tags: map[string]string{"tier": "gold"}, RegisteredAt: t0.Add(-time.Hour), Active: true, Seats: 25,
			}},
		},
		{
			name: "optional fields absent, value payload",
			in: eventschema.Event{Envelope: validEnvelope("CompanyRegistered"), Payload: CompanyRegistered{
				CompanyID: uuid.MustParse("9a3e8f5c-0b8e-4d43-8e0f-6c1de1a3b2f0"), Name: "Solo", Sites: []Site{}, RegisteredAt: t0,
			}},
		},
		{
			name: "system actor with reason, explicit current version",
			in: eventschema.Event{Envelope: func() eventschema.Envelope { e := sysEnv; e.SchemaVersion = 3; return e }(),
				Payload: &UserInvited{Email: "a@example.com", Role: "admin"}},
		},
		{
			name:    "non-UTC time is stored and decoded as UTC",
			in:      eventschema.Event{Envelope: paris, Payload: &TenantConfigured{Seats: 3}},
			wantEnv: func() eventschema.Envelope { e := paris; e.OccurredAt = t0; return e }(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := r.Encode(tt.in)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if enc.EventID != tt.in.EventID || enc.Type != tt.in.Type || enc.ContentType != "application/json" {
				t.Errorf("Encoded header = %v %q %q", enc.EventID, enc.Type, enc.ContentType)
			}
			// Data is exactly the payload JSON; metadata carries the
			// envelope plus EventStoreDB's correlation keys.
			wantData, _ := json.Marshal(tt.in.Payload)
			if !bytes.Equal(enc.Data, wantData) {
				t.Errorf("Data = %s, want %s", enc.Data, wantData)
			}
			var md map[string]any
			if err := json.Unmarshal(enc.Metadata, &md); err != nil {
				t.Fatalf("metadata: %v", err)
			}
			if md["$correlationId"] != tt.in.CorrelationID || md["$causationId"] != tt.in.CausationID || md["type"] != tt.in.Type {
				t.Errorf("metadata = %s", enc.Metadata)
			}
			if strings.Contains(string(enc.Data), "internal") {
				t.Errorf("unexported field leaked: %s", enc.Data)
			}

			got, err := r.Decode(enc.Type, enc.Data, enc.Metadata)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := tt.in
			if tt.wantEnv != (eventschema.Envelope{}) {
				want.Envelope = tt.wantEnv
			}
			want.SchemaVersion = mustVersion(t, r, tt.in.Type)
			if v := reflect.ValueOf(want.Payload); v.Kind() != reflect.Pointer {
				p := reflect.New(v.Type())
				p.Elem().Set(v)
				want.Payload = p.Interface() // Decode always returns a pointer
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip mismatch\n got: %#v\nwant: %#v", got, want)
			}
		})
	}
}

func mustVersion(t *testing.T, r *eventschema.Registry, typ string) int {
	t.Helper()
	for _, ti := range r.Types() {
		if ti.Type == typ {
			return ti.Version
		}
	}
	t.Fatalf("type %s not registered", typ)
	return 0
}

func TestEncodeRefusals(t *testing.T) {
	r := newRegistry(t)
	env := validEnvelope("UserInvited")
	withEnv := func(f func(*eventschema.Envelope)) eventschema.Envelope { e := env; f(&e); return e }
	var nilInvite *UserInvited
	tests := []struct {
		name string
		ev   eventschema.Event
		want error
	}{
		{"unknown type", eventschema.Event{Envelope: withEnv(func(e *eventschema.Envelope) { e.Type = "Nope" }), Payload: &UserInvited{}}, eventschema.ErrUnknownEventType},
		{"old version", eventschema.Event{Envelope: withEnv(func(e *eventschema.Envelope) { e.SchemaVersion = 2 }), Payload: &UserInvited{}}, eventschema.ErrUnsupportedVersion},
		{"newer version", eventschema.Event{Envelope: withEnv(func(e *eventschema.Envelope) { e.SchemaVersion = 4 }), Payload: &UserInvited{}}, eventschema.ErrUnsupportedVersion},
		{"invalid envelope", eventschema.Event{Envelope: withEnv(func(e *eventschema.Envelope) { e.Tenant = "" }), Payload: &UserInvited{}}, eventschema.ErrInvalidEnvelope},
		{"nil payload", eventschema.Event{Envelope: env}, eventschema.ErrPayloadMismatch},
		{"nil pointer payload", eventschema.Event{Envelope: env, Payload: nilInvite}, eventschema.ErrPayloadMismatch},
		{"other struct", eventschema.Event{Envelope: env, Payload: &TenantConfigured{}}, eventschema.ErrPayloadMismatch},
		{"map payload", eventschema.Event{Envelope: env, Payload: map[string]any{"email": "x"}}, eventschema.ErrPayloadMismatch},
		{"pointer to pointer", eventschema.Event{Envelope: env, Payload: &[]*UserInvited{{}}[0]}, eventschema.ErrPayloadMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Encode(tt.ev)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Encode err = %v, want %v", err, tt.want)
			}
		})
	}
	var nilReg *eventschema.Registry
	if _, err := nilReg.Encode(eventschema.Event{Envelope: env, Payload: &UserInvited{}}); err == nil {
		t.Error("nil registry: Encode succeeded")
	}
}

func TestDecodeRefusals(t *testing.T) {
	r := newRegistry(t)
	meta := storedMetadata(t, "UserInvited", 3)
	data := []byte(`{"email":"a@example.com","role":"basic"}`)
	companyMeta := storedMetadata(t, "CompanyRegistered", 1)
	companyData := `{"company_id":"9a3e8f5c-0b8e-4d43-8e0f-6c1de1a3b2f0","name":"A","sites":[{"id":"s1","name":"B"}],"registered_at":"2025-01-01T00:00:00Z","active":true,"seats":1}`
	metaWith := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(meta, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	tests := []struct {
		name      string
		typ       string
		data      string
		meta      []byte
		want      []error
		errSubstr string
	}{
		{"unknown type", "Nope", string(data), meta, []error{eventschema.ErrUnknownEventType}, "Nope"},
		{"newer version", "UserInvited", string(data), storedMetadata(t, "UserInvited", 4), []error{eventschema.ErrUnsupportedVersion}, "v4"},
		{"metadata not JSON", "UserInvited", string(data), []byte(`{"event_id":`), []error{eventschema.ErrMalformedEvent}, "metadata"},
		{"metadata empty", "UserInvited", string(data), nil, []error{eventschema.ErrMalformedEvent}, "metadata"},
		{"metadata null", "UserInvited", string(data), []byte(`null`), []error{eventschema.ErrMalformedEvent}, "metadata"},
		{"metadata array", "UserInvited", string(data), []byte(`[]`), []error{eventschema.ErrMalformedEvent}, "metadata"},
		{"metadata wrong field type", "UserInvited", string(data), metaWith(func(m map[string]any) { m["schema_version"] = "3" }), []error{eventschema.ErrMalformedEvent}, "schema_version"},
		{"metadata bad uuid", "UserInvited", string(data), metaWith(func(m map[string]any) { m["event_id"] = "not-a-uuid" }), []error{eventschema.ErrMalformedEvent}, "metadata"},
		{"envelope missing tenant", "UserInvited", string(data), metaWith(func(m map[string]any) { delete(m, "tenant") }), []error{eventschema.ErrMalformedEvent, eventschema.ErrInvalidEnvelope}, "tenant"},
		{"envelope version 0", "UserInvited", string(data), metaWith(func(m map[string]any) { m["schema_version"] = 0 }), []error{eventschema.ErrMalformedEvent, eventschema.ErrInvalidEnvelope}, "schema_version"},
		{"envelope unknown actor kind", "UserInvited", string(data), metaWith(func(m map[string]any) { m["actor"] = map[string]any{"kind": "robot", "id": "r"} }), []error{eventschema.ErrMalformedEvent, eventschema.ErrInvalidEnvelope}, "actor.kind"},
		{"occurred_at out of range once in UTC", "UserInvited", string(data), metaWith(func(m map[string]any) { m["occurred_at"] = "9999-12-31T23:00:00-05:00" }), []error{eventschema.ErrMalformedEvent, eventschema.ErrInvalidEnvelope}, "occurred_at"},
		{"type mismatch store vs envelope", "CompanyRegistered", companyData, meta, []error{eventschema.ErrMalformedEvent}, `envelope type "UserInvited"`},
		{"data not JSON", "UserInvited", `{"email":`, meta, []error{eventschema.ErrMalformedEvent}, "data"},
		{"data empty", "UserInvited", ``, meta, []error{eventschema.ErrMalformedEvent}, "data"},
		{"data null", "UserInvited", `null`, meta, []error{eventschema.ErrMalformedEvent}, "object"},
		{"data array", "UserInvited", `[1]`, meta, []error{eventschema.ErrMalformedEvent}, "object"},
		{"data trailing value", "UserInvited", string(data) + ` {}`, meta, []error{eventschema.ErrMalformedEvent}, "data"},
		{"unknown payload field", "UserInvited", `{"email":"a@example.com","role":"basic","admin":true}`, meta, []error{eventschema.ErrMalformedEvent}, `"admin"`},
		{"case-folded payload field", "UserInvited", `{"Email":"a@example.com","role":"basic"}`, meta, []error{eventschema.ErrMalformedEvent}, `"Email"`},
		{"unknown nested field", "CompanyRegistered", strings.Replace(companyData, `"name":"B"`, `"name":"B","x":1`, 1), companyMeta, []error{eventschema.ErrMalformedEvent}, `"x"`},
		{"case-folded nested field", "CompanyRegistered", strings.Replace(companyData, `"name":"B"`, `"NAME":"B"`, 1), companyMeta, []error{eventschema.ErrMalformedEvent}, "sites[0]"},
		{"wrong payload field type", "UserInvited", `{"email":42,"role":"basic"}`, meta, []error{eventschema.ErrMalformedEvent}, "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := r.Decode(tt.typ, []byte(tt.data), tt.meta)
			if err == nil {
				t.Fatalf("Decode succeeded: %#v", ev)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("err = %v; want errors.Is %v", err, w)
				}
			}
			if !strings.Contains(err.Error(), tt.errSubstr) {
				t.Errorf("err = %q; want it to mention %q", err, tt.errSubstr)
			}
			if ev.Payload != nil || ev.EventID != uuid.Nil {
				t.Errorf("error with non-empty event: %#v", ev)
			}
		})
	}
	t.Run("field error is reachable with errors.As", func(t *testing.T) {
		_, err := r.Decode("UserInvited", data, metaWith(func(m map[string]any) { m["correlation_id"] = "  " }))
		var fe *eventschema.FieldError
		if !errors.As(err, &fe) || fe.Field != "correlation_id" {
			t.Fatalf("err = %v, FieldError = %+v", err, fe)
		}
	})
	t.Run("unknown metadata keys are tolerated", func(t *testing.T) {
		m := metaWith(func(m map[string]any) { m["future_field"] = "x"; m["$correlationId"] = "other" })
		if _, err := r.Decode("UserInvited", data, m); err != nil {
			t.Fatal(err)
		}
	})
}

func TestUpcasting(t *testing.T) {
	tests := []struct {
		name    string
		version int
		data    string
		want    UserInvited
	}{
		{"v1 through v2 to v3", 1, `{"mail":"old@example.com"}`, UserInvited{Email: "old@example.com", Role: "basic"}},
		{"v2 to v3", 2, `{"email":"mid@example.com"}`, UserInvited{Email: "mid@example.com", Role: "basic"}},
		{"v3 untouched", 3, `{"email":"new@example.com","role":"admin"}`, UserInvited{Email: "new@example.com", Role: "admin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := eventschema.NewRegistry()
			if err := r.Register("UserInvited", 3, UserInvited{}, ""); err != nil {
				t.Fatal(err)
			}
			var calls []int
			track := func(v int, up func(json.RawMessage) (json.RawMessage, error)) func(json.RawMessage) (json.RawMessage, error) {
				return func(in json.RawMessage) (json.RawMessage, error) { calls = append(calls, v); return up(in) }
			}
			if err := r.RegisterUpcaster("UserInvited", 1, track(1, upMailToEmail)); err != nil {
				t.Fatal(err)
			}
			if err := r.RegisterUpcaster("UserInvited", 2, track(2, upAddRole)); err != nil {
				t.Fatal(err)
			}
			ev, err := r.Decode("UserInvited", []byte(tt.data), storedMetadata(t, "UserInvited", tt.version))
			if err != nil {
				t.Fatal(err)
			}
			if got := *ev.Payload.(*UserInvited); got != tt.want {
				t.Errorf("payload = %+v, want %+v", got, tt.want)
			}
			if ev.SchemaVersion != 3 {
				t.Errorf("SchemaVersion = %d, want current 3", ev.SchemaVersion)
			}
			var wantCalls []int
			for v := tt.version; v < 3; v++ {
				wantCalls = append(wantCalls, v)
			}
			if !reflect.DeepEqual(calls, wantCalls) {
				t.Errorf("upcasters called %v, want %v", calls, wantCalls)
			}
		})
	}
}

func TestUpcastingFailures(t *testing.T) {
	meta1 := func(t *testing.T) []byte { return storedMetadata(t, "UserInvited", 1) }
	tests := []struct {
		name     string
		register func(r *eventschema.Registry) error
		data     string
		want     []error
		fromV    int // expected UpcastError.FromVersion, 0 if none
	}{
		{
			name:     "missing step v2",
			register: func(r *eventschema.Registry) error { return r.RegisterUpcaster("UserInvited", 1, upMailToEmail) },
			data:     `{"mail":"a@example.com"}`,
			want:     []error{eventschema.ErrUnsupportedVersion},
		},
		{
			name:     "missing step v1",
			register: func(r *eventschema.Registry) error { return r.RegisterUpcaster("UserInvited", 2, upAddRole) },
			data:     `{"mail":"a@example.com"}`,
			want:     []error{eventschema.ErrUnsupportedVersion},
		},
		{
			name:     "upcaster error propagates",
			register: registerBoth,
			data:     `{"email":"no mail key"}`,
			want:     []error{errUpcastRefused, eventschema.ErrMalformedEvent},
			fromV:    1,
		},
		{
			name: "upcaster panic becomes error",
			register: func(r *eventschema.Registry) error {
				return errors.Join(r.RegisterUpcaster("UserInvited", 1, upMailToEmail),
					r.RegisterUpcaster("UserInvited", 2, func(json.RawMessage) (json.RawMessage, error) { panic("boom") }))
			},
			data:  `{"mail":"a@example.com"}`,
			want:  []error{eventschema.ErrMalformedEvent},
			fromV: 2,
		},
		{
			name: "upcaster returning invalid JSON",
			register: func(r *eventschema.Registry) error {
				return errors.Join(r.RegisterUpcaster("UserInvited", 1, func(json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{`), nil }),
					r.RegisterUpcaster("UserInvited", 2, upAddRole))
			},
			data:  `{"mail":"a@example.com"}`,
			want:  []error{eventschema.ErrMalformedEvent},
			fromV: 1,
		},
		{
			name:     "upcast result with unknown field",
			register: registerBoth,
			data:     `{"mail":"a@example.com","legacy":1}`,
			want:     []error{eventschema.ErrMalformedEvent},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := eventschema.NewRegistry()
			if err := r.Register("UserInvited", 3, UserInvited{}, ""); err != nil {
				t.Fatal(err)
			}
			if err := tt.register(r); err != nil {
				t.Fatal(err)
			}
			_, err := r.Decode("UserInvited", []byte(tt.data), meta1(t))
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("err = %v; want errors.Is %v", err, w)
				}
			}
			var ue *eventschema.UpcastError
			if got := errors.As(err, &ue); got != (tt.fromV != 0) || (got && ue.FromVersion != tt.fromV) {
				t.Errorf("UpcastError = %+v (found %v), want from v%d", ue, got, tt.fromV)
			}
		})
	}
}

func registerBoth(r *eventschema.Registry) error {
	return errors.Join(r.RegisterUpcaster("UserInvited", 1, upMailToEmail), r.RegisterUpcaster("UserInvited", 2, upAddRole))
}

type recursive struct {
	Next *recursive `json:"next"`
}

type withChan struct {
	C chan int `json:"c"`
}

type withFuncMapKey struct {
	M map[[2]int]string `json:"m"`
}

func TestRegisterRefusals(t *testing.T) {
	r := eventschema.NewRegistry()
	if err := r.Register("UserInvited", 3, UserInvited{}, ""); err != nil {
		t.Fatal(err)
	}
	up := func(in json.RawMessage) (json.RawMessage, error) { return in, nil }
	if err := r.RegisterUpcaster("UserInvited", 1, up); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"duplicate type", func() error { return r.Register("UserInvited", 4, UserInvited{}, "") }, eventschema.ErrInvalidRegistration},
		{"version 0", func() error { return r.Register("A", 0, UserInvited{}, "") }, eventschema.ErrInvalidRegistration},
		{"empty name", func() error { return r.Register("", 1, UserInvited{}, "") }, eventschema.ErrInvalidRegistration},
		{"name with space", func() error { return r.Register("User Invited", 1, UserInvited{}, "") }, eventschema.ErrInvalidRegistration},
		{"reserved name", func() error { return r.Register("Envelope", 1, UserInvited{}, "") }, eventschema.ErrInvalidRegistration},
		{"nil payload", func() error { return r.Register("A", 1, nil, "") }, eventschema.ErrInvalidRegistration},
		{"non-struct payload", func() error { return r.Register("A", 1, "x", "") }, eventschema.ErrInvalidRegistration},
		{"map payload", func() error { return r.Register("A", 1, map[string]any{}, "") }, eventschema.ErrInvalidRegistration},
		{"time payload", func() error { return r.Register("A", 1, time.Time{}, "") }, eventschema.ErrInvalidRegistration},
		{"recursive payload", func() error { return r.Register("A", 1, recursive{}, "") }, eventschema.ErrInvalidRegistration},
		{"chan field", func() error { return r.Register("A", 1, withChan{}, "") }, eventschema.ErrInvalidRegistration},
		{"bad map key", func() error { return r.Register("A", 1, withFuncMapKey{}, "") }, eventschema.ErrInvalidRegistration},
		{"upcaster for unknown type", func() error { return r.RegisterUpcaster("Nope", 1, up) }, eventschema.ErrUnknownEventType},
		{"upcaster from current", func() error { return r.RegisterUpcaster("UserInvited", 3, up) }, eventschema.ErrInvalidRegistration},
		{"upcaster from 0", func() error { return r.RegisterUpcaster("UserInvited", 0, up) }, eventschema.ErrInvalidRegistration},
		{"duplicate upcaster", func() error { return r.RegisterUpcaster("UserInvited", 1, up) }, eventschema.ErrInvalidRegistration},
		{"nil upcaster", func() error { return r.RegisterUpcaster("UserInvited", 2, nil) }, eventschema.ErrInvalidRegistration},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if got := len(r.Types()); got != 1 {
		t.Errorf("refused registrations changed the registry: %d types", got)
	}
}

func TestTypes(t *testing.T) {
	got := newRegistry(t).Types()
	want := []eventschema.TypeInfo{
		{Type: "CompanyRegistered", Version: 1, Doc: "A company was registered in the tenant.", GoType: "eventschema_test.CompanyRegistered"},
		{Type: "TenantConfigured", Version: 1, Doc: "Tenant settings (seats) changed.", GoType: "eventschema_test.TenantConfigured"},
		{Type: "UserInvited", Version: 3, Doc: "A user was invited to a company.", GoType: "eventschema_test.UserInvited", UpcastsFrom: []int{1, 2}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Types() =\n%+v\nwant\n%+v", got, want)
	}
}

// TestConcurrentUse is meant for -race: readers while a late registration
// happens must not race.
func TestConcurrentUse(t *testing.T) {
	r := newRegistry(t)
	enc, err := r.Encode(eventschema.Event{Envelope: validEnvelope("UserInvited"), Payload: &UserInvited{Email: "a@b.c"}})
	if err != nil {
		t.Fatal(err)
	}
	old := storedMetadata(t, "UserInvited", 1)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := r.Decode(enc.Type, enc.Data, enc.Metadata); err != nil {
					t.Error(err)
				}
				if _, err := r.Decode("UserInvited", []byte(`{"mail":"x@y.z"}`), old); err != nil {
					t.Error(err)
				}
				_ = r.Types()
				if _, err := r.JSONSchema(); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			if err := r.Register("Late"+string(rune('A'+i)), 1, TenantConfigured{}, ""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

func TestZeroAndNilRegistry(t *testing.T) {
	var zero eventschema.Registry
	if _, err := zero.Decode("X", []byte(`{}`), []byte(`{}`)); !errors.Is(err, eventschema.ErrUnknownEventType) {
		t.Errorf("zero registry Decode err = %v", err)
	}
	if err := zero.Register("X", 1, TenantConfigured{}, ""); err != nil {
		t.Errorf("zero registry Register: %v", err)
	}
	var nilReg *eventschema.Registry
	if _, err := nilReg.Decode("X", nil, nil); err == nil {
		t.Error("nil registry Decode succeeded")
	}
	if err := nilReg.Register("X", 1, TenantConfigured{}, ""); err == nil {
		t.Error("nil registry Register succeeded")
	}
	if _, err := nilReg.JSONSchema(); err == nil {
		t.Error("nil registry JSONSchema succeeded")
	}
	if nilReg.Types() != nil {
		t.Error("nil registry Types not nil")
	}
}
