package commands

import (
	"context"
	"time"

	"github.com/portal-access/backend/domain"
)

// AddTechnician invites a technician (a support user) of a guest contractor.
type AddTechnician struct {
	Company string `json:"-" path:"company_id"`
	Name    string `json:"name"`
	Email   string `json:"email"`
	// ExpiresInHours overrides the default validity of 7 days.
	ExpiresInHours int `json:"expires_in_hours,omitempty"`
}

// AddTechnicianHandler runs AddTechnician. The result carries the invitation token: it is shown
// once (to be sent to the technician) and only its hash is stored. An idempotent retry answers
// the first result without a token (the first token stays the valid one; resend the invitation
// if it was lost).
type AddTechnicianHandler struct{ Directories *Directories }

// Handle runs the command.
func (h AddTechnicianHandler) Handle(ctx context.Context, m Meta, in AddTechnician) (Result, error) {
	m = m.Prepare("AddTechnician")
	if in.ExpiresInHours < 0 || in.ExpiresInHours > 24*90 {
		return Result{}, &domain.Error{Kind: domain.KindInvalid, Code: domain.ErrInvalid.Code, Field: "expires_in_hours", Message: "between 1 and 2160 hours"}
	}
	token, hash, err := NewInvitationToken()
	if err != nil {
		return Result{}, err
	}
	id := m.NewID("person")
	r, err := h.Directories.Execute(ctx, m, domain.AddTechnician{
		Person: domain.PersonID(id), Company: domain.CompanyID(in.Company), Name: in.Name, Email: in.Email,
		TokenHash: hash, Now: m.Now, TTL: time.Duration(in.ExpiresInHours) * time.Hour,
	}, map[string]string{"person_id": id, "invitation_token": token})
	if err == nil && r.Replayed {
		r.IDs = map[string]string{"person_id": id}
	}
	return r, err
}
