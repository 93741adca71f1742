package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// ChangeTicketStatus moves a ticket to another status.
type ChangeTicketStatus struct {
	Ticket string `json:"-" path:"ticket_id"`
	Status string `json:"status"`
}

// ChangeTicketStatusHandler runs ChangeTicketStatus.
type ChangeTicketStatusHandler struct {
	Directories *Directories
	Tickets     *Tickets
}

// Handle runs the command.
func (h ChangeTicketStatusHandler) Handle(ctx context.Context, m Meta, in ChangeTicketStatus) (Result, error) {
	id := domain.TicketID(in.Ticket)
	return h.Tickets.ExecuteTicket(ctx, h.Directories, m, id,
		domain.ChangeTicketStatus{Ticket: id, Status: domain.TicketStatus(in.Status)}, nil)
}
