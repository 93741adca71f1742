package eventschema

// Docs of the Ticket and Document aggregates' events (domain/ticket_events.go).
func init() {
	eventDocs["TicketOpened"] = "A ticket was opened at a site of a company (or for the company as a whole when site is empty), with status open; reporter is the person who opened it."
	eventDocs["TicketStatusChanged"] = "A ticket moved from one status to another (open, in_progress, waiting, resolved, closed); a closed ticket only reopens to open."
	eventDocs["TicketAssigned"] = "A ticket's responsible group or user (exactly one) was set; from_group/from_user name the previous responsible."
	eventDocs["ContractorAssigned"] = "A guest contractor, and optionally one of its technicians, was assigned to a ticket, replacing from_contractor/from_technician: the contractor's admins and the technician see the ticket from now on."
	eventDocs["TicketCommented"] = "Someone who sees the ticket commented on it."
	eventDocs["DocumentAttached"] = "A document's metadata (name, media type, size) was attached to a ticket (ticket set, in the ticket's stream) or to a company (ticket empty, in the document's own stream); company is the company it belongs to."
}
