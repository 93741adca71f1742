package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// AssignContractor assigns a guest contractor, and optionally one of its technicians, to a ticket.
type AssignContractor struct {
	Ticket     string `json:"-" path:"ticket_id"`
	Contractor string `json:"contractor"`
	Technician string `json:"technician,omitempty"`
}

// AssignContractorHandler runs AssignContractor.
type AssignContractorHandler struct {
	Directories *Directories
	Tickets     *Tickets
}

// Handle runs the command.
func (h AssignContractorHandler) Handle(ctx context.Context, m Meta, in AssignContractor) (Result, error) {
	id := domain.TicketID(in.Ticket)
	return h.Tickets.ExecuteTicket(ctx, h.Directories, m, id, domain.AssignContractor{Ticket: id,
		Contractor: domain.CompanyID(in.Contractor), Technician: domain.PersonID(in.Technician)}, nil)
}
