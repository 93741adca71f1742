package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// OpenTicket opens a ticket at a site (its company is the site's) or, with no site, for a
// company as a whole.
type OpenTicket struct {
	Company          string `json:"company,omitempty"`
	Site             string `json:"site,omitempty"`
	Type             string `json:"type"`
	Title            string `json:"title"`
	Description      string `json:"description,omitempty"`
	ResponsibleGroup string `json:"responsible_group,omitempty"`
	ResponsibleUser  string `json:"responsible_user,omitempty"`
}

// OpenTicketHandler runs OpenTicket; the ticket id is derived from the Idempotency-Key when
// there is one, so that a retry finds the ticket its first attempt opened.
type OpenTicketHandler struct {
	Directories *Directories
	Tickets     *Tickets
}

// Handle runs the command.
func (h OpenTicketHandler) Handle(ctx context.Context, m Meta, in OpenTicket) (Result, error) {
	m = m.Prepare("OpenTicket")
	id := m.NewID("ticket")
	return h.Tickets.CreateTicket(ctx, h.Directories, m, domain.TicketID(id), domain.OpenTicket{
		Ticket: domain.TicketID(id), Company: domain.CompanyID(in.Company), Site: domain.SiteID(in.Site),
		Type: in.Type, Title: in.Title, Description: in.Description,
		ResponsibleGroup: domain.GroupID(in.ResponsibleGroup), ResponsibleUser: domain.PersonID(in.ResponsibleUser),
	}, map[string]string{"ticket_id": id})
}
