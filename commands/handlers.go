package commands

import (
	"log/slog"
)

// Handlers are every command handler of the service, decorated, grouped by area.
type Handlers struct {
	Directory DirectoryHandlers
	People    PeopleHandlers
	Tickets   TicketHandlers
}

// DirectoryHandlers: tenant, companies, sites, groups and company access.
type DirectoryHandlers struct {
	CreateTenant        Handler[CreateTenant]
	ConfigureTenant     Handler[ConfigureTenant]
	RegisterCompany     Handler[RegisterCompany]
	RenameCompany       Handler[RenameCompany]
	SetParentCompany    Handler[SetParentCompany]
	AddSite             Handler[AddSite]
	RemoveSite          Handler[RemoveSite]
	CreateUserGroup     Handler[CreateUserGroup]
	SetGroupPermissions Handler[SetGroupPermissions]
	MoveUserToGroup     Handler[MoveUserToGroup]
	GrantCompanyAccess  Handler[GrantCompanyAccess]
	RevokeCompanyAccess Handler[RevokeCompanyAccess]
	ClearCompanyAccess  Handler[ClearCompanyAccess]
}

// NewHandlers wires every handler over the stores with the standard decorators.
func NewHandlers(dirs *Directories, tickets *Tickets, logger *slog.Logger) *Handlers {
	return &Handlers{
		Directory: DirectoryHandlers{
			CreateTenant:        Decorate("CreateTenant", logger, Handler[CreateTenant](CreateTenantHandler{dirs})),
			ConfigureTenant:     Decorate("ConfigureTenant", logger, Handler[ConfigureTenant](ConfigureTenantHandler{dirs})),
			RegisterCompany:     Decorate("RegisterCompany", logger, Handler[RegisterCompany](RegisterCompanyHandler{dirs})),
			RenameCompany:       Decorate("RenameCompany", logger, Handler[RenameCompany](RenameCompanyHandler{dirs})),
			SetParentCompany:    Decorate("SetParentCompany", logger, Handler[SetParentCompany](SetParentCompanyHandler{dirs})),
			AddSite:             Decorate("AddSite", logger, Handler[AddSite](AddSiteHandler{dirs})),
			RemoveSite:          Decorate("RemoveSite", logger, Handler[RemoveSite](RemoveSiteHandler{dirs})),
			CreateUserGroup:     Decorate("CreateUserGroup", logger, Handler[CreateUserGroup](CreateUserGroupHandler{dirs})),
			SetGroupPermissions: Decorate("SetGroupPermissions", logger, Handler[SetGroupPermissions](SetGroupPermissionsHandler{dirs})),
			MoveUserToGroup:     Decorate("MoveUserToGroup", logger, Handler[MoveUserToGroup](MoveUserToGroupHandler{dirs})),
			GrantCompanyAccess:  Decorate("GrantCompanyAccess", logger, Handler[GrantCompanyAccess](GrantCompanyAccessHandler{dirs})),
			RevokeCompanyAccess: Decorate("RevokeCompanyAccess", logger, Handler[RevokeCompanyAccess](RevokeCompanyAccessHandler{dirs})),
			ClearCompanyAccess:  Decorate("ClearCompanyAccess", logger, Handler[ClearCompanyAccess](ClearCompanyAccessHandler{dirs})),
		},
		People:  newPeopleHandlers(dirs, logger),
		Tickets: newTicketHandlers(dirs, tickets, logger),
	}
}
