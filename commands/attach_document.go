package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// AttachTicketDocument attaches a document's metadata to a ticket (AttachDocument).
type AttachTicketDocument struct {
	Ticket      string `json:"-" path:"ticket_id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	SizeBytes   int64  `json:"size_bytes"`
}

// AttachTicketDocumentHandler runs AttachDocument on a ticket: the document lives in the
// ticket's stream.
type AttachTicketDocumentHandler struct {
	Directories *Directories
	Tickets     *Tickets
}

// Handle runs the command.
func (h AttachTicketDocumentHandler) Handle(ctx context.Context, m Meta, in AttachTicketDocument) (Result, error) {
	m = m.Prepare("AttachDocument")
	id, doc := domain.TicketID(in.Ticket), m.NewID("ticket-document")
	return h.Tickets.ExecuteTicket(ctx, h.Directories, m, id, domain.AttachTicketDocument{Ticket: id, Document: domain.DocID(doc),
		DocumentMeta: domain.DocumentMeta{Name: in.Name, ContentType: in.ContentType, SizeBytes: in.SizeBytes}},
		map[string]string{"ticket_id": in.Ticket, "document_id": doc})
}

// AttachCompanyDocument attaches a document's metadata to a company (AttachDocument).
type AttachCompanyDocument struct {
	Company     string `json:"-" path:"company_id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	SizeBytes   int64  `json:"size_bytes"`
}

// AttachCompanyDocumentHandler runs AttachDocument on a company: the document is an aggregate
// with its own stream.
type AttachCompanyDocumentHandler struct {
	Directories *Directories
	Tickets     *Tickets
}

// Handle runs the command.
func (h AttachCompanyDocumentHandler) Handle(ctx context.Context, m Meta, in AttachCompanyDocument) (Result, error) {
	m = m.Prepare("AttachDocument")
	doc := m.NewID("company-document")
	return h.Tickets.CreateDocument(ctx, h.Directories, m, domain.DocID(doc), domain.AttachCompanyDocument{
		Document: domain.DocID(doc), Company: domain.CompanyID(in.Company),
		DocumentMeta: domain.DocumentMeta{Name: in.Name, ContentType: in.ContentType, SizeBytes: in.SizeBytes}},
		map[string]string{"document_id": doc})
}
