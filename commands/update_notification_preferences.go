package commands

import (
	"context"

	"github.com/portal-access/backend/domain"
)

// UpdateNotificationPreferences replaces the notification categories a person receives.
type UpdateNotificationPreferences struct {
	Person            string   `json:"-" path:"person_id"`
	NotificationPrefs []string `json:"notification_prefs"`
}

// UpdateNotificationPreferencesHandler runs UpdateNotificationPreferences.
type UpdateNotificationPreferencesHandler struct{ Directories *Directories }

// Handle runs the command.
func (h UpdateNotificationPreferencesHandler) Handle(ctx context.Context, m Meta, in UpdateNotificationPreferences) (Result, error) {
	return h.Directories.Execute(ctx, m, domain.UpdateNotificationPreferences{Person: domain.PersonID(in.Person), Prefs: in.NotificationPrefs}, nil)
}
