package eventschema_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/portal-access/backend/eventschema"
)

type MembershipGranted struct {
	UserID    string `json:"user_id"`
	CompanyID string `json:"company_id"`
	Role      string `json:"role"`
}

// A command handler builds envelopes from the command context, encodes the
// events for EventStoreDB, and a projector decodes them back.
func Example() {
	reg := eventschema.NewRegistry()
	// v2 added the role; stored v1 events are upcast on read.
	if err := reg.Register("MembershipGranted", 2, MembershipGranted{}, "A user became a member of a company."); err != nil {
		fmt.Println(err)
		return
	}
	_ = reg.RegisterUpcaster("MembershipGranted", 1, func(in json.RawMessage) (json.RawMessage, error) {
		var m map[string]any
		if err := json.Unmarshal(in, &m); err != nil {
			return nil, err
		}
		m["role"] = "basic"
		return json.Marshal(m)
	})

	env, _ := eventschema.NewEnvelope("MembershipGranted", 0, eventschema.CommandContext{
		Tenant: "acme", Actor: eventschema.UserActor("u-1"), Command: "GrantMembership",
		CommandID: "cmd-1", IdempotencyKey: "client-key-7",
		At: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	enc, err := reg.Encode(eventschema.Event{Envelope: env, Payload: &MembershipGranted{UserID: "u-2", CompanyID: "c-1", Role: "admin"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(enc.Type, enc.ContentType, string(enc.Data))

	ev, err := reg.Decode(enc.Type, enc.Data, enc.Metadata)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s v%d by %s: %+v\n", ev.Type, ev.SchemaVersion, ev.Actor, *ev.Payload.(*MembershipGranted))

	_, err = reg.Decode("SomethingElse", enc.Data, enc.Metadata)
	fmt.Println(errors.Is(err, eventschema.ErrUnknownEventType))
	// Output:
	// MembershipGranted application/json {"user_id":"u-2","company_id":"c-1","role":"admin"}
	// MembershipGranted v2 by user:u-1: {UserID:u-2 CompanyID:c-1 Role:admin}
	// true
}
