package eventstore_test

import "github.com/portal-access/backend/internal/esdbserver/eventlog"

func eventlogAny() eventlog.Expected { return eventlog.Expected{Kind: eventlog.ExpectAny} }
