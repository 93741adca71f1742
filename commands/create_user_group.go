package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// CreateUserGroup creates a user group.
type CreateUserGroup struct {
	Name        string               `json:"name"`
	SupportUser bool                 `json:"support_user"`
	Permissions domain.PermissionSet `json:"permissions"`
}

// CreateUserGroupHandler runs CreateUserGroup.
type CreateUserGroupHandler struct{ Directories *Directories }

// Handle runs the command.
func (h CreateUserGroupHandler) Handle(ctx context.Context, m Meta, in CreateUserGroup) (Result, error) {
	m = m.Prepare("CreateUserGroup")
	id := m.NewID("group")
	return h.Directories.Execute(ctx, m, domain.CreateUserGroup{Group: domain.GroupID(id), Name: in.Name,
		SupportUser: in.SupportUser, Permissions: in.Permissions}, map[string]string{"group_id": id})
}
