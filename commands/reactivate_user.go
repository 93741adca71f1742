package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// ReactivateUser lets a suspended user log in again.
type ReactivateUser struct {
	Person string `json:"-" path:"person_id"`
}

// ReactivateUserHandler runs ReactivateUser.
type ReactivateUserHandler struct{ Directories *Directories }

// Handle runs the command.
func (h ReactivateUserHandler) Handle(ctx context.Context, m Meta, in ReactivateUser) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.ReactivateUser{Person: domain.PersonID(in.Person)}, nil)
}
