package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// MoveUserToGroup moves a user into a group (an empty group: out of any).
type MoveUserToGroup struct {
	Person string `json:"-" path:"person_id"`
	Group  string `json:"group"`
}

// MoveUserToGroupHandler runs MoveUserToGroup.
type MoveUserToGroupHandler struct{ Directories *Directories }

// Handle runs the command.
func (h MoveUserToGroupHandler) Handle(ctx context.Context, m Meta, in MoveUserToGroup) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.MoveUserToGroup{Person: domain.PersonID(in.Person), Group: domain.GroupID(in.Group)}, nil)
}
