package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// DemoteUserToContact turns a user back into a contact: login and visibility end at once.
type DemoteUserToContact struct {
	Person string `json:"-" path:"person_id"`
}

// DemoteUserToContactHandler runs DemoteUserToContact.
type DemoteUserToContactHandler struct{ Directories *Directories }

// Handle runs the command.
func (h DemoteUserToContactHandler) Handle(ctx context.Context, m Meta, in DemoteUserToContact) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.DemoteUserToContact{Person: domain.PersonID(in.Person)}, nil)
}
