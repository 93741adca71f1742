package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// AddContact adds a person who never logs in and only receives notifications.
type AddContact struct {
	Name              string   `json:"name"`
	Email             string   `json:"email"`
	HomeCompany       string   `json:"home_company"`
	NotificationPrefs []string `json:"notification_prefs,omitempty"`
}

// AddContactHandler runs AddContact.
type AddContactHandler struct{ Directories *Directories }

// Handle runs the command.
func (h AddContactHandler) Handle(ctx context.Context, m Meta, in AddContact) (Result, error) {
	m = m.Prepare("AddContact")
	id := m.NewID("person")
	return h.Directories.Execute(ctx, m, domain.AddContact{Person: domain.PersonID(id), Name: in.Name, Email: in.Email,
		HomeCompany: domain.CompanyID(in.HomeCompany), NotificationPrefs: in.NotificationPrefs}, map[string]string{"person_id": id})
}
