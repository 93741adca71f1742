package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// AssignManagedSites replaces a manager's sites in a company.
type AssignManagedSites struct {
	Person  string   `json:"-" path:"person_id"`
	Company string   `json:"-" path:"company_id"`
	Sites   []string `json:"sites"`
}

// AssignManagedSitesHandler runs AssignManagedSites.
type AssignManagedSitesHandler struct{ Directories *Directories }

// Handle runs the command.
func (h AssignManagedSitesHandler) Handle(ctx context.Context, m Meta, in AssignManagedSites) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.AssignManagedSites{Person: domain.PersonID(in.Person), Company: domain.CompanyID(in.Company),
		Sites: siteIDs(in.Sites)}, nil)
}
