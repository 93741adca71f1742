package eventschema

import (
	"fmt"
	"sync"

	"github.com/portal-access/backend/domain"
)

// eventDocs say, for integrators, what each event means. Every domain event must have one.
var eventDocs = map[string]string{
	"TenantConfigured":               "A tenant was created or its name or seat count changed.",
	"CompanyRegistered":              "A company (customer, partner, contractor, provider) joined the tenant; registered_by names the customer that registered a guest contractor.",
	"CompanyRenamed":                 "A company's name changed.",
	"ParentCompanySet":               "A company became a daughter of parent (or independent when parent is empty).",
	"SiteAdded":                      "A company gained an address or job site.",
	"SiteRemoved":                    "A site was removed; every read/write/managed right on it ended with it.",
	"UserGroupCreated":               "A user group was created; support_user decides whether its members are support users (fixed for life).",
	"GroupPermissionsSet":            "A user group's permission set was replaced.",
	"UserMovedToGroup":               "A user changed group; class is the licence class it has after the move.",
	"ContactAdded":                   "A contact (never logs in, only receives notifications) was added.",
	"NotificationPreferencesUpdated": "The notification categories a person receives were replaced.",
	"ContactPromotedToUser":          "A contact became an invited user (same person id; history and preferences kept).",
	"UserDemotedToContact":           "A user became a contact: login, memberships, site rights and company access ended at once.",
	"UserInvited":                    "A user was invited; a normal user holds a seat from now on. Only the token's hash is stored.",
	"InvitationResent":               "A new invitation token replaced the previous one, with a new expiry.",
	"InvitationRevoked":              "An invitation was withdrawn; the invited user is removed and its seat freed.",
	"InvitationExpired":              "An invitation ran out unused; the invited user is removed and its seat freed.",
	"InvitationAccepted":             "The invited user bound its external identity (OIDC sub) and became active.",
	"MembershipGranted":              "A user gained a portal role in a company, with a permission set and (manager/basic) sites.",
	"RoleChanged":                    "A membership's role (and sites, for managers and basic users) changed.",
	"MembershipRevoked":              "A user lost its role in a company.",
	"MasterAdminTransferred":         "The company's master admin role moved from one user to another; the former holder became an admin.",
	"ManagedSitesAssigned":           "A manager's sites were replaced.",
	"SitePermissionsSet":             "An external user's read and write sites and responsible recipients were replaced.",
	"TicketRestrictionsSet":          "The ticket types a user may open and, when restricted, the ticket statuses it may set were replaced.",
	"CompanyAccessGranted":           "A target company joined the company-access list of a user, group or company (creating the setting).",
	"CompanyAccessRevoked":           "A target company left a company-access list; the setting stays, possibly empty (revoking never widens access).",
	"CompanyAccessCleared":           "A level's company-access setting was removed; the next level decides again.",
	"MFARequired":                    "The portal must (or no longer must) require a second factor for the user.",
	"UserSuspended":                  "The user can no longer log in or see anything until reactivated.",
	"UserReactivated":                "A suspended user is active again.",
	"UserRemoved":                    "The user is gone for good: seat and e-mail freed, history kept.",
	"TechnicianAdded":                "A technician (support user of a guest contractor) was invited.",
}

var (
	portalOnce sync.Once
	portal     *Registry
	portalErr  error
)

// Portal is the registry of every event the service writes, at its current version.
func Portal() (*Registry, error) {
	portalOnce.Do(func() {
		r := NewRegistry()
		for _, e := range domain.AllEvents() {
			doc, ok := eventDocs[e.EventType()]
			if !ok {
				portalErr = fmt.Errorf("eventschema: event %s has no doc", e.EventType())
				return
			}
			if err := r.Register(e.EventType(), 1, e, doc); err != nil {
				portalErr = err
				return
			}
		}
		portal = r
	})
	return portal, portalErr
}

// MustPortal is Portal for program start, where a broken registry is a programming error.
func MustPortal() *Registry {
	r, err := Portal()
	if err != nil {
		panic(err)
	}
	return r
}
