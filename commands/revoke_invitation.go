package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// RevokeInvitation withdraws a pending invitation; the invited user is removed.
type RevokeInvitation struct {
	Person string `json:"-" path:"person_id"`
}

// RevokeInvitationHandler runs RevokeInvitation.
type RevokeInvitationHandler struct{ Directories *Directories }

// Handle runs the command.
func (h RevokeInvitationHandler) Handle(ctx context.Context, m Meta, in RevokeInvitation) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.RevokeInvitation{Person: domain.PersonID(in.Person)}, nil)
}
