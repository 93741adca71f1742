package commands

import "log/slog"

// PeopleHandlers: contacts, invitations, lifecycle, memberships, roles and site rights.
type PeopleHandlers struct {
	InviteUser       Handler[InviteUser]
	AcceptInvitation Handler[AcceptInvitation]
}

func newPeopleHandlers(dirs *Directories, logger *slog.Logger) PeopleHandlers {
	return PeopleHandlers{
		InviteUser:       Decorate("InviteUser", logger, Handler[InviteUser](InviteUserHandler{dirs})),
		AcceptInvitation: Decorate("AcceptInvitation", logger, Handler[AcceptInvitation](AcceptInvitationHandler{dirs})),
	}
}
