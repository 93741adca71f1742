package httpapi

import "github.com/gin-gonic/gin"

func (a *API) routesPeople(v1 *gin.RouterGroup) {
	h := a.h.People

	// Contacts.
	v1.POST("/contacts", route(a, h.AddContact, true))
	v1.POST("/contacts/:person_id/promote", route(a, h.PromoteContactToUser, false))
	v1.PUT("/people/:person_id/notification-preferences", route(a, h.UpdateNotificationPreferences, false))
	v1.POST("/people/:person_id/demote", route(a, h.DemoteUserToContact, false))

	// Invitations.
	v1.POST("/invitations", route(a, h.InviteUser, true))
	v1.POST("/invitations/accept", route(a, h.AcceptInvitation, false, unbound()))
	v1.POST("/invitations/:person_id/resend", route(a, h.ResendInvitation, false))
	v1.POST("/invitations/:person_id/expire", route(a, h.ExpireInvitation, false))
	v1.DELETE("/invitations/:person_id", route(a, h.RevokeInvitation, false))

	// Memberships, roles and site rights.
	v1.POST("/people/:person_id/memberships", route(a, h.GrantMembership, true))
	v1.PUT("/people/:person_id/memberships/:company_id/role", route(a, h.ChangeRole, false))
	v1.PUT("/people/:person_id/memberships/:company_id/managed-sites", route(a, h.AssignManagedSites, false))
	v1.DELETE("/people/:person_id/memberships/:company_id", route(a, h.RevokeMembership, false))
	v1.POST("/companies/:company_id/master-admin/transfer", route(a, h.TransferMasterAdmin, false))
	v1.PUT("/people/:person_id/site-permissions", route(a, h.SetSitePermissions, false))
	v1.PUT("/people/:person_id/ticket-restrictions", route(a, h.SetTicketRestrictions, false))
	v1.PUT("/people/:person_id/mfa", route(a, h.RequireMFA, false))

	// Lifecycle.
	v1.POST("/people/:person_id/suspend", route(a, h.SuspendUser, false))
	v1.POST("/people/:person_id/reactivate", route(a, h.ReactivateUser, false))
	v1.DELETE("/people/:person_id", route(a, h.RemoveUser, false))
}
