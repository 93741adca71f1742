package directory

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/portal-access/backend/domain"
)

// Hashes are written whole: fields with a value are set, the others deleted, so a record's
// fields depend only on its value, never on how it got there.

type fields struct {
	set []any
	del []string
}

func (f *fields) str(name, v string) {
	if v == "" {
		f.del = append(f.del, name)
		return
	}
	f.set = append(f.set, name, v)
}

func (f *fields) flag(name string, v bool) {
	if v {
		f.set = append(f.set, name, "1")
	} else {
		f.del = append(f.del, name)
	}
}

func (f *fields) time(name string, t time.Time) {
	if t.IsZero() {
		f.del = append(f.del, name)
		return
	}
	f.set = append(f.set, name, formatTime(t))
}

// json stores v as JSON unless empty says there is nothing to store.
func (f *fields) json(name string, v any, empty bool) error {
	if empty {
		f.del = append(f.del, name)
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("directory: encode %s: %w", name, err)
	}
	f.set = append(f.set, name, string(b))
	return nil
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// --- companies, sites, groups

func companyFields(c Company) fields {
	var f fields
	f.str("id", string(c.ID))
	f.str("name", c.Name)
	f.str("kind", string(c.Kind))
	f.str("parent", string(c.Parent))
	f.str("registered_by", string(c.RegisteredBy))
	f.str("master_admin", string(c.MasterAdmin))
	return f
}

func companyFrom(m map[string]string) Company {
	return Company{ID: domain.CompanyID(m["id"]), Name: m["name"], Kind: domain.CompanyKind(m["kind"]),
		Parent: domain.CompanyID(m["parent"]), RegisteredBy: domain.CompanyID(m["registered_by"]),
		MasterAdmin: domain.PersonID(m["master_admin"])}
}

func siteFields(s Site) fields {
	var f fields
	f.str("id", string(s.ID))
	f.str("company", string(s.Company))
	f.str("name", s.Name)
	f.str("address", s.Address)
	return f
}

func siteFrom(m map[string]string) Site {
	return Site{ID: domain.SiteID(m["id"]), Company: domain.CompanyID(m["company"]), Name: m["name"], Address: m["address"]}
}

func groupFields(g Group) (fields, error) {
	var f fields
	f.str("id", string(g.ID))
	f.str("name", g.Name)
	f.set = append(f.set, "support_user", boolString(g.SupportUser))
	return f, f.json("permissions", g.Permissions, false)
}

func groupFrom(m map[string]string) (Group, error) {
	g := Group{ID: domain.GroupID(m["id"]), Name: m["name"], SupportUser: m["support_user"] == "1"}
	if err := unmarshal(m, "permissions", &g.Permissions); err != nil {
		return g, err
	}
	g.Effective = g.Permissions.Expand()
	return g, nil
}

func boolString(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// --- people

func personFields(p *Person) (fields, error) {
	var f fields
	f.str("id", string(p.ID))
	f.str("name", p.Name)
	f.str("email", p.Email)
	f.str("type", string(p.Type))
	f.str("class", string(p.Class))
	f.str("status", string(p.Status))
	f.str("home_company", string(p.HomeCompany))
	f.str("group", string(p.Group))
	f.str("subject", p.Subject)
	f.flag("mfa_required", p.MFARequired)
	var exp time.Time
	if p.InvitationExpiresAt != nil {
		exp = *p.InvitationExpiresAt
	}
	f.time("invitation_expires_at", exp)
	sp, tr := p.SitePermissions, p.TicketRestrictions
	for _, err := range []error{
		f.json("memberships", p.Memberships, len(p.Memberships) == 0),
		f.json("site_permissions", sp, len(sp.ReadSites) == 0 && len(sp.WriteSites) == 0 && len(sp.Responsible) == 0),
		f.json("ticket_restrictions", tr, len(tr.TicketTypes) == 0 && !tr.Restricted && len(tr.Statuses) == 0),
		f.json("notification_prefs", p.NotificationPrefs, len(p.NotificationPrefs) == 0),
	} {
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

// personFrom reads a stored person; nil when the hash is empty (no such person).
func personFrom(m map[string]string) (*Person, error) {
	if len(m) == 0 {
		return nil, nil
	}
	p := &Person{ID: domain.PersonID(m["id"]), Name: m["name"], Email: m["email"], Type: domain.PersonType(m["type"]),
		Class: domain.Class(m["class"]), Status: domain.Status(m["status"]), HomeCompany: domain.CompanyID(m["home_company"]),
		Group: domain.GroupID(m["group"]), MFARequired: m["mfa_required"] == "1", Subject: m["subject"]}
	if s := m["invitation_expires_at"]; s != "" {
		t, err := parseTime(s)
		if err != nil {
			return nil, fmt.Errorf("directory: person %s: invitation_expires_at: %w", p.ID, err)
		}
		p.InvitationExpiresAt = &t
	}
	for name, dst := range map[string]any{"memberships": &p.Memberships, "site_permissions": &p.SitePermissions,
		"ticket_restrictions": &p.TicketRestrictions, "notification_prefs": &p.NotificationPrefs} {
		if err := unmarshal(m, name, dst); err != nil {
			return nil, fmt.Errorf("directory: person %s: %w", p.ID, err)
		}
	}
	return p, nil
}

func unmarshal(m map[string]string, name string, dst any) error {
	s, ok := m[name]
	if !ok || s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), dst); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// membership returns p's membership of c, or nil.
func (p *Person) membership(c domain.CompanyID) *Membership {
	for i := range p.Memberships {
		if p.Memberships[i].Company == c {
			return &p.Memberships[i]
		}
	}
	return nil
}

// putMembership adds or replaces m, keeping memberships ordered by company.
func (p *Person) putMembership(m Membership) {
	if cur := p.membership(m.Company); cur != nil {
		*cur = m
		return
	}
	i, _ := slices.BinarySearchFunc(p.Memberships, m.Company, func(x Membership, c domain.CompanyID) int {
		switch {
		case x.Company < c:
			return -1
		case x.Company > c:
			return 1
		}
		return 0
	})
	p.Memberships = slices.Insert(p.Memberships, i, m)
}

func (p *Person) dropMembership(c domain.CompanyID) {
	p.Memberships = slices.DeleteFunc(p.Memberships, func(m Membership) bool { return m.Company == c })
}

// clone is a deep copy, so that a handler can change a person and still diff against the old one.
func (p *Person) clone() *Person {
	if p == nil {
		return nil
	}
	c := *p
	if p.InvitationExpiresAt != nil {
		t := *p.InvitationExpiresAt
		c.InvitationExpiresAt = &t
	}
	c.Memberships = make([]Membership, len(p.Memberships))
	for i, m := range p.Memberships {
		m.Sites = slices.Clone(m.Sites)
		m.Permissions.List = slices.Clone(m.Permissions.List)
		c.Memberships[i] = m
	}
	c.SitePermissions = SitePermissions{ReadSites: slices.Clone(p.SitePermissions.ReadSites),
		WriteSites: slices.Clone(p.SitePermissions.WriteSites), Responsible: slices.Clone(p.SitePermissions.Responsible)}
	c.TicketRestrictions = TicketRestrictions{TicketTypes: slices.Clone(p.TicketRestrictions.TicketTypes),
		Restricted: p.TicketRestrictions.Restricted, Statuses: slices.Clone(p.TicketRestrictions.Statuses)}
	c.NotificationPrefs = slices.Clone(p.NotificationPrefs)
	return &c
}

// --- tickets and documents

func ticketFrom(m map[string]string) (Ticket, error) {
	var v [len(ticketFields)]string
	for i, f := range ticketFields {
		v[i] = m[f]
	}
	return ticketOf(&v)
}

// ticketFields are the fields of a ticket's hash, in the order ticketOf reads them; HMGET of
// these fields reads a ticket without building a map.
var ticketFields = [...]string{"id", "company", "site", "type", "status", "title", "description", "reporter",
	"responsible_group", "responsible_user", "contractor", "technician", "opened_at", "updated_at", "comments", "documents"}

// ticketFromValues decodes an HMGET of ticketFields; ok is false when the ticket is unknown.
func ticketFromValues(vals []any) (t Ticket, ok bool, err error) {
	if len(vals) != len(ticketFields) || vals[0] == nil {
		return t, false, nil
	}
	var v [len(ticketFields)]string
	for i, x := range vals {
		v[i], _ = x.(string)
	}
	t, err = ticketOf(&v)
	return t, err == nil, err
}

func ticketOf(v *[len(ticketFields)]string) (Ticket, error) {
	t := Ticket{ID: domain.TicketID(v[0]), Company: domain.CompanyID(v[1]), Site: domain.SiteID(v[2]),
		Type: v[3], Status: domain.TicketStatus(v[4]), Title: v[5], Description: v[6],
		Reporter: domain.PersonID(v[7]), ResponsibleGroup: domain.GroupID(v[8]),
		ResponsibleUser: domain.PersonID(v[9]), Contractor: domain.CompanyID(v[10]),
		Technician: domain.PersonID(v[11])}
	var err error
	if t.OpenedAt, err = parseTime(v[12]); err != nil {
		return t, fmt.Errorf("directory: ticket %s: opened_at: %w", t.ID, err)
	}
	if t.UpdatedAt, err = parseTime(v[13]); err != nil {
		return t, fmt.Errorf("directory: ticket %s: updated_at: %w", t.ID, err)
	}
	if t.Comments, err = atoi(v[14]); err != nil {
		return t, fmt.Errorf("directory: ticket %s: comments: %w", t.ID, err)
	}
	if t.Documents, err = atoi(v[15]); err != nil {
		return t, fmt.Errorf("directory: ticket %s: documents: %w", t.ID, err)
	}
	return t, nil
}

func documentFields(d Document) fields {
	var f fields
	f.str("id", string(d.ID))
	f.str("company", string(d.Company))
	f.str("ticket", string(d.Ticket))
	f.str("name", d.Name)
	f.str("content_type", d.ContentType)
	f.set = append(f.set, "size_bytes", strconv.FormatInt(d.SizeBytes, 10))
	f.str("uploaded_by", string(d.UploadedBy))
	f.time("attached_at", d.AttachedAt)
	return f
}

func documentFrom(m map[string]string) (Document, error) {
	d := Document{ID: domain.DocID(m["id"]), Company: domain.CompanyID(m["company"]), Ticket: domain.TicketID(m["ticket"]),
		Name: m["name"], ContentType: m["content_type"], UploadedBy: domain.PersonID(m["uploaded_by"])}
	var err error
	if d.SizeBytes, err = atoi(m["size_bytes"]); err != nil {
		return d, fmt.Errorf("directory: document %s: size_bytes: %w", d.ID, err)
	}
	if d.AttachedAt, err = parseTime(m["attached_at"]); err != nil {
		return d, fmt.Errorf("directory: document %s: attached_at: %w", d.ID, err)
	}
	return d, nil
}

func atoi(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.ParseInt(s, 10, 64)
}
