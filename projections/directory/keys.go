package directory

import (
	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/projections"
)

// space builds one tenant's directory keys (see the package documentation for the layout).
type space struct{ base string }

func spaceOf(k projections.Keys, t domain.TenantID) space { return space{base: k.Tenant(t) + "dir:"} }

func (s space) tenant() string    { return s.base + "tenant" }
func (s space) companies() string { return s.base + "companies" }
func (s space) groups() string    { return s.base + "groups" }

func (s space) company(c domain.CompanyID) string       { return s.base + "co:" + string(c) }
func (s space) daughters(c domain.CompanyID) string     { return s.base + "co-daughters:" + string(c) }
func (s space) companySites(c domain.CompanyID) string  { return s.base + "co-sites:" + string(c) }
func (s space) companyPeople(c domain.CompanyID) string { return s.base + "co-people:" + string(c) }
func (s space) members(c domain.CompanyID) string       { return s.base + "co-members:" + string(c) }
func (s space) companyDocs(c domain.CompanyID) string   { return s.base + "co-docs:" + string(c) }

func (s space) site(id domain.SiteID) string      { return s.base + "site:" + string(id) }
func (s space) siteUsers(id domain.SiteID) string { return s.base + "site-users:" + string(id) }
func (s space) siteRefs(id domain.SiteID) string  { return s.base + "site-refs:" + string(id) }

func (s space) group(id domain.GroupID) string   { return s.base + "g:" + string(id) }
func (s space) person(id domain.PersonID) string { return s.base + "p:" + string(id) }

func (s space) ticket(id domain.TicketID) string     { return s.base + "t:" + string(id) }
func (s space) ticketCard(id domain.TicketID) string { return s.base + "cache:tcard:" + string(id) }
func (s space) comments(id domain.TicketID) string   { return s.base + "t-comments:" + string(id) }
func (s space) ticketDocs(id domain.TicketID) string { return s.base + "t-docs:" + string(id) }
func (s space) document(id domain.DocID) string      { return s.base + "d:" + string(id) }

// subject maps an identity provider's subject to the person bound to it.
func (s space) subject(sub string) string { return s.base + "subject:" + sub }
