package httpapi

import (
	"net/http"

	"github.com/portal-access/backend/commands"
)

const tagTickets = "tickets"

func ticketRoutes() []routeDef {
	type H = *commands.Handlers
	return []routeDef{
		command(http.MethodPost, "/contractors", tagTickets, "register a guest contractor company",
			func(h H) commands.Handler[commands.RegisterGuestContractor] { return h.Tickets.RegisterGuestContractor }, true),
		command(http.MethodPost, "/contractors/:company_id/technicians", tagTickets, "add a technician to a guest contractor, with a limited validity",
			func(h H) commands.Handler[commands.AddTechnician] { return h.Tickets.AddTechnician }, true),
		command(http.MethodPost, "/tickets", tagTickets, "open a ticket for a company or site",
			func(h H) commands.Handler[commands.OpenTicket] { return h.Tickets.OpenTicket }, true),
		command(http.MethodPut, "/tickets/:ticket_id/status", tagTickets, "change a ticket's status",
			func(h H) commands.Handler[commands.ChangeTicketStatus] { return h.Tickets.ChangeTicketStatus }, false),
		command(http.MethodPut, "/tickets/:ticket_id/assignee", tagTickets, "assign a ticket to a group or a user",
			func(h H) commands.Handler[commands.AssignTicket] { return h.Tickets.AssignTicket }, false),
		command(http.MethodPut, "/tickets/:ticket_id/contractor", tagTickets, "assign a ticket to a guest contractor (and one of its technicians)",
			func(h H) commands.Handler[commands.AssignContractor] { return h.Tickets.AssignContractor }, false),
		command(http.MethodPost, "/tickets/:ticket_id/comments", tagTickets, "comment on a ticket",
			func(h H) commands.Handler[commands.CommentOnTicket] { return h.Tickets.CommentOnTicket }, true),
		command(http.MethodPost, "/tickets/:ticket_id/documents", tagTickets, "attach a document to a ticket",
			func(h H) commands.Handler[commands.AttachTicketDocument] { return h.Tickets.AttachTicketDocument }, true),
		command(http.MethodPost, "/companies/:company_id/documents", tagTickets, "attach a document to a company",
			func(h H) commands.Handler[commands.AttachCompanyDocument] { return h.Tickets.AttachCompanyDocument }, true),
	}
}
