package readapi

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/projections/directory"
)

// TestTicketPageRendersAsEncodingJSON: the hand-written rendering of a ticket page is byte for
// byte what encoding/json makes of it, over random pages (empty and odd fields, escapes,
// non-ASCII, times with and without nanoseconds and zones).
func TestTicketPageRendersAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "t-1", "Leak at <A1> & \"B\"", "Étage 2 — café", "tab\there", "\u2028x", "bad \xff utf8", "back\\slash"}
	pick := func() string { return strs[r.IntN(len(strs))] }
	for range 500 {
		var p Page[TicketView]
		for range r.IntN(4) {
			at := time.Date(2026, 11, 23, 1, 2, 3, r.IntN(3)*123456789, time.FixedZone("z", r.IntN(3)*3600))
			v := TicketView{Ticket: directory.Ticket{ID: domain.TicketID(pick()), Company: domain.CompanyID(pick()), Site: domain.SiteID(pick()),
				Type: pick(), Status: domain.TicketStatus(pick()), Title: pick(), Description: pick(), Reporter: domain.PersonID(pick()),
				ResponsibleGroup: domain.GroupID(pick()), ResponsibleUser: domain.PersonID(pick()), Contractor: domain.CompanyID(pick()),
				Technician: domain.PersonID(pick()), OpenedAt: at, UpdatedAt: at.Add(time.Duration(r.IntN(5)) * time.Second),
				Comments: int64(r.IntN(3)), Documents: int64(r.IntN(3))}}
			for range r.IntN(3) {
				v.Reasons = append(v.Reasons, domain.TicketReason{Rule: pick(), Level: domain.AccessLevel(pick())})
			}
			if r.IntN(2) == 0 && v.Reasons == nil {
				v.Reasons = []domain.TicketReason{}
			}
			p.Items = append(p.Items, v)
		}
		if p.Items == nil && r.IntN(2) == 0 {
			p.Items = []TicketView{}
		}
		p.NextCursor = pick()
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if p.Items == nil {
			continue // a listing always answers a list, never null
		}
		if got := ticketPageJSON(p).appendJSON(nil); string(got) != string(want) {
			t.Fatalf("rendered\n%s\nencoding/json\n%s", got, want)
		}
		// The same page from cards: rendered, stored, parsed back, sent as is.
		fromCards := Page[TicketView]{Items: make([]TicketView, len(p.Items)), NextCursor: p.NextCursor}
		for i, v := range p.Items {
			c, ok := parseCard(renderCard(&v.Ticket))
			if !ok || c.ticket.ID != v.ID || c.view() != (domain.TicketView{Company: v.Company, Site: v.Site, Reporter: v.Reporter,
				Contractor: v.Contractor, Technician: v.Technician}) || c.ticket.Status != v.Status || c.ticket.Type != v.Type || !c.ticket.UpdatedAt.Equal(v.UpdatedAt) {
				t.Fatalf("card of %+v read back as %+v (%v)", v.Ticket, c.ticket, ok)
			}
			fromCards.Items[i] = TicketView{Ticket: c.ticket, Reasons: v.Reasons, rendered: c.json}
		}
		if got := ticketPageJSON(fromCards).appendJSON(nil); string(got) != string(want) {
			t.Fatalf("rendered from cards\n%s\nencoding/json\n%s", got, want)
		}
	}
}
