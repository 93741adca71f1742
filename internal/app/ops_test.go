package app_test

import (
	"strings"
	"testing"

	"github.com/portal-access/backend/internal/testkit"
)

// TestOperationsEndpoints: /readyz says ready once the projections reach the log's head,
// /metrics exposes request latency per route, each projector's checkpoint and lag and the
// dead-letter count, and every answer carries a request id.
func TestOperationsEndpoints(t *testing.T) {
	svc := testkit.StartService(t)
	tn := svc.CreateTenant("acme", 5)
	r := svc.Must(201, svc.Do("POST", "/v1/companies", tn.AdminToken, map[string]any{"name": "Alpha", "kind": "customer"}))
	svc.Sync(r)
	ready := svc.Must(200, svc.Do("GET", "/readyz", "", nil))
	for _, c := range []string{"eventstore", "redis", "projections"} {
		if !strings.Contains(string(ready.Raw), `"`+c+`":{"status":"up"}`) {
			t.Fatalf("readyz: %s", ready)
		}
	}
	if ready.Header.Get("X-Request-Id") == "" {
		t.Fatal("no request id")
	}
	svc.Must(200, svc.Read("GET", "/v1/me/companies", tn.AdminToken, nil, r))
	m := svc.Must(200, svc.Do("GET", "/metrics", "", nil))
	for _, want := range []string{
		`portal_http_request_duration_seconds_bucket{method="GET",route="/v1/me/companies",status="200",le=`,
		`portal_http_request_duration_seconds_count{method="POST",route="/v1/companies",status="201"}`,
		`portal_projection_checkpoint_position{projection="visibility"}`,
		`portal_projection_lag_positions{projection="directory"} 0`,
		`portal_projection_healthy{projection="audit.v3"} 1`,
		`portal_projection_deadletter_events 0`,
		`portal_eventstore_head_position`,
	} {
		if !strings.Contains(string(m.Raw), want) {
			t.Fatalf("metrics lack %q:\n%s", want, m.Raw)
		}
	}
	// A request with a client's id keeps it.
	r = svc.DoWith("GET", "/healthz", "", nil, map[string]string{"X-Request-Id": "req-42"})
	if r.Header.Get("X-Request-Id") != "req-42" {
		t.Fatalf("request id: %v", r.Header)
	}
}
