package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// ClearCompanyAccess removes a level's access setting: the next level decides again.
type ClearCompanyAccess struct {
	Level  domain.AccessLevel `json:"-"`
	Holder string             `json:"-" path:"company_id|group_id|person_id"`
}

// ClearCompanyAccessHandler runs ClearCompanyAccess.
type ClearCompanyAccessHandler struct{ Directories *Directories }

// Handle runs the command.
func (h ClearCompanyAccessHandler) Handle(ctx context.Context, m Meta, in ClearCompanyAccess) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.ClearCompanyAccess{AccessHolder: domain.AccessHolder{Level: in.Level, Holder: in.Holder}}, nil)
}
