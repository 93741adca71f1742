package domain

import (
	"errors"
	"fmt"
)

// ErrorKind classifies a refusal so that every adapter maps it the same way (HTTP status,
// CLI exit code) without knowing each rule.
type ErrorKind int

// The kinds of refusal.
const (
	// KindInvalid: the command itself is malformed (a missing name, an unknown role).
	KindInvalid ErrorKind = iota + 1
	// KindNotFound: the target does not exist — or the actor may not know that it exists.
	KindNotFound
	// KindForbidden: the actor knows the target but lacks the right.
	KindForbidden
	// KindConflict: the target exists already or is in a state that excludes the command.
	KindConflict
	// KindRule: a business invariant refuses it (no free seat, a basic user needs one site).
	KindRule
)

// Error is a typed domain refusal. Code is stable (it becomes the problem type URI);
// Field names the offending input when there is one.
type Error struct {
	Kind    ErrorKind
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (field %s)", e.Code, e.Message, e.Field)
	}
	return e.Code + ": " + e.Message
}

// Is lets errors.Is match on the code: errors.Is(err, domain.ErrNoFreeSeat).
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code
}

func newErr(kind ErrorKind, code, msg string) *Error {
	return &Error{Kind: kind, Code: code, Message: msg}
}

// Sentinel refusals. Wrap with detail through the helpers below; match with errors.Is.
var (
	ErrInvalid            = newErr(KindInvalid, "invalid-command", "the command is malformed")
	ErrNotFound           = newErr(KindNotFound, "not-found", "no such resource")
	ErrForbidden          = newErr(KindForbidden, "forbidden", "the acting principal lacks the right")
	ErrAlreadyExists      = newErr(KindConflict, "already-exists", "the resource exists already")
	ErrTenantNotFound     = newErr(KindNotFound, "tenant-not-found", "no such tenant")
	ErrNoFreeSeat         = newErr(KindRule, "no-free-seat", "the tenant has no free seat for another normal user")
	ErrEmailTaken         = newErr(KindConflict, "email-taken", "the e-mail address is already used in this tenant")
	ErrMasterAdminExists  = newErr(KindConflict, "master-admin-exists", "the company already has a master admin")
	ErrLastMasterAdmin    = newErr(KindRule, "master-admin-required", "the company's master admin cannot be removed; transfer the role first")
	ErrSiteRequired       = newErr(KindRule, "site-required", "this role needs sites of the company")
	ErrWrongState         = newErr(KindConflict, "wrong-state", "the resource is not in a state that allows this")
	ErrInvitationInvalid  = newErr(KindNotFound, "invitation-invalid", "the invitation does not exist, was revoked, expired or was used")
	ErrContactCannotLogIn = newErr(KindRule, "contact-cannot-log-in", "contacts never log in")
	ErrSeatsBelowUsage    = newErr(KindRule, "seats-below-usage", "the seat count is below the normal users the tenant has")
	ErrCycle              = newErr(KindRule, "parent-cycle", "a company cannot be its own ancestor")
	ErrStatusNotAllowed   = newErr(KindRule, "status-not-allowed", "the status is not allowed for this user")
	ErrTypeNotAllowed     = newErr(KindRule, "ticket-type-not-allowed", "the ticket type is not allowed for this user")
)

// refuse returns a copy of a sentinel with a specific message (and keeps its code and kind).
func refuse(base *Error, format string, args ...any) *Error {
	return &Error{Kind: base.Kind, Code: base.Code, Message: fmt.Sprintf(format, args...)}
}

// invalid reports a malformed field.
func invalid(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: ErrInvalid.Code, Message: fmt.Sprintf(format, args...), Field: field}
}

// notFound reports a missing resource of a kind ("company", "person") by id.
func notFound(kind, id string) *Error {
	return &Error{Kind: KindNotFound, Code: ErrNotFound.Code, Message: fmt.Sprintf("no %s %q", kind, id)}
}

// forbidden reports a missing right.
func forbidden(format string, args ...any) *Error { return refuse(ErrForbidden, format, args...) }
