package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// AddSite adds an address or job site to a company.
type AddSite struct {
	Company string `json:"-" path:"company_id"`
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
}

// AddSiteHandler runs AddSite.
type AddSiteHandler struct{ Directories *Directories }

// Handle runs the command.
func (h AddSiteHandler) Handle(ctx context.Context, m Meta, in AddSite) (Result, error) {
	m = m.Prepare("AddSite")
	id := m.NewID("site")
	return h.Directories.Execute(ctx, m, domain.AddSite{Company: domain.CompanyID(in.Company), Site: domain.SiteID(id),
		Name: in.Name, Address: in.Address}, map[string]string{"site_id": id})
}
