// Package domain is the access model of DESIGN §1–§3 as pure deciders: state is rebuilt by
// Evolve from events, commands are judged by Decide against that state and the acting
// principal's own rights. Nothing here does I/O; ids and clocks come in with the command.
//
// Consistency boundary. Everything that people, companies, groups and their access settings
// share — seats, unique e-mail per tenant, one master admin per company, group flags that
// decide a user's class, company-access levels — lives in one aggregate per tenant, the
// Directory (stream "directory-{tenant}"). One command appends to that one stream with its
// expected revision, so the invariants across people, companies and groups hold under any
// concurrency without reservations or sagas. Tickets and documents are aggregates of their
// own (stream per ticket / document); their deciders read the Directory as it stood when the
// command was judged.
package domain

import (
	"slices"
	"strings"
	"time"
)

// Identifiers. They are opaque strings minted outside the domain (UUIDs in practice).
type (
	TenantID  string
	CompanyID string
	SiteID    string
	GroupID   string
	PersonID  string
	TicketID  string
	DocID     string
)

// PrincipalKind says who acts.
type PrincipalKind string

// The kinds of acting principal.
const (
	PrincipalUser    PrincipalKind = "user"
	PrincipalService PrincipalKind = "service"
	PrincipalSystem  PrincipalKind = "system"
)

// Principal is the authenticated actor of a command — taken from its token, never its body.
type Principal struct {
	Kind PrincipalKind
	// Person is set for users.
	Person PersonID
	// Service is a service client's id; its Scopes are the permissions it was granted.
	Service string
	Scopes  []Permission
}

// System is the principal of operator tools (tenant bootstrap) and of timers (expiry).
func System() Principal { return Principal{Kind: PrincipalSystem} }

// User is the principal of a logged-in person.
func User(id PersonID) Principal { return Principal{Kind: PrincipalUser, Person: id} }

// CompanyKind is what a company is to the tenant.
type CompanyKind string

// Company kinds.
const (
	KindCustomer   CompanyKind = "customer"
	KindPartner    CompanyKind = "partner"
	KindContractor CompanyKind = "contractor"
	KindProvider   CompanyKind = "provider"
)

func (k CompanyKind) valid() bool {
	switch k {
	case KindCustomer, KindPartner, KindContractor, KindProvider:
		return true
	}
	return false
}

// PersonType is what is stored; the class (normal/support/contact) is derived.
type PersonType string

// Person types.
const (
	TypeSystemUser PersonType = "system_user"
	TypeContact    PersonType = "contact"
)

// Class is the derived licence class of a person (DESIGN §1).
type Class string

// Classes.
const (
	ClassNormal  Class = "normal_user"
	ClassSupport Class = "support_user"
	ClassContact Class = "contact"
)

// Status is a user's lifecycle state.
type Status string

// Lifecycle states. Contacts have StatusContact.
const (
	StatusInvited   Status = "invited"
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusRemoved   Status = "removed"
	StatusContact   Status = "contact"
)

// Role is a membership's portal role.
type Role string

// Portal roles, strongest first.
const (
	RoleMasterAdmin Role = "master_admin"
	RoleAdmin       Role = "admin"
	RoleManager     Role = "manager"
	RoleMember      Role = "member"
	RoleBasic       Role = "basic"
)

// rank orders roles for "can manage users below it".
func (r Role) rank() int {
	switch r {
	case RoleMasterAdmin:
		return 5
	case RoleAdmin:
		return 4
	case RoleManager:
		return 3
	case RoleMember:
		return 2
	case RoleBasic:
		return 1
	}
	return 0
}

func (r Role) valid() bool { return r.rank() > 0 }

// Permission is one right of a permission set.
type Permission string

// Known permissions. Named sets (full, billing, support) expand to lists.
const (
	PermTenantAdmin       Permission = "tenant:admin"
	PermCompaniesManage   Permission = "companies:manage"
	PermUsersManage       Permission = "users:manage"
	PermContractorsManage Permission = "contractors:manage"
	PermTicketsRead       Permission = "tickets:read"
	PermTicketsWrite      Permission = "tickets:write"
	PermTicketsComment    Permission = "tickets:comment"
	PermDocumentsRead     Permission = "documents:read"
	PermDocumentsWrite    Permission = "documents:write"
	PermBillingRead       Permission = "billing:read"
	PermNotificationsRecv Permission = "notifications:receive"
	PermAuditRead         Permission = "audit:read"
	PermViewersRead       Permission = "viewers:read"
)

var allPermissions = []Permission{PermTenantAdmin, PermCompaniesManage, PermUsersManage, PermContractorsManage,
	PermTicketsRead, PermTicketsWrite, PermTicketsComment, PermDocumentsRead, PermDocumentsWrite,
	PermBillingRead, PermNotificationsRecv, PermAuditRead, PermViewersRead}

// namedSets are the shorthand permission sets of DESIGN §1. "full" is everything a portal
// membership can hold; tenant administration is never implied by a membership.
var namedSets = map[string][]Permission{
	"full": {PermCompaniesManage, PermUsersManage, PermContractorsManage, PermTicketsRead, PermTicketsWrite,
		PermTicketsComment, PermDocumentsRead, PermDocumentsWrite, PermBillingRead, PermNotificationsRecv},
	"billing": {PermBillingRead, PermDocumentsRead, PermNotificationsRecv},
	"support": {PermTicketsRead, PermTicketsWrite, PermTicketsComment, PermDocumentsRead, PermNotificationsRecv},
}

// PermissionSet is a named set or an explicit list, as given; Expand resolves it.
type PermissionSet struct {
	Named string       `json:"named,omitempty"`
	List  []Permission `json:"list,omitempty"`
}

// Expand resolves the set to a sorted list.
func (p PermissionSet) Expand() []Permission {
	out := append([]Permission{}, namedSets[p.Named]...)
	out = append(out, p.List...)
	slices.Sort(out)
	return slices.Compact(out)
}

// Has reports whether the set grants perm: whether perm is in Expand's union, without building
// it (visibility asks this many times per scope it computes).
func (p PermissionSet) Has(perm Permission) bool {
	return slices.Contains(namedSets[p.Named], perm) || slices.Contains(p.List, perm)
}

func (p PermissionSet) validate(field string) error {
	if p.Named != "" {
		if _, ok := namedSets[p.Named]; !ok {
			return invalid(field+".named", "unknown permission set %q (full, billing, support)", p.Named)
		}
	}
	for _, perm := range p.List {
		if !slices.Contains(allPermissions, perm) {
			return invalid(field+".list", "unknown permission %q", perm)
		}
	}
	return nil
}

// normalizeEmail makes e-mail uniqueness case-insensitive.
func normalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

func validEmail(e string) bool {
	at := strings.LastIndexByte(e, '@')
	return at > 0 && at < len(e)-1 && !strings.ContainsAny(e, " \t\r\n<>") && len(e) <= 254
}

// DefaultInvitationTTL is how long an invitation stays valid unless the command says otherwise.
const DefaultInvitationTTL = 7 * 24 * time.Hour
