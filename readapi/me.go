package readapi

import (
	"errors"

	"github.com/gin-gonic/gin"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/projections/directory"
)

// Profile is what a viewer is: its directory record (class, memberships with their roles and
// effective permissions, site permissions), its group with the tenant-wide rights it grants,
// and the breadth of its visibility.
type Profile struct {
	directory.Person
	// UserGroup is the viewer's group (normal and support users).
	UserGroup *directory.Group `json:"user_group,omitempty"`
	// TenantPermissions are the tenant-wide rights the viewer holds: its group's effective
	// permissions when it is a normal user, none otherwise.
	TenantPermissions []domain.Permission `json:"tenant_permissions"`
	Scope             ScopeSummary        `json:"scope"`
}

// ScopeSummary says how wide the viewer's visibility is, without listing it.
type ScopeSummary struct {
	// AllCompanies: every company of the tenant (internal_unrestricted).
	AllCompanies bool `json:"all_companies"`
	// AllTickets: every ticket of the tenant (internal_unrestricted with tickets:read).
	AllTickets bool `json:"all_tickets"`
	// AllCompanyDocuments: every company's documents.
	AllCompanyDocuments bool `json:"all_company_documents"`
	// Companies, TicketCompanies and Sites count the scopes listed one by one.
	Companies       int `json:"companies"`
	TicketCompanies int `json:"ticket_companies"`
	Sites           int `json:"sites"`
}

func (a *API) getMe(c *gin.Context) {
	cl, s, ok := a.readAs(c)
	if !ok {
		return
	}
	ctx, dir := c.Request.Context(), directory.NewReader(a.rdb, cl.keys)
	p, err := dir.GetPerson(ctx, cl.tenant, s.Person)
	if errors.Is(err, directory.ErrNotFound) {
		err = errNotFound
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	out := Profile{Person: p, TenantPermissions: []domain.Permission{}, Scope: ScopeSummary{
		AllCompanies: s.AllCompanies, AllTickets: s.Unrestricted, AllCompanyDocuments: s.AllCompanyDocuments,
		Companies: len(s.VisibleCompanies), TicketCompanies: len(s.Companies), Sites: len(s.Sites)}}
	if p.Group != "" {
		g, err := dir.GetGroup(ctx, cl.tenant, p.Group)
		if err != nil && !errors.Is(err, directory.ErrNotFound) {
			a.fail(c, err)
			return
		}
		if err == nil {
			out.UserGroup = &g
			if p.Class == domain.ClassNormal {
				out.TenantPermissions = g.Effective
			}
		}
	}
	a.answer(c, out, nil)
}
