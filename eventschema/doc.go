// Package eventschema defines what every stored event looks like: the
// envelope that makes the audit trail answerable (who, when, why, caused by
// which command), how an event is laid out in EventStoreDB (payload as event
// data, envelope as metadata), and a versioned registry of event types.
//
// Events are kept forever, so their shapes must stay readable after the Go
// types evolve: each type has one current version, older stored versions are
// brought forward by upcasters on read, and decoding is strict so that a
// corrupt or foreign event is refused loudly instead of being projected as an
// empty one. The registry also renders a JSON Schema so integrators who
// subscribe to the streams can validate and generate code from the same
// definitions the backend uses.
package eventschema
