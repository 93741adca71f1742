package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// AssignTicket sets a ticket's responsible: a group or a user.
type AssignTicket struct {
	Ticket string `json:"-" path:"ticket_id"`
	Group  string `json:"group,omitempty"`
	User   string `json:"user,omitempty"`
}

// AssignTicketHandler runs AssignTicket.
type AssignTicketHandler struct {
	Directories *Directories
	Tickets     *Tickets
}

// Handle runs the command.
func (h AssignTicketHandler) Handle(ctx context.Context, m Meta, in AssignTicket) (Result, error) {
	id := domain.TicketID(in.Ticket)
	return h.Tickets.ExecuteTicket(ctx, h.Directories, m, id,
		domain.AssignTicket{Ticket: id, Group: domain.GroupID(in.Group), User: domain.PersonID(in.User)}, nil)
}
