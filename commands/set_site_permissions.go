package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// SetSitePermissions replaces a support user's read and write sites and responsible recipients.
type SetSitePermissions struct {
	Person      string   `json:"-" path:"person_id"`
	ReadSites   []string `json:"read_sites"`
	WriteSites  []string `json:"write_sites"`
	Responsible []string `json:"responsible"`
}

// SetSitePermissionsHandler runs SetSitePermissions.
type SetSitePermissionsHandler struct{ Directories *Directories }

// Handle runs the command.
func (h SetSitePermissionsHandler) Handle(ctx context.Context, m Meta, in SetSitePermissions) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.SetSitePermissions{Person: domain.PersonID(in.Person), ReadSites: siteIDs(in.ReadSites),
		WriteSites: siteIDs(in.WriteSites), Responsible: in.Responsible}, nil)
}
