package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// ConfigureTenant changes the tenant's name and seat count.
type ConfigureTenant struct {
	Name  string `json:"name"`
	Seats int    `json:"seats"`
}

// ConfigureTenantHandler runs ConfigureTenant.
type ConfigureTenantHandler struct{ Directories *Directories }

// Handle runs the command.
func (h ConfigureTenantHandler) Handle(ctx context.Context, m Meta, in ConfigureTenant) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.ConfigureTenant{Name: in.Name, Seats: in.Seats}, nil)
}
