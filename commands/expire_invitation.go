package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// ExpireInvitation records that an invitation ran out unused (the expiry timer's command).
type ExpireInvitation struct {
	Person string `json:"-" path:"person_id"`
}

// ExpireInvitationHandler runs ExpireInvitation, judged at the command's time (Meta.Now).
type ExpireInvitationHandler struct{ Directories *Directories }

// Handle runs the command.
func (h ExpireInvitationHandler) Handle(ctx context.Context, m Meta, in ExpireInvitation) (Result, error) {
	m = m.Prepare("ExpireInvitation")
	return h.Directories.Execute(ctx, m, domain.ExpireInvitation{Person: domain.PersonID(in.Person), Now: m.Now}, nil)
}
