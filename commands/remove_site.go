package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// RemoveSite removes a company's site.
type RemoveSite struct {
	Company string `json:"-" path:"company_id"`
	Site    string `json:"-" path:"site_id"`
}

// RemoveSiteHandler runs RemoveSite.
type RemoveSiteHandler struct{ Directories *Directories }

// Handle runs the command.
func (h RemoveSiteHandler) Handle(ctx context.Context, m Meta, in RemoveSite) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.RemoveSite{Company: domain.CompanyID(in.Company), Site: domain.SiteID(in.Site)}, nil)
}
