package eventschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"sync"
	"unsafe"

	"github.com/google/uuid"
)

// ContentTypeJSON is the content type of both event data and metadata.
const ContentTypeJSON = "application/json"

// Event is an envelope with its decoded payload: a pointer to the Go struct
// registered for Envelope.Type (Encode also accepts the struct value).
type Event struct {
	Envelope
	Payload any
}

// Encoded is an event laid out for EventStoreDB: Type is the store's event
// type, Data the payload JSON, Metadata the envelope JSON, both ContentType.
// Keeping the envelope in metadata lets consumers filter and audit without
// knowing any payload schema.
type Encoded struct {
	EventID     uuid.UUID
	Type        string
	ContentType string
	Data        []byte
	Metadata    []byte
}

// Upcaster turns the payload JSON of one schema version into the JSON of
// the next version.
type Upcaster = func(json.RawMessage) (json.RawMessage, error)

// TypeInfo describes one registered event type, for docs and schema output.
type TypeInfo struct {
	Type        string `json:"type"`
	Version     int    `json:"version"` // current schema version
	Doc         string `json:"doc"`
	GoType      string `json:"go_type"`
	UpcastsFrom []int  `json:"upcasts_from,omitempty"` // versions with an upcaster, ascending
}

type typeDef struct {
	name      string
	version   int
	goType    reflect.Type // struct type
	doc       string
	schema    map[string]any // payload schema, read-only after Register
	upcasters map[int]Upcaster
}

// Registry knows every event type the backend writes or reads, with its
// current version, Go payload type and upcasters. Register everything at
// start-up; afterwards it is safe for concurrent use (registration itself
// is also guarded, so late registration cannot race readers).
// The zero value is usable; a nil *Registry returns errors, never panics.
type Registry struct {
	mu    sync.RWMutex
	types map[string]*typeDef
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]*typeDef{}} }

var errNilRegistry = errors.New("eventschema: nil registry")

// Names reserved for the envelope's own $defs in the JSON Schema.
var reservedTypeNames = map[string]bool{"Envelope": true, "Actor": true}

