package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// RemoveUser removes a user or a contact for good (seat and e-mail freed, history kept).
type RemoveUser struct {
	Person string `json:"-" path:"person_id"`
}

// RemoveUserHandler runs RemoveUser.
type RemoveUserHandler struct{ Directories *Directories }

// Handle runs the command.
func (h RemoveUserHandler) Handle(ctx context.Context, m Meta, in RemoveUser) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.RemoveUser{Person: domain.PersonID(in.Person)}, nil)
}
