package readapi

import (
	"strconv"
	"strings"
	"time"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/projections/directory"
)

// A card is a ticket rendered ahead for listings, kept in Redis beside its record (see
// directory.Reader.TicketCards): what a listing judges and filters by, then the ticket's JSON
// as encoding/json renders it, without the closing brace (the reasons follow). A page then
// reads one MGET of cards instead of every ticket's record field by field, and copies each
// card's JSON instead of rendering it.
//
// Format: "c1", then the fields id, company, site, reporter, contractor, technician, status,
// type and updated_at (Unix nanoseconds), each as <length>:<bytes>, then the JSON.

// cardFormat starts every card; a card of another format is rendered again.
const cardFormat = "c1"

// cardTTL is how long an unread card is kept.
const cardTTL = time.Hour

// card is a parsed card; its strings share the card's memory.
type card struct {
	ticket  directory.Ticket // ID and the fields listed in the format, nothing else
	updated int64
	json    string
}

func renderCard(t *directory.Ticket) string {
	b := make([]byte, 0, 640)
	b = append(b, cardFormat...)
	for _, f := range [...]string{string(t.ID), string(t.Company), string(t.Site), string(t.Reporter), string(t.Contractor),
		string(t.Technician), string(t.Status), t.Type, strconv.FormatInt(t.UpdatedAt.UnixNano(), 10)} {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
	}
	return string(appendTicketFields(b, t))
}

// parseCard reads a card; false for anything that is not one (then the record is read).
func parseCard(s string) (card, bool) {
	rest, ok := strings.CutPrefix(s, cardFormat)
	if !ok {
		return card{}, false
	}
	var f [9]string
	for i := range f {
		n, after, ok := strings.Cut(rest, ":")
		l, err := strconv.Atoi(n)
		if !ok || err != nil || l < 0 || l > len(after) {
			return card{}, false
		}
		f[i], rest = after[:l], after[l:]
	}
	updated, err := strconv.ParseInt(f[8], 10, 64)
	if err != nil || !strings.HasPrefix(rest, `{"id":`) {
		return card{}, false
	}
	return card{ticket: directory.Ticket{ID: domain.TicketID(f[0]), Company: domain.CompanyID(f[1]), Site: domain.SiteID(f[2]),
		Reporter: domain.PersonID(f[3]), Contractor: domain.CompanyID(f[4]), Technician: domain.PersonID(f[5]),
		Status: domain.TicketStatus(f[6]), Type: f[7], UpdatedAt: time.Unix(0, updated).UTC()}, updated: updated, json: rest}, true
}

// view is what visibility judges the card's ticket by.
func (c *card) view() domain.TicketView {
	t := &c.ticket
	return domain.TicketView{Company: t.Company, Site: t.Site, Reporter: t.Reporter, Contractor: t.Contractor, Technician: t.Technician}
}