// Register declares the current version of an event type and its Go payload
// type, given as a zero value of a struct (a pointer to one is accepted).
// It fails, wrapping ErrInvalidRegistration, on a duplicate type, a version
// below 1, or a payload type that cannot be encoded as a JSON object.
func (r *Registry) Register(eventType string, version int, payload any, doc string) error {
	if r == nil {
		return errNilRegistry
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("eventschema: register %q: %w: %s", eventType, ErrInvalidRegistration, fmt.Sprintf(format, args...))
	}
	if !validTypeName(eventType) {
		return fail("event type must match [A-Za-z][A-Za-z0-9_.-]*")
	}
	if reservedTypeNames[eventType] {
		return fail("name is reserved for the envelope schema")
	}
	if version < 1 {
		return fail("version must be >= 1, got %d", version)
	}
	t := reflect.TypeOf(payload)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct || t == timeType || customJSON(t, marshalerType) || customJSON(t, unmarshalerType) {
		return fail("payload must be a plain struct (without custom JSON methods), got %v", reflect.TypeOf(payload))
	}
	schema, err := schemaOf(t, false, map[reflect.Type]bool{})
	if err != nil {
		return fail("payload %s: %v", t, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.types == nil {
		r.types = map[string]*typeDef{}
	}
	if old, ok := r.types[eventType]; ok {
		return fail("already registered (v%d, %s)", old.version, old.goType)
	}
	r.types[eventType] = &typeDef{name: eventType, version: version, goType: t, doc: doc, schema: schema, upcasters: map[int]Upcaster{}}
	return nil
}

func validTypeName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i, c := range s {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if i == 0 && !letter {
			return false
		}
		if !letter && !('0' <= c && c <= '9') && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// RegisterUpcaster registers up to turn the payload JSON of (eventType,
// fromVersion) into the JSON of fromVersion+1; Decode chains upcasters until
// the current version. The type must be registered first and fromVersion
// must be below its current version.
func (r *Registry) RegisterUpcaster(eventType string, fromVersion int, up func(json.RawMessage) (json.RawMessage, error)) error {
	if r == nil {
		return errNilRegistry
	}
	fail := func(err error, format string, args ...any) error {
		return fmt.Errorf("eventschema: register upcaster %q v%d: %w: %s", eventType, fromVersion, err, fmt.Sprintf(format, args...))
	}
	if up == nil {
		return fail(ErrInvalidRegistration, "nil upcaster")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	def, ok := r.types[eventType]
	if !ok {
		return fail(ErrUnknownEventType, "register the event type before its upcasters")
	}
	if fromVersion < 1 || fromVersion >= def.version {
		return fail(ErrInvalidRegistration, "from-version must be in [1,%d)", def.version)
	}
	if _, dup := def.upcasters[fromVersion]; dup {
		return fail(ErrInvalidRegistration, "already registered")
	}
	def.upcasters[fromVersion] = up
	return nil
}

func (r *Registry) lookup(eventType string) (*typeDef, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	def, ok := r.types[eventType]
	return def, ok
}

// Encode lays ev out for the event store. It stamps the current schema
// version when ev.SchemaVersion is 0 (refusing any other version: only the
// current shape is ever written), normalises OccurredAt to UTC, validates the
// envelope and checks the payload's Go type against the registration.
func (r *Registry) Encode(ev Event) (Encoded, error) {
	if r == nil {
		return Encoded{}, errNilRegistry
	}
	def, ok := r.lookup(ev.Type)
	if !ok {
		return Encoded{}, fmt.Errorf("eventschema: encode %q: %w", ev.Type, ErrUnknownEventType)
	}
	env := ev.Envelope
	switch env.SchemaVersion {
	case 0:
		env.SchemaVersion = def.version
	case def.version:
	default:
		return Encoded{}, fmt.Errorf("eventschema: encode %q: %w: v%d given, only the current v%d can be written",
			ev.Type, ErrUnsupportedVersion, env.SchemaVersion, def.version)
	}
	env.OccurredAt = env.OccurredAt.UTC()
	if err := env.Validate(); err != nil {
		return Encoded{}, fmt.Errorf("eventschema: encode %q: %w", ev.Type, err)
	}
	pv := reflect.ValueOf(ev.Payload)
	switch {
	case !pv.IsValid():
		return Encoded{}, fmt.Errorf("eventschema: encode %q: %w: nil payload, want %s", ev.Type, ErrPayloadMismatch, def.goType)
	case pv.Type() == def.goType:
	case pv.Type() == reflect.PointerTo(def.goType):
		if pv.IsNil() {
			return Encoded{}, fmt.Errorf("eventschema: encode %q: %w: nil *%s", ev.Type, ErrPayloadMismatch, def.goType)
		}
	default:
		return Encoded{}, fmt.Errorf("eventschema: encode %q: %w: got %s, want %s", ev.Type, ErrPayloadMismatch, pv.Type(), def.goType)
	}
	data, err := json.Marshal(ev.Payload)
	if err != nil {
		return Encoded{}, fmt.Errorf("eventschema: encode %q: payload: %w", ev.Type, err)
	}
	meta, err := json.Marshal(metadataDoc{Envelope: env, ESCorrelationID: env.CorrelationID, ESCausationID: env.CausationID})
	if err != nil {
		return Encoded{}, fmt.Errorf("eventschema: encode %q: envelope: %w", ev.Type, err)
	}
	return Encoded{EventID: env.EventID, Type: env.Type, ContentType: ContentTypeJSON, Data: data, Metadata: meta}, nil
}

// metadataDoc is the stored metadata: the envelope plus the keys
// EventStoreDB's system projections ($by_correlation_id) and UI read.
type metadataDoc struct {
	Envelope
	ESCorrelationID string `json:"$correlationId,omitempty"`
	ESCausationID   string `json:"$causationId,omitempty"`
}

// Decode rebuilds an event read from the store. eventType is the store's
// event type and must equal the envelope's. Older schema versions are
// upcast to the current one (the returned SchemaVersion is the current
// version); the payload is decoded strictly (unknown, case-mismatched or
// trailing content refused) into a new value of the registered type and
// returned as a pointer. Unknown metadata keys are ignored so that the
// envelope can gain optional fields without breaking replay.
//
// Errors wrap ErrUnknownEventType, ErrUnsupportedVersion or
// ErrMalformedEvent (plus ErrInvalidEnvelope or *UpcastError when relevant).
func (r *Registry) Decode(eventType string, data, metadata []byte) (Event, error) {
	if r == nil {
		return Event{}, errNilRegistry
	}
	def, ok := r.lookup(eventType)
	if !ok {
		return Event{}, fmt.Errorf("eventschema: decode %q: %w", eventType, ErrUnknownEventType)
	}
	malformed := func(format string, args ...any) error {
		return fmt.Errorf("eventschema: decode %q: %w: "+format, append([]any{eventType, ErrMalformedEvent}, args...)...)
	}
	if !isObject(metadata) {
		return Event{}, malformed("metadata is not a JSON object")
	}
	var md metadataDoc
	if !fastDecode(metadataPlan(), metadata, unsafe.Pointer(&md)) {
		md = metadataDoc{}
		if err := json.Unmarshal(metadata, &md); err != nil {
			return Event{}, malformed("metadata: %w", err)
		}
	}
	env := md.Envelope
	if env.Type != eventType {
		return Event{}, malformed("store event type %q but envelope type %q", eventType, env.Type)
	}
	env.OccurredAt = env.OccurredAt.UTC() // before Validate: an offset can push the year out of range
	if err := env.Validate(); err != nil {
		return Event{}, malformed("%w", err)
	}
	if env.SchemaVersion > def.version {
		return Event{}, fmt.Errorf("eventschema: decode %q: %w: stored v%d is newer than current v%d",
			eventType, ErrUnsupportedVersion, env.SchemaVersion, def.version)
	}
	if env.SchemaVersion == def.version {
		if plan := fastPlanOf(def.goType); plan != nil {
			payload := reflect.New(def.goType)
			if fastDecode(plan, data, payload.UnsafePointer()) {
				env.SchemaVersion = def.version
				return Event{Envelope: env, Payload: payload.Interface()}, nil
			}
		}
	}
	if !json.Valid(data) {
		return Event{}, malformed("data is not valid JSON")
	}
	raw := json.RawMessage(bytes.Clone(data))
	for v := env.SchemaVersion; v < def.version; v++ {
		up, ok := r.upcaster(def, v)
		if !ok {
			return Event{}, fmt.Errorf("eventschema: decode %q: %w: no upcaster from v%d (stored v%d, current v%d)",
				eventType, ErrUnsupportedVersion, v, env.SchemaVersion, def.version)
		}
		next, err := runUpcaster(up, raw)
		if err != nil {
			return Event{}, fmt.Errorf("eventschema: decode %q: %w", eventType, &UpcastError{Type: eventType, FromVersion: v, Err: err})
		}
		if !json.Valid(next) {
			return Event{}, fmt.Errorf("eventschema: decode %q: %w", eventType,
				&UpcastError{Type: eventType, FromVersion: v, Err: errors.New("upcaster returned invalid JSON")})
		}
		raw = next
	}
	upcast := ""
	if env.SchemaVersion != def.version {
		upcast = fmt.Sprintf(" (after upcasting from v%d)", env.SchemaVersion)
	}
	if !isObject(raw) {
		return Event{}, malformed("payload is not a JSON object%s", upcast)
	}
	payload, err := decodeStrict(raw, def.goType)
	if err != nil {
		return Event{}, malformed("payload%s: %w", upcast, err)
	}
	env.SchemaVersion = def.version
	return Event{Envelope: env, Payload: payload}, nil
}

// decodeStrict is the general decoding of a payload object into a new value of struct type t
// (returned as a pointer): encoding/json with unknown fields refused, nothing after the object,
// and no key matched only case-insensitively.
func decodeStrict(raw []byte, t reflect.Type) (any, error) {
	payload := reflect.New(t)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(payload.Interface()); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after JSON object")
	}
	if err := checkKeys(raw, t, ""); err != nil {
		return nil, err
	}
	return payload.Interface(), nil
}

var (
	metaPlanOnce sync.Once
	metaPlan     *fastPlan
)

// metadataPlan is the fast path's plan of the stored metadata (the envelope).
func metadataPlan() *fastPlan {
	metaPlanOnce.Do(func() { metaPlan = fastPlanOf(reflect.TypeFor[metadataDoc]()) })
	return metaPlan
}

func (r *Registry) upcaster(def *typeDef, from int) (Upcaster, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	up, ok := def.upcasters[from]
	return up, ok
}

// runUpcaster shields Decode from a panicking upcaster: stored data is
// input, and one bad event must not take a projector down.
func runUpcaster(up Upcaster, in json.RawMessage) (out json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("upcaster panicked: %v", p)
		}
	}()
	return up(in)
}

func isObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// Types lists the registered event types sorted by name.
func (r *Registry) Types() []TypeInfo {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]TypeInfo, 0, len(r.types))
	for _, name := range slices.Sorted(maps.Keys(r.types)) {
		def := r.types[name]
		out = append(out, TypeInfo{
			Type:        def.name,
			Version:     def.version,
			Doc:         def.doc,
			GoType:      def.goType.String(),
			UpcastsFrom: slices.Sorted(maps.Keys(def.upcasters)),
		})
	}
	return out
}
