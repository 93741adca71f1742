package commands

import (
	"log/slog"

	"github.com/portal-access/backend/eventschema"
)

// Tickets loads and saves Ticket and Document aggregates.
type Tickets struct {
	store EventStore
	reg   *eventschema.Registry
}

// NewTickets returns the ticket repository over store.
func NewTickets(store EventStore, reg *eventschema.Registry) *Tickets {
	return &Tickets{store: store, reg: reg}
}

// TicketHandlers: contractors, tickets and documents.
type TicketHandlers struct{}

func newTicketHandlers(dirs *Directories, tickets *Tickets, logger *slog.Logger) TicketHandlers {
	return TicketHandlers{}
}
