package commands

import (
	"context"
	"time"

	"github.com/portal-access/backend/domain"
)

// InviteUser invites a normal user (group without the support-user flag) or a support user
// (with a membership of its home company).
type InviteUser struct {
	Name        string               `json:"name"`
	Email       string               `json:"email"`
	HomeCompany string               `json:"home_company"`
	Group       string               `json:"group,omitempty"`
	Role        string               `json:"role,omitempty"`
	Permissions domain.PermissionSet `json:"permissions"`
	Sites       []string             `json:"sites,omitempty"`
	// ExpiresInHours overrides the default validity of 7 days.
	ExpiresInHours int `json:"expires_in_hours,omitempty"`
}

// InviteUserHandler runs InviteUser. The result carries the invitation token: it is shown
// once (to be sent to the invitee) and only its hash is stored.
type InviteUserHandler struct{ Directories *Directories }

// Handle runs the command.
func (h InviteUserHandler) Handle(ctx context.Context, m Meta, in InviteUser) (Result, error) {
	m = m.Prepare("InviteUser")
	token, hash, err := NewInvitationToken()
	if err != nil {
		return Result{}, err
	}
	if in.ExpiresInHours < 0 || in.ExpiresInHours > 24*90 {
		return Result{}, &domain.Error{Kind: domain.KindInvalid, Code: domain.ErrInvalid.Code, Field: "expires_in_hours", Message: "between 1 and 2160 hours"}
	}
	id := m.NewID("person")
	return h.Directories.Execute(ctx, m, domain.InviteUser{
		Person: domain.PersonID(id), Name: in.Name, Email: in.Email, HomeCompany: domain.CompanyID(in.HomeCompany),
		Group: domain.GroupID(in.Group), Role: domain.Role(in.Role), Permissions: in.Permissions, Sites: siteIDs(in.Sites),
		TokenHash: hash, Now: m.Now, TTL: time.Duration(in.ExpiresInHours) * time.Hour,
	}, map[string]string{"person_id": id, "invitation_token": token})
}

func siteIDs(in []string) []domain.SiteID {
	out := make([]domain.SiteID, len(in))
	for i, s := range in {
		out[i] = domain.SiteID(s)
	}
	return out
}
