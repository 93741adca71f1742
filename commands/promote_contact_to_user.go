package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// PromoteContactToUser turns a contact into an invited user (same person id).
type PromoteContactToUser struct {
	Person      string               `json:"-" path:"person_id"`
	Group       string               `json:"group,omitempty"`
	Role        string               `json:"role,omitempty"`
	Permissions domain.PermissionSet `json:"permissions"`
	Sites       []string             `json:"sites,omitempty"`
	// ExpiresInHours overrides the default validity of 7 days.
	ExpiresInHours int `json:"expires_in_hours,omitempty"`
}

// PromoteContactToUserHandler runs PromoteContactToUser. Like InviteUser, the result carries
// the invitation token, shown once; only its hash is stored. An idempotent retry answers the
// first result without a token (the first token stays the valid one; resend if it was lost).
type PromoteContactToUserHandler struct{ Directories *Directories }

// Handle runs the command.
func (h PromoteContactToUserHandler) Handle(ctx context.Context, m Meta, in PromoteContactToUser) (Result, error) {
	m = m.Prepare("PromoteContactToUser")
	ttl, err := invitationTTL(in.ExpiresInHours)
	if err != nil {
		return Result{}, err
	}
	token, hash, err := NewInvitationToken()
	if err != nil {
		return Result{}, err
	}
	r, err := h.Directories.Execute(ctx, m, domain.PromoteContactToUser{
		Person: domain.PersonID(in.Person), Group: domain.GroupID(in.Group), Role: domain.Role(in.Role),
		Permissions: in.Permissions, Sites: siteIDs(in.Sites), TokenHash: hash, Now: m.Now, TTL: ttl,
	}, map[string]string{"person_id": in.Person, "invitation_token": token})
	if err == nil && r.Replayed {
		r.IDs = map[string]string{"person_id": in.Person}
	}
	return r, err
}
