package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// SetTicketRestrictions replaces the ticket types a support user may open and, when
// restricted, the ticket statuses it may set.
type SetTicketRestrictions struct {
	Person      string   `json:"-" path:"person_id"`
	TicketTypes []string `json:"ticket_types"`
	Restricted  bool     `json:"restricted"`
	Statuses    []string `json:"statuses"`
}

// SetTicketRestrictionsHandler runs SetTicketRestrictions.
type SetTicketRestrictionsHandler struct{ Directories *Directories }

// Handle runs the command.
func (h SetTicketRestrictionsHandler) Handle(ctx context.Context, m Meta, in SetTicketRestrictions) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.SetTicketRestrictions{Person: domain.PersonID(in.Person), TicketTypes: in.TicketTypes,
		Restricted: in.Restricted, Statuses: in.Statuses}, nil)
}
