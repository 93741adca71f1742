package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// RevokeCompanyAccess removes a target from an access list; the (possibly empty) setting stays.
type RevokeCompanyAccess struct {
	Level  domain.AccessLevel `json:"-"`
	Holder string             `json:"-" path:"company_id|group_id|person_id"`
	Target string             `json:"-" path:"target_id"`
}

// RevokeCompanyAccessHandler runs RevokeCompanyAccess.
type RevokeCompanyAccessHandler struct{ Directories *Directories }

// Handle runs the command.
func (h RevokeCompanyAccessHandler) Handle(ctx context.Context, m Meta, in RevokeCompanyAccess) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.RevokeCompanyAccess{AccessHolder: domain.AccessHolder{Level: in.Level, Holder: in.Holder},
		Target: domain.CompanyID(in.Target)}, nil)
}
