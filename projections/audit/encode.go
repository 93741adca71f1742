package audit

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/google/uuid"
)

// appendEntry appends the JSON of e exactly as json.Marshal(e) writes it — the same bytes, which
// Export serves as stored — without encoding/json's reflection over the envelope and without its
// second pass over the payload (json.Marshal validates and compacts a json.RawMessage again).
// Apply writes every entry of a rebuild, so this is its hottest path.
//
// e.Payload must be the output of json.Marshal (or nil): that output is already compact and
// HTML-escaped, so the compaction json.Marshal(e) would apply to it leaves it unchanged, and it
// is copied as it is. encode_test.go checks the equality over every registered event type and
// tricky strings, and fails when Envelope or Entry gains a field this encoder does not know.
func appendEntry(b []byte, e *Entry) ([]byte, error) {
	env := &e.Envelope
	b = append(b, `{"event_id":`...)
	b = appendUUID(b, env.EventID)
	b = append(b, `,"type":`...)
	b = appendString(b, env.Type)
	b = append(b, `,"schema_version":`...)
	b = strconv.AppendInt(b, int64(env.SchemaVersion), 10)
	b = append(b, `,"tenant":`...)
	b = appendString(b, env.Tenant)
	b = append(b, `,"occurred_at":"`...)
	var err error
	// AppendText is MarshalJSON without the quotes: RFC 3339 with nanoseconds, refusing what
	// RFC 3339 cannot represent (json.Marshal fails on the same times).
	if b, err = env.OccurredAt.AppendText(b); err != nil {
		return nil, fmt.Errorf("occurred_at: %w", err)
	}
	b = append(b, `","actor":{"kind":`...)
	b = appendString(b, string(env.Actor.Kind))
	if env.Actor.ID != "" {
		b = append(b, `,"id":`...)
		b = appendString(b, env.Actor.ID)
	}
	b = append(b, '}')
	if env.ActorCompany != "" {
		b = append(b, `,"actor_company":`...)
		b = appendString(b, env.ActorCompany)
	}
	b = append(b, `,"correlation_id":`...)
	b = appendString(b, env.CorrelationID)
	b = append(b, `,"causation_id":`...)
	b = appendString(b, env.CausationID)
	b = append(b, `,"command":`...)
	b = appendString(b, env.Command)
	if env.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendString(b, env.Reason)
	}
	b = append(b, `,"payload":`...)
	if e.Payload == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, e.Payload...)
	}
	b = append(b, `,"stream":`...)
	b = appendString(b, e.Stream)
	b = append(b, `,"revision":`...)
	b = strconv.AppendUint(b, e.Revision, 10)
	b = append(b, `,"position":{"commit":`...)
	b = strconv.AppendUint(b, e.Position.Commit, 10)
	b = append(b, `,"prepare":`...)
	b = strconv.AppendUint(b, e.Position.Prepare, 10)
	b = append(b, `},"subjects":`...)
	b = appendStrings(b, e.Subjects)
	b = append(b, `,"companies":`...)
	b = appendStrings(b, e.Companies)
	return append(b, '}'), nil
}

// entryOverhead bounds what appendEntry writes besides the strings' bytes and the payload:
// the keys and punctuation (254 bytes), the quotes around the ten strings, the UUID, the
// time (at most 35 bytes), four numbers of at most 20 characters, null or [] for the lists and
// null for a nil payload.
const entryOverhead = 254 + 10*2 + 38 + 35 + 4*20 + 2*4 + 4

// entrySize is what appendEntry writes for e when no string needs escaping: a buffer of this
// capacity never grows for the entries the log holds (escapes are rare).
func entrySize(e *Entry) int {
	env := &e.Envelope
	n := entryOverhead + len(e.Payload) + len(env.Type) + len(env.Tenant) + len(env.Actor.Kind) + len(env.Actor.ID) +
		len(env.ActorCompany) + len(env.CorrelationID) + len(env.CausationID) + len(env.Command) + len(env.Reason) + len(e.Stream)
	for _, s := range e.Subjects {
		n += len(s) + 3 // quotes and comma
	}
	for _, s := range e.Companies {
		n += len(s) + 3
	}
	return n
}

// appendUUID writes a UUID as its MarshalText does (the canonical lower-case form), quoted.
func appendUUID(b []byte, u uuid.UUID) []byte {
	b = append(b, '"')
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xF])
	}
	return append(b, '"')
}

// appendStrings writes a []string as encoding/json does: null when nil.
func appendStrings(b []byte, s []string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, v)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// htmlSafe[c] is true for the ASCII bytes encoding/json writes as they are when it escapes HTML
// (as json.Marshal does): everything printable but '"', '\\', '<', '>' and '&'.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString writes s as a JSON string exactly as json.Marshal does: the short escapes for
// '"', '\\', \b, \f, \n, \r and \t, \u00XX for the other control characters and for '<', '>' and
// '&', \ufffd for each byte of invalid UTF-8, and \u2028 and \u2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if htmlSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
