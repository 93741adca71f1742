package eventschema

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors let callers branch on the kind of failure with errors.Is
// while the wrapped message keeps the detail (event type, field, version).
var (
	// ErrUnknownEventType: the event type was never registered. Consumers of
	// $all typically skip such events rather than fail.
	ErrUnknownEventType = errors.New("unknown event type")
	// ErrUnsupportedVersion: the stored schema version is newer than the
	// registered current version (written by a newer release), or no
	// upcaster path leads from it to the current version.
	ErrUnsupportedVersion = errors.New("unsupported schema version")
	// ErrMalformedEvent: the stored bytes cannot be trusted: invalid JSON,
	// invalid envelope, event type mismatch, unknown or wrongly typed fields.
	ErrMalformedEvent = errors.New("malformed event")
	// ErrInvalidEnvelope: an envelope misses a required field or carries an
	// invalid value. Decode errors caused by it match ErrMalformedEvent too.
	ErrInvalidEnvelope = errors.New("invalid envelope")
	// ErrPayloadMismatch: Encode was given a payload whose Go type is not the
	// one registered for the event type, so it would not decode back.
	ErrPayloadMismatch = errors.New("payload type does not match event type")
	// ErrInvalidRegistration: a Register or RegisterUpcaster call was refused
	// (duplicate, bad version, unsupported payload type, ...).
	ErrInvalidRegistration = errors.New("invalid registration")
)

// FieldError names the envelope field that failed validation, so an HTTP or
// log layer can report it without parsing messages. It matches
// ErrInvalidEnvelope.
type FieldError struct {
	Field  string // JSON name, e.g. "actor.id"
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("invalid envelope: %s: %s", e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidEnvelope) hold.
func (e *FieldError) Unwrap() error { return ErrInvalidEnvelope }

// ValidationError lists every field problem of one envelope, so a caller
// fixes them all at once. errors.As also finds each *FieldError inside.
type ValidationError struct {
	Fields []*FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Reason
	}
	return "invalid envelope: " + strings.Join(parts, "; ")
}

// Unwrap exposes the field errors (and through them ErrInvalidEnvelope).
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Fields))
	for i, f := range e.Fields {
		errs[i] = f
	}
	return errs
}

// UpcastError reports an upcaster that failed on stored data. It matches
// ErrMalformedEvent (the old event could not be brought to the current
// shape) and the upcaster's own error.
type UpcastError struct {
	Type        string
	FromVersion int
	Err         error
}

func (e *UpcastError) Error() string {
	return fmt.Sprintf("upcasting %s from v%d to v%d: %v", e.Type, e.FromVersion, e.FromVersion+1, e.Err)
}

// Unwrap exposes both ErrMalformedEvent and the upcaster's error.
func (e *UpcastError) Unwrap() []error { return []error{ErrMalformedEvent, e.Err} }
