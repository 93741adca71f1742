package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// SetGroupPermissions replaces a group's permission set.
type SetGroupPermissions struct {
	Group       string               `json:"-" path:"group_id"`
	Permissions domain.PermissionSet `json:"permissions"`
}

// SetGroupPermissionsHandler runs SetGroupPermissions.
type SetGroupPermissionsHandler struct{ Directories *Directories }

// Handle runs the command.
func (h SetGroupPermissionsHandler) Handle(ctx context.Context, m Meta, in SetGroupPermissions) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.SetGroupPermissions{Group: domain.GroupID(in.Group), Permissions: in.Permissions}, nil)
}
