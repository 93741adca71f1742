package httpapi

import (
	"net/http"

	"github.com/portal-access/backend/commands"
)

const tagPeople = "people"

func peopleRoutes() []routeDef {
	type H = *commands.Handlers
	return []routeDef{
		// Contacts.
		command(http.MethodPost, "/contacts", tagPeople, "add a contact (a person without login) to a company",
			func(h H) commands.Handler[commands.AddContact] { return h.People.AddContact }, true),
		command(http.MethodPost, "/contacts/:person_id/promote", tagPeople, "promote a contact to a user: same person, an invitation is sent",
			func(h H) commands.Handler[commands.PromoteContactToUser] { return h.People.PromoteContactToUser }, false),
		command(http.MethodPut, "/people/:person_id/notification-preferences", tagPeople, "set a person's notification preferences",
			func(h H) commands.Handler[commands.UpdateNotificationPreferences] {
				return h.People.UpdateNotificationPreferences
			}, false),
		command(http.MethodPost, "/people/:person_id/demote", tagPeople, "demote a user to a contact: its login and visibility are removed at once",
			func(h H) commands.Handler[commands.DemoteUserToContact] { return h.People.DemoteUserToContact }, false),

		// Invitations.
		command(http.MethodPost, "/invitations", tagPeople, "invite a user (a normal user takes a seat); the result's ids carry the invitation token",
			func(h H) commands.Handler[commands.InviteUser] { return h.People.InviteUser }, true),
		command(http.MethodPost, "/invitations/accept", tagPeople, "accept an invitation: binds the caller's identity (a token whose subject is not yet bound) to the invited user",
			func(h H) commands.Handler[commands.AcceptInvitation] { return h.People.AcceptInvitation }, false, unbound()),
		command(http.MethodPost, "/invitations/:person_id/resend", tagPeople, "resend an invitation with a new token and validity",
			func(h H) commands.Handler[commands.ResendInvitation] { return h.People.ResendInvitation }, false),
		command(http.MethodPost, "/invitations/:person_id/expire", tagPeople, "expire a pending invitation",
			func(h H) commands.Handler[commands.ExpireInvitation] { return h.People.ExpireInvitation }, false),
		command(http.MethodDelete, "/invitations/:person_id", tagPeople, "revoke a pending invitation",
			func(h H) commands.Handler[commands.RevokeInvitation] { return h.People.RevokeInvitation }, false),

		// Memberships, roles and site rights.
		command(http.MethodPost, "/people/:person_id/memberships", tagPeople, "make a user a member of another company, with a role",
			func(h H) commands.Handler[commands.GrantMembership] { return h.People.GrantMembership }, true),
		command(http.MethodPut, "/people/:person_id/memberships/:company_id/role", tagPeople, "change a user's role in a company",
			func(h H) commands.Handler[commands.ChangeRole] { return h.People.ChangeRole }, false),
		command(http.MethodPut, "/people/:person_id/memberships/:company_id/managed-sites", tagPeople, "set the sites a site manager manages in a company",
			func(h H) commands.Handler[commands.AssignManagedSites] { return h.People.AssignManagedSites }, false),
		command(http.MethodDelete, "/people/:person_id/memberships/:company_id", tagPeople, "end a user's membership of a company",
			func(h H) commands.Handler[commands.RevokeMembership] { return h.People.RevokeMembership }, false),
		command(http.MethodPost, "/companies/:company_id/master-admin/transfer", tagPeople, "transfer a company's master admin role to another of its admins",
			func(h H) commands.Handler[commands.TransferMasterAdmin] { return h.People.TransferMasterAdmin }, false),
		command(http.MethodPut, "/people/:person_id/site-permissions", tagPeople, "set an external user's read sites, write sites and responsible recipients",
			func(h H) commands.Handler[commands.SetSitePermissions] { return h.People.SetSitePermissions }, false),
		command(http.MethodPut, "/people/:person_id/ticket-restrictions", tagPeople, "set the ticket types an external user may open and, when restricted, the statuses it may set",
			func(h H) commands.Handler[commands.SetTicketRestrictions] { return h.People.SetTicketRestrictions }, false),
		command(http.MethodPut, "/people/:person_id/mfa", tagPeople, "require (or stop requiring) multi-factor authentication of a user",
			func(h H) commands.Handler[commands.RequireMFA] { return h.People.RequireMFA }, false),

		// Lifecycle.
		command(http.MethodPost, "/people/:person_id/suspend", tagPeople, "suspend a user (effective on every read at once)",
			func(h H) commands.Handler[commands.SuspendUser] { return h.People.SuspendUser }, false),
		command(http.MethodPost, "/people/:person_id/reactivate", tagPeople, "reactivate a suspended user",
			func(h H) commands.Handler[commands.ReactivateUser] { return h.People.ReactivateUser }, false),
		command(http.MethodDelete, "/people/:person_id", tagPeople, "remove a user (effective on every read at once)",
			func(h H) commands.Handler[commands.RemoveUser] { return h.People.RemoveUser }, false),
	}
}
