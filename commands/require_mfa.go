package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// RequireMFA makes the portal require (or stop requiring) a second factor for a user.
type RequireMFA struct {
	Person string `json:"-" path:"person_id"`
	// Required must be given: a missing flag is a malformed command, not "false".
	Required *bool `json:"required"`
}

// RequireMFAHandler runs RequireMFA.
type RequireMFAHandler struct{ Directories *Directories }

// Handle runs the command.
func (h RequireMFAHandler) Handle(ctx context.Context, m Meta, in RequireMFA) (Result, error) {
	if in.Required == nil {
		return Result{}, &domain.Error{Kind: domain.KindInvalid, Code: domain.ErrInvalid.Code, Field: "required", Message: "required (true or false)"}
	}
	return h.Directories.Execute(ctx, m, domain.RequireMFA{Person: domain.PersonID(in.Person), Required: *in.Required}, nil)
}
