package eventschema

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

// SchemaDialect is the JSON Schema dialect of JSONSchema's output.
const SchemaDialect = "https://json-schema.org/draft/2020-12/schema"

// JSONSchema renders the event catalogue for integrators as one JSON Schema
// (draft 2020-12) document. $defs holds "Envelope" (the metadata of every
// event), "Actor", and one definition per event type named after it,
// describing the payload (event data) with the annotations x-event-type,
// x-schema-version and the registration doc as description. Output is
// deterministic (sorted keys, fields in declaration order) so it can be
// committed and diffed.
func (r *Registry) JSONSchema() ([]byte, error) {
	if r == nil {
		return nil, errNilRegistry
	}
	defs := map[string]any{
		"Envelope": envelopeSchema(),
		"Actor":    actorSchema(),
	}
	r.mu.RLock()
	names := slices.Sorted(maps.Keys(r.types))
	for _, name := range names {
		def := r.types[name]
		s := maps.Clone(def.schema) // shallow: only top-level annotations are added
		s["title"] = name
		s["x-event-type"] = name
		s["x-schema-version"] = def.version
		if def.doc != "" {
			s["description"] = def.doc
		}
		defs[name] = s
	}
	r.mu.RUnlock()
	doc := map[string]any{
		"$schema":     SchemaDialect,
		"title":       "Portal access events",
		"description": "Events appended to EventStoreDB by the portal access backend. Each stored event has content type application/json; its metadata is an Envelope and its data is the payload defined under $defs by the event type name (the store's event type, equal to Envelope.type). Payloads are shown at their current schema version.",
		"$defs":       defs,
		"x-event-types": func() []any {
			out := make([]any, len(names))
			for i, n := range names {
				out[i] = n
			}
			return out
		}(),
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("eventschema: render JSON Schema: %w", err)
	}
	return append(b, '\n'), nil
}

// str is a required, non-blank string (as Envelope.Validate demands).
func str(desc string) map[string]any {
	return map[string]any{"type": "string", "pattern": `\S`, "description": desc}
}

// envelopeSchema is written by hand (not reflected) because it carries the
// constraints of Envelope.Validate; a test keeps it in step with the struct.
func envelopeSchema() map[string]any {
	return map[string]any{
		"type":        "object",
		"title":       "Envelope",
		"description": "Metadata of every event: who did what, when, for which tenant and caused by which command. Consumers must ignore keys they do not know.",
		"properties": map[string]any{
			"event_id":       map[string]any{"type": "string", "format": "uuid", "description": "Unique event id; derived from the Idempotency-Key when the command carried one."},
			"type":           str("Event type, equal to the store's event type and to a payload definition name."),
			"schema_version": map[string]any{"type": "integer", "minimum": 1, "description": "Version of the payload schema the data was written with."},
			"tenant":         str("Tenant the event belongs to."),
			"occurred_at":    map[string]any{"type": "string", "format": "date-time", "description": "When the command was accepted, UTC, RFC 3339 with nanoseconds."},
			"actor":          map[string]any{"$ref": "#/$defs/Actor"},
			"actor_company":  map[string]any{"type": "string", "description": "Company of the acting user, when it has one."},
			"correlation_id": str("Groups all events of one business flow."),
			"causation_id":   str("Id of the command that caused the event."),
			"command":        str("Name of that command, e.g. InviteUser."),
			"reason":         map[string]any{"type": "string", "description": "Free-text reason given by the actor."},
			"$correlationId": map[string]any{"type": "string", "description": "Copy of correlation_id for EventStoreDB system projections."},
			"$causationId":   map[string]any{"type": "string", "description": "Copy of causation_id for EventStoreDB system projections."},
		},
		"required": []any{"event_id", "type", "schema_version", "tenant", "occurred_at", "actor", "correlation_id", "causation_id", "command"},
	}
}

func actorSchema() map[string]any {
	return map[string]any{
		"type":        "object",
		"title":       "Actor",
		"description": "Who caused the event, taken from the authenticated token.",
		"properties": map[string]any{
			"kind": map[string]any{"type": "string", "enum": []any{string(ActorUser), string(ActorService), string(ActorSystem)}},
			"id":   map[string]any{"type": "string", "description": "User id or service client id; absent for system."},
		},
		"required": []any{"kind"},
		"if":       map[string]any{"properties": map[string]any{"kind": map[string]any{"enum": []any{string(ActorUser), string(ActorService)}}}},
		"then":     map[string]any{"required": []any{"id"}, "properties": map[string]any{"id": map[string]any{"pattern": `\S`}}},
	}
}
