package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// CommentOnTicket adds a comment to a ticket.
type CommentOnTicket struct {
	Ticket string `json:"-" path:"ticket_id"`
	Body   string `json:"body"`
}

// CommentOnTicketHandler runs CommentOnTicket.
type CommentOnTicketHandler struct {
	Directories *Directories
	Tickets     *Tickets
}

// Handle runs the command.
func (h CommentOnTicketHandler) Handle(ctx context.Context, m Meta, in CommentOnTicket) (Result, error) {
	m = m.Prepare("CommentOnTicket")
	id, comment := domain.TicketID(in.Ticket), m.NewID("comment")
	return h.Tickets.ExecuteTicket(ctx, h.Directories, m, id,
		domain.CommentOnTicket{Ticket: id, Comment: comment, Body: in.Body},
		map[string]string{"ticket_id": in.Ticket, "comment_id": comment})
}
