package eventschema_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
)

// BenchmarkDecodePortal decodes a typical stored event (a TicketOpened with a full envelope), as
// every projection does for every event of the log.
func BenchmarkDecodePortal(b *testing.B) {
	reg := eventschema.MustPortal()
	env := eventschema.Envelope{EventID: uuid.New(), Type: "TicketOpened", Tenant: "rb01", OccurredAt: time.Date(2027, 1, 2, 3, 4, 5, 6, time.UTC),
		Actor: eventschema.UserActor("p-1234"), CorrelationID: uuid.NewString(), CausationID: uuid.NewString(), Command: "OpenTicket"}
	enc, err := reg.Encode(eventschema.Event{Envelope: env, Payload: &domain.TicketOpened{Ticket: "bt123", Company: "c-12", Site: "s-3",
		Type: "incident", Status: domain.TicketOpen, Title: "The printer on the third floor is jammed again",
		Description: "Paper jam in tray 2; the display shows error E-104.", Reporter: "p-1234", ResponsibleGroup: "g-2"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Decode(enc.Type, enc.Data, enc.Metadata); err != nil {
			b.Fatal(err)
		}
	}
}
