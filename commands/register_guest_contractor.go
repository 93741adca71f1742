package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// RegisterGuestContractor registers a guest contractor (a company of kind contractor) on behalf
// of a customer company.
type RegisterGuestContractor struct {
	Name         string `json:"name"`
	RegisteredBy string `json:"registered_by"`
}

// RegisterGuestContractorHandler runs RegisterGuestContractor.
type RegisterGuestContractorHandler struct{ Directories *Directories }

// Handle runs the command.
func (h RegisterGuestContractorHandler) Handle(ctx context.Context, m Meta, in RegisterGuestContractor) (Result, error) {
	m = m.Prepare("RegisterGuestContractor")
	id := m.NewID("company")
	return h.Directories.Execute(ctx, m, domain.RegisterGuestContractor{Company: domain.CompanyID(id), Name: in.Name,
		RegisteredBy: domain.CompanyID(in.RegisteredBy)}, map[string]string{"company_id": id})
}
