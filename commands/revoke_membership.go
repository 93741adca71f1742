package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// RevokeMembership takes a user's role in a company away.
type RevokeMembership struct {
	Person  string `json:"-" path:"person_id"`
	Company string `json:"-" path:"company_id"`
}

// RevokeMembershipHandler runs RevokeMembership.
type RevokeMembershipHandler struct{ Directories *Directories }

// Handle runs the command.
func (h RevokeMembershipHandler) Handle(ctx context.Context, m Meta, in RevokeMembership) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.RevokeMembership{Person: domain.PersonID(in.Person), Company: domain.CompanyID(in.Company)}, nil)
}
