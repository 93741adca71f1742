package commands

import (
	"context"
	"time"

	"github.com/portal-access/backend/domain"
)

// ResendInvitation issues a new invitation token with a new expiry; the old token stops working.
type ResendInvitation struct {
	Person string `json:"-" path:"person_id"`
	// ExpiresInHours overrides the default validity of 7 days.
	ExpiresInHours int `json:"expires_in_hours,omitempty"`
}

// ResendInvitationHandler runs ResendInvitation. The result carries the new token, shown once;
// an idempotent retry answers the first result without a token (resend again if it was lost).
type ResendInvitationHandler struct{ Directories *Directories }

// Handle runs the command.
func (h ResendInvitationHandler) Handle(ctx context.Context, m Meta, in ResendInvitation) (Result, error) {
	m = m.Prepare("ResendInvitation")
	ttl, err := invitationTTL(in.ExpiresInHours)
	if err != nil {
		return Result{}, err
	}
	token, hash, err := NewInvitationToken()
	if err != nil {
		return Result{}, err
	}
	r, err := h.Directories.Execute(ctx, m, domain.ResendInvitation{Person: domain.PersonID(in.Person), TokenHash: hash, Now: m.Now, TTL: ttl},
		map[string]string{"person_id": in.Person, "invitation_token": token})
	if err == nil && r.Replayed {
		r.IDs = map[string]string{"person_id": in.Person}
	}
	return r, err
}

// invitationTTL validates an invitation's requested validity (0: the default of 7 days).
func invitationTTL(hours int) (time.Duration, error) {
	if hours < 0 || hours > 24*90 {
		return 0, &domain.Error{Kind: domain.KindInvalid, Code: domain.ErrInvalid.Code, Field: "expires_in_hours", Message: "between 1 and 2160 hours"}
	}
	return time.Duration(hours) * time.Hour, nil
}
