package readapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/portal-access/backend/projections/directory"
)

// ticketPageJSON renders a page of tickets exactly as encoding/json would (field order,
// omitempty, escaping), by appending bytes instead of reflecting: the ticket listing is the
// read API's heaviest answer, and reflection was a good part of its cost.
type ticketPageJSON Page[TicketView]

// WriteContentType implements render.Render.
func (p ticketPageJSON) WriteContentType(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
}

// renderBuffers recycles the pages' buffers (about 25 kB for 50 tickets): Write has copied the
// bytes out when it returns.
var renderBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// Render implements render.Render.
func (p ticketPageJSON) Render(w http.ResponseWriter) error {
	p.WriteContentType(w)
	buf := renderBuffers.Get().(*[]byte)
	*buf = p.appendJSON((*buf)[:0])
	// With its length known, the page goes out in one piece rather than in chunks.
	w.Header().Set("Content-Length", strconv.Itoa(len(*buf)))
	_, err := w.Write(*buf)
	if cap(*buf) <= 1<<20 { // do not keep a rare huge page's buffer
		renderBuffers.Put(buf)
	}
	return err
}

func (p ticketPageJSON) appendJSON(b []byte) []byte {
	b = append(b, `{"items":[`...)
	for i := range p.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTicketView(b, &p.Items[i])
	}
	b = append(b, ']')
	if p.NextCursor != "" {
		b = append(b, `,"next_cursor":`...)
		b = appendString(b, p.NextCursor)
	}
	return append(b, '}')
}

func appendTicketView(b []byte, v *TicketView) []byte {
	if v.rendered != "" {
		b = append(b, v.rendered...)
	} else {
		b = appendTicketFields(b, &v.Ticket)
	}
	b = append(b, `,"reasons":`...)
	if v.Reasons == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, r := range v.Reasons {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"rule":`...)
			b = appendString(b, r.Rule)
			b = appendOpt(b, `,"level":`, string(r.Level))
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendTicketFields renders a ticket as encoding/json would, without the closing brace.
func appendTicketFields(b []byte, t *directory.Ticket) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, string(t.ID))
	b = append(b, `,"company":`...)
	b = appendString(b, string(t.Company))
	b = appendOpt(b, `,"site":`, string(t.Site))
	b = append(b, `,"type":`...)
	b = appendString(b, t.Type)
	b = append(b, `,"status":`...)
	b = appendString(b, string(t.Status))
	b = append(b, `,"title":`...)
	b = appendString(b, t.Title)
	b = appendOpt(b, `,"description":`, t.Description)
	b = appendOpt(b, `,"reporter":`, string(t.Reporter))
	b = appendOpt(b, `,"responsible_group":`, string(t.ResponsibleGroup))
	b = appendOpt(b, `,"responsible_user":`, string(t.ResponsibleUser))
	b = appendOpt(b, `,"contractor":`, string(t.Contractor))
	b = appendOpt(b, `,"technician":`, string(t.Technician))
	b = append(b, `,"opened_at":`...)
	b = appendTime(b, t.OpenedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, t.UpdatedAt)
	b = append(b, `,"comments":`...)
	b = strconv.AppendInt(b, t.Comments, 10)
	b = append(b, `,"documents":`...)
	return strconv.AppendInt(b, t.Documents, 10)
}

func appendOpt(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return appendString(append(b, key...), v)
}

// appendTime is time.Time's MarshalJSON (RFC 3339 with nanoseconds).
func appendTime(b []byte, t time.Time) []byte {
	out, err := t.MarshalJSON()
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, out...)
}

// appendString quotes s as encoding/json does: plain printable ASCII other than the characters
// it escapes goes as is, anything else through encoding/json itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			out, _ := json.Marshal(s)
			return append(b, out...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
