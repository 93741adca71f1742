package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// AcceptInvitation binds the caller's login (its token's subject) to the invited user.
type AcceptInvitation struct {
	Token string `json:"token"`
}

// AcceptInvitationHandler runs AcceptInvitation.
type AcceptInvitationHandler struct{ Directories *Directories }

// Handle runs the command.
func (h AcceptInvitationHandler) Handle(ctx context.Context, m Meta, in AcceptInvitation) (Result, error) {
	if in.Token == "" {
		return Result{}, &domain.Error{Kind: domain.KindInvalid, Code: domain.ErrInvalid.Code, Field: "token", Message: "required"}
	}
	m = m.Prepare("AcceptInvitation")
	return h.Directories.Execute(ctx, m, domain.AcceptInvitation{TokenHash: HashInvitationToken(in.Token), Subject: m.Subject, Now: m.Now}, nil)
}
