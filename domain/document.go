package domain

import (
	"mime"
	"strings"
	"unicode"
)

// Documents (DESIGN §1 Resources) are metadata only: the content lives elsewhere. A ticket's
// documents are events of the ticket's stream (AttachTicketDocument); a company document is a
// Document aggregate of its own (stream "document-{tenant}-{id}"), judged here.

// MaxDocumentBytes bounds a document's size: 100 MiB.
const MaxDocumentBytes int64 = 100 << 20

// MaxDocumentName bounds a document's file name.
const MaxDocumentName = 255

// DocumentMeta is what is recorded about a document.
type DocumentMeta struct {
	Name        string
	ContentType string
	SizeBytes   int64
}

// normalize validates the metadata and returns it trimmed, with the media type lower-cased.
func (m DocumentMeta) normalize() (DocumentMeta, error) {
	name := strings.TrimSpace(m.Name)
	if name == "" || len(name) > MaxDocumentName || strings.ContainsFunc(name, unicode.IsControl) || strings.ContainsAny(name, `/\`) {
		return m, invalid("name", "required, at most %d characters, no path separators or control characters", MaxDocumentName)
	}
	ct := strings.TrimSpace(m.ContentType)
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || len(ct) > 200 || err != nil || !strings.Contains(mt, "/") {
		return m, invalid("content_type", "a media type such as application/pdf")
	}
	if m.SizeBytes < 1 || m.SizeBytes > MaxDocumentBytes {
		return m, invalid("size_bytes", "between 1 and %d bytes (100 MiB)", MaxDocumentBytes)
	}
	return DocumentMeta{Name: name, ContentType: mime.FormatMediaType(mt, params), SizeBytes: m.SizeBytes}, nil
}

// Document is the state of a company document, rebuilt by EvolveDocument.
type Document struct {
	ID          DocID
	Attached    bool
	Company     CompanyID
	Ticket      TicketID
	Name        string
	ContentType string
	SizeBytes   int64
	UploadedBy  PersonID
}

// NewDocument is the state of a document that has not been attached (an empty stream).
func NewDocument(id DocID) *Document { return &Document{ID: id} }

// DocumentCommand is a command judged by a Document (reading the Directory).
type DocumentCommand interface {
	Command
	decideDocument(doc *Document, d *Directory, p Principal) ([]Event, error)
}

// DecideDocument judges cmd by principal p against document doc and the Directory d.
func DecideDocument(doc *Document, d *Directory, p Principal, cmd DocumentCommand) ([]Event, error) {
	if !d.Configured {
		return nil, refuse(ErrTenantNotFound, "tenant %q does not exist", d.Tenant)
	}
	if p.Kind == PrincipalUser {
		if err := d.mustBeActiveUser(p.Person); err != nil {
			return nil, err
		}
	}
	return cmd.decideDocument(doc, d, p)
}

// EvolveDocument applies e to doc in place and returns doc. Other events are ignored.
func EvolveDocument(doc *Document, e Event) *Document {
	if de, ok := e.(DocumentEvent); ok {
		de.applyDocument(doc)
	}
	return doc
}

// AttachCompanyDocument attaches a document's metadata to a company. Allowed to tenant users
// with companies:manage, the company's master admin and admins holding documents:write, normal
// users with documents:write whose company-access scope covers the company, and service
// clients granted documents:write or companies:manage. Who may not know the company gets
// not-found.
type AttachCompanyDocument struct {
	Document DocID
	Company  CompanyID
	DocumentMeta
}

func (AttachCompanyDocument) CommandName() string { return "AttachDocument" }

func (c AttachCompanyDocument) decideDocument(doc *Document, d *Directory, p Principal) ([]Event, error) {
	meta, err := c.DocumentMeta.normalize()
	if err != nil {
		return nil, err
	}
	if c.Document == "" {
		return nil, invalid("id", "required")
	}
	if _, ok := d.Companies[c.Company]; !ok || !d.knowsCompany(p, c.Company) {
		return nil, notFound("company", string(c.Company))
	}
	if !d.canWriteCompanyDocuments(p, c.Company) {
		return nil, forbidden("attaching company documents needs companies:manage, the company's admin role or documents:write in scope")
	}
	if doc.Attached {
		return nil, refuse(ErrAlreadyExists, "document %q exists", c.Document)
	}
	return []Event{DocumentAttached{Document: c.Document, Company: c.Company, Name: meta.Name,
		ContentType: meta.ContentType, SizeBytes: meta.SizeBytes, UploadedBy: actingPerson(p)}}, nil
}

func (d *Directory) canWriteCompanyDocuments(p Principal, c CompanyID) bool {
	if d.hasTenantPermission(p, PermCompaniesManage) {
		return true
	}
	switch p.Kind {
	case PrincipalSystem:
		return true
	case PrincipalService:
		return d.hasTenantPermission(p, PermDocumentsWrite)
	}
	a := d.actor(p)
	if a == nil {
		return false
	}
	if m := a.Memberships[c]; m != nil && (m.Role == RoleMasterAdmin || m.Role == RoleAdmin) && m.Permissions.Has(PermDocumentsWrite) {
		return true
	}
	return d.ClassOf(a) == ClassNormal && d.hasTenantPermission(p, PermDocumentsWrite) && d.inAccessScope(a, c)
}

// CanSeeCompanyDocuments tells whether p sees the documents of company c (DESIGN §2: when it
// sees the company with a role other than basic, or as a normal user). Refined by permissions
// as tickets are: the membership (for a role) or the group (for a normal user, whose scope must
// cover c) must grant documents:read. The system sees all; a service client with documents:read.
func (d *Directory) CanSeeCompanyDocuments(p Principal, c CompanyID) bool {
	switch p.Kind {
	case PrincipalSystem:
		return true
	case PrincipalService:
		return d.hasTenantPermission(p, PermDocumentsRead)
	}
	a := d.actor(p)
	if a == nil || a.Type != TypeSystemUser || a.Status != StatusActive {
		return false
	}
	if _, ok := d.Companies[c]; !ok {
		return false
	}
	if m := a.Memberships[c]; m != nil && m.Role != RoleBasic && m.Permissions.Has(PermDocumentsRead) {
		return true
	}
	return d.ClassOf(a) == ClassNormal && d.hasTenantPermission(p, PermDocumentsRead) && d.inAccessScope(a, c)
}
