package commands

import "log/slog"

// PeopleHandlers: contacts, invitations, lifecycle, memberships, roles and site rights.
type PeopleHandlers struct {
	// Contacts and promotion/demotion.
	AddContact                    Handler[AddContact]
	UpdateNotificationPreferences Handler[UpdateNotificationPreferences]
	PromoteContactToUser          Handler[PromoteContactToUser]
	DemoteUserToContact           Handler[DemoteUserToContact]
	// Invitations.
	InviteUser       Handler[InviteUser]
	AcceptInvitation Handler[AcceptInvitation]
	ResendInvitation Handler[ResendInvitation]
	RevokeInvitation Handler[RevokeInvitation]
	ExpireInvitation Handler[ExpireInvitation]
	// Memberships, roles and site rights.
	GrantMembership       Handler[GrantMembership]
	ChangeRole            Handler[ChangeRole]
	RevokeMembership      Handler[RevokeMembership]
	TransferMasterAdmin   Handler[TransferMasterAdmin]
	AssignManagedSites    Handler[AssignManagedSites]
	SetSitePermissions    Handler[SetSitePermissions]
	SetTicketRestrictions Handler[SetTicketRestrictions]
	RequireMFA            Handler[RequireMFA]
	// Lifecycle.
	SuspendUser    Handler[SuspendUser]
	ReactivateUser Handler[ReactivateUser]
	RemoveUser     Handler[RemoveUser]
}

func newPeopleHandlers(dirs *Directories, logger *slog.Logger) PeopleHandlers {
	return PeopleHandlers{
		AddContact:                    Decorate("AddContact", logger, Handler[AddContact](AddContactHandler{dirs})),
		UpdateNotificationPreferences: Decorate("UpdateNotificationPreferences", logger, Handler[UpdateNotificationPreferences](UpdateNotificationPreferencesHandler{dirs})),
		PromoteContactToUser:          Decorate("PromoteContactToUser", logger, Handler[PromoteContactToUser](PromoteContactToUserHandler{dirs})),
		DemoteUserToContact:           Decorate("DemoteUserToContact", logger, Handler[DemoteUserToContact](DemoteUserToContactHandler{dirs})),

		InviteUser:       Decorate("InviteUser", logger, Handler[InviteUser](InviteUserHandler{dirs})),
		AcceptInvitation: Decorate("AcceptInvitation", logger, Handler[AcceptInvitation](AcceptInvitationHandler{dirs})),
		ResendInvitation: Decorate("ResendInvitation", logger, Handler[ResendInvitation](ResendInvitationHandler{dirs})),
		RevokeInvitation: Decorate("RevokeInvitation", logger, Handler[RevokeInvitation](RevokeInvitationHandler{dirs})),
		ExpireInvitation: Decorate("ExpireInvitation", logger, Handler[ExpireInvitation](ExpireInvitationHandler{dirs})),

		GrantMembership:       Decorate("GrantMembership", logger, Handler[GrantMembership](GrantMembershipHandler{dirs})),
		ChangeRole:            Decorate("ChangeRole", logger, Handler[ChangeRole](ChangeRoleHandler{dirs})),
		RevokeMembership:      Decorate("RevokeMembership", logger, Handler[RevokeMembership](RevokeMembershipHandler{dirs})),
		TransferMasterAdmin:   Decorate("TransferMasterAdmin", logger, Handler[TransferMasterAdmin](TransferMasterAdminHandler{dirs})),
		AssignManagedSites:    Decorate("AssignManagedSites", logger, Handler[AssignManagedSites](AssignManagedSitesHandler{dirs})),
		SetSitePermissions:    Decorate("SetSitePermissions", logger, Handler[SetSitePermissions](SetSitePermissionsHandler{dirs})),
		SetTicketRestrictions: Decorate("SetTicketRestrictions", logger, Handler[SetTicketRestrictions](SetTicketRestrictionsHandler{dirs})),
		RequireMFA:            Decorate("RequireMFA", logger, Handler[RequireMFA](RequireMFAHandler{dirs})),

		SuspendUser:    Decorate("SuspendUser", logger, Handler[SuspendUser](SuspendUserHandler{dirs})),
		ReactivateUser: Decorate("ReactivateUser", logger, Handler[ReactivateUser](ReactivateUserHandler{dirs})),
		RemoveUser:     Decorate("RemoveUser", logger, Handler[RemoveUser](RemoveUserHandler{dirs})),
	}
}
