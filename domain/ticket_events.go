package domain

// Ticket and Document events. A ticket's events live in its own stream ("ticket-{tenant}-{id}"),
// documents of a ticket included; a company document is a Document aggregate of its own
// ("document-{tenant}-{id}"). Every event names its ticket (or document) so that a consumer of
// $all needs no stream-name parsing. Field names are the stable JSON contract registered in
// eventschema.

// TicketEvent is an event of the Ticket aggregate.
type TicketEvent interface {
	Event
	applyTicket(t *Ticket)
}

// DocumentEvent is an event of the Document aggregate (company documents).
type DocumentEvent interface {
	Event
	applyDocument(doc *Document)
}

// TicketOpened: a ticket was opened at a site of a company; its status is "open".
type TicketOpened struct {
	Ticket           TicketID     `json:"ticket"`
	Company          CompanyID    `json:"company"`
	Site             SiteID       `json:"site,omitempty" doc:"empty when the ticket concerns the company as a whole"`
	Type             string       `json:"type"`
	Status           TicketStatus `json:"status"`
	Reporter         PersonID     `json:"reporter,omitempty" doc:"the person who opened it; empty when a service client opened it"`
	ResponsibleGroup GroupID      `json:"responsible_group,omitempty"`
	ResponsibleUser  PersonID     `json:"responsible_user,omitempty"`
	Title            string       `json:"title"`
	Description      string       `json:"description,omitempty"`
}

func (TicketOpened) EventType() string { return "TicketOpened" }
func (e TicketOpened) applyTicket(t *Ticket) {
	t.ID, t.Opened, t.Company, t.Site, t.Type, t.Status = e.Ticket, true, e.Company, e.Site, e.Type, e.Status
	t.Reporter, t.ResponsibleGroup, t.ResponsibleUser = e.Reporter, e.ResponsibleGroup, e.ResponsibleUser
	t.Title, t.Description = e.Title, e.Description
}

// TicketStatusChanged: a ticket moved from one status to another.
type TicketStatusChanged struct {
	Ticket TicketID     `json:"ticket"`
	From   TicketStatus `json:"from"`
	To     TicketStatus `json:"to"`
}

func (TicketStatusChanged) EventType() string       { return "TicketStatusChanged" }
func (e TicketStatusChanged) applyTicket(t *Ticket) { t.Status = e.To }

// TicketAssigned: a ticket's responsible group or user (exactly one of them) was set.
type TicketAssigned struct {
	Ticket    TicketID `json:"ticket"`
	Group     GroupID  `json:"group,omitempty"`
	User      PersonID `json:"user,omitempty"`
	FromGroup GroupID  `json:"from_group,omitempty"`
	FromUser  PersonID `json:"from_user,omitempty"`
}

func (TicketAssigned) EventType() string { return "TicketAssigned" }
func (e TicketAssigned) applyTicket(t *Ticket) {
	t.ResponsibleGroup, t.ResponsibleUser = e.Group, e.User
}

// ContractorAssigned: a guest contractor (and optionally one of its technicians) was assigned
// to a ticket, replacing the previous assignment.
type ContractorAssigned struct {
	Ticket         TicketID  `json:"ticket"`
	Contractor     CompanyID `json:"contractor"`
	Technician     PersonID  `json:"technician,omitempty"`
	FromContractor CompanyID `json:"from_contractor,omitempty"`
	FromTechnician PersonID  `json:"from_technician,omitempty"`
}

func (ContractorAssigned) EventType() string { return "ContractorAssigned" }
func (e ContractorAssigned) applyTicket(t *Ticket) {
	t.Contractor, t.Technician = e.Contractor, e.Technician
}

// TicketCommented: someone who sees the ticket commented on it.
type TicketCommented struct {
	Ticket  TicketID `json:"ticket"`
	Comment string   `json:"comment"`
	Author  PersonID `json:"author,omitempty" doc:"empty when a service client commented"`
	Body    string   `json:"body"`
}

func (TicketCommented) EventType() string { return "TicketCommented" }
func (e TicketCommented) applyTicket(t *Ticket) {
	if t.comments == nil {
		t.comments = map[string]bool{}
	}
	t.comments[e.Comment] = true
	t.Comments++
}

// DocumentAttached: a document's metadata was attached to a ticket (in the ticket's stream,
// Ticket set) or to a company (in the document's own stream, Ticket empty). Company is always
// the company the document belongs to — for a ticket document, the ticket's company.
type DocumentAttached struct {
	Document    DocID     `json:"document"`
	Ticket      TicketID  `json:"ticket,omitempty" doc:"set for a ticket document, empty for a company document"`
	Company     CompanyID `json:"company"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	SizeBytes   int64     `json:"size_bytes"`
	UploadedBy  PersonID  `json:"uploaded_by,omitempty" doc:"empty when a service client attached it"`
}

func (DocumentAttached) EventType() string { return "DocumentAttached" }
func (e DocumentAttached) applyTicket(t *Ticket) {
	if t.documents == nil {
		t.documents = map[DocID]bool{}
	}
	t.documents[e.Document] = true
	t.Documents++
}
func (e DocumentAttached) applyDocument(doc *Document) {
	doc.ID, doc.Attached, doc.Company, doc.Ticket = e.Document, true, e.Company, e.Ticket
	doc.Name, doc.ContentType, doc.SizeBytes, doc.UploadedBy = e.Name, e.ContentType, e.SizeBytes, e.UploadedBy
}

// ticketEvents lists the Ticket and Document aggregates' events.
func ticketEvents() []Event {
	var out []Event
	for _, e := range TicketEvents() {
		out = append(out, e)
	}
	return out
}

// TicketEvents lists one zero value of every Ticket event (DocumentAttached, the one Document
// event, included), for registries and tests.
func TicketEvents() []TicketEvent {
	return []TicketEvent{TicketOpened{}, TicketStatusChanged{}, TicketAssigned{}, ContractorAssigned{},
		TicketCommented{}, DocumentAttached{}}
}
