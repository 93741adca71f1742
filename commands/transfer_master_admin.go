package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// TransferMasterAdmin hands a company's master admin role to another user.
type TransferMasterAdmin struct {
	Company string `json:"-" path:"company_id"`
	To      string `json:"to"`
}

// TransferMasterAdminHandler runs TransferMasterAdmin.
type TransferMasterAdminHandler struct{ Directories *Directories }

// Handle runs the command.
func (h TransferMasterAdminHandler) Handle(ctx context.Context, m Meta, in TransferMasterAdmin) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.TransferMasterAdmin{Company: domain.CompanyID(in.Company), To: domain.PersonID(in.To)}, nil)
}
