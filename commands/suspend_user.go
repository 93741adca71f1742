package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// SuspendUser stops an active user from logging in or seeing anything, until reactivated.
type SuspendUser struct {
	Person string `json:"-" path:"person_id"`
}

// SuspendUserHandler runs SuspendUser.
type SuspendUserHandler struct{ Directories *Directories }

// Handle runs the command.
func (h SuspendUserHandler) Handle(ctx context.Context, m Meta, in SuspendUser) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.SuspendUser{Person: domain.PersonID(in.Person)}, nil)
}
