package app_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/internal/app"
	"github.com/portal-access/backend/internal/testkit"
)

// privateRedis runs a redis-server of the test's own (append-only file in a temporary
// directory, so that its data survives a restart) on a free port.
type privateRedis struct {
	t    *testing.T
	addr string
	dir  string
	cmd  *exec.Cmd
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	r := &privateRedis{t: t, addr: testkit.FreeAddr(t), dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *privateRedis) start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	r.cmd = exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", r.dir, "--appendonly", "yes",
		"--appendfsync", "always", "--save", "")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: r.addr})
	defer rdb.Close()
	for i := 0; ; i++ {
		if rdb.Ping(context.Background()).Err() == nil {
			return
		}
		if i > 100 {
			r.t.Fatal("the private redis-server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop shuts Redis down (SIGTERM: it writes its append-only file and exits).
func (r *privateRedis) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	_ = r.cmd.Wait()
	r.cmd = nil
}

// TestRedisStoppedAndRestarted: while the read-model store is down, reads fail with a clear 503
// (never a 500, never a wrong answer), /readyz says not ready, commands are still accepted (the
// event store is the source of truth); once Redis is back, reads and projections recover by
// themselves, and a read at the position of the command accepted during the outage sees it.
func TestRedisStoppedAndRestarted(t *testing.T) {
	rd := startPrivateRedis(t)
	svc := testkit.StartService(t, func(c *app.Config) { c.RedisURL = "redis://" + rd.addr })
	tn := svc.CreateTenant("acme", 5)
	r := svc.Must(201, svc.Do("POST", "/v1/companies", tn.AdminToken, map[string]any{"name": "Alpha", "kind": "customer"}))
	svc.Must(200, svc.Read("GET", "/v1/me/companies", tn.AdminToken, nil, r))

	rd.stop()
	for _, path := range []string{"/v1/me/companies", "/v1/me/tickets", "/v1/me"} {
		got := svc.Do("GET", path, tn.AdminToken, nil)
		if got.Status != 503 || got.Code() != "read-models-unavailable" || got.Header.Get("Retry-After") == "" {
			t.Fatalf("GET %s with Redis down: %s", path, got)
		}
	}
	if got := svc.Do("GET", "/readyz", "", nil); got.Status != 503 || !strings.Contains(string(got.Raw), `"redis":{"error"`) {
		t.Fatalf("readyz with Redis down: %s", got)
	}
	during := svc.Must(201, svc.Do("POST", "/v1/companies", tn.AdminToken, map[string]any{"name": "Beta", "kind": "customer"}))

	rd.start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := svc.Read("GET", "/v1/me/companies", tn.AdminToken, nil, during)
		if got.Status == 200 && strings.Contains(string(got.Raw), `"name":"Beta"`) && strings.Contains(string(got.Raw), `"name":"Alpha"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after Redis came back: %s", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := svc.Do("GET", "/readyz", "", nil); got.Status != 200 {
		t.Fatalf("readyz after recovery: %s", got)
	}
}

// TestRedisFlushedWhileServing: the read models vanish (FLUSHALL) under a serving service. No
// read answers wrongly: until the projections have rebuilt them from the log, reads and
// /readyz answer 503; then every read is as before, and commands accepted meanwhile are visible.
func TestRedisFlushedWhileServing(t *testing.T) {
	rd := startPrivateRedis(t)
	svc := testkit.StartService(t, func(c *app.Config) { c.RedisURL = "redis://" + rd.addr })
	tn := svc.CreateTenant("acme", 5)
	var last testkit.Response
	for i := range 30 {
		last = svc.Must(201, svc.Do("POST", "/v1/companies", tn.AdminToken, map[string]any{"name": fmt.Sprintf("Company %02d", i), "kind": "customer"}))
	}
	// A ticket the admin sees, checked as the admin itself and by a service on its behalf: both
	// are single ticket checks, answered from cached tables and a remembered binding.
	co := svc.Must(201, svc.Do("POST", "/v1/companies", tn.AdminToken, map[string]any{"name": "Ticketed", "kind": "customer"})).ID("company_id")
	site := svc.Must(201, svc.Do("POST", "/v1/companies/"+co+"/sites", tn.AdminToken, map[string]any{"name": "S1"})).ID("site_id")
	last = svc.Must(201, svc.Do("POST", "/v1/tickets", tn.AdminToken, map[string]any{"site": site, "type": "incident", "title": "Leak"}))
	ticket := last.ID("ticket_id")
	svcTok := svc.ServiceToken(tn.ID, "portal-backend", "viewers:read")
	checks := map[string]struct {
		token string
		body  map[string]any
	}{
		"the admin itself":        {tn.AdminToken, map[string]any{"resource": map[string]any{"type": "ticket", "id": ticket}}},
		"a service on its behalf": {svcTok, map[string]any{"viewer": tn.Admin, "resource": map[string]any{"type": "ticket", "id": ticket}}},
	}
	for who, ck := range checks {
		for range 2 { // the second answer comes from what the first cached
			if got := svc.Must(200, svc.Read("POST", "/v1/check", ck.token, ck.body, last)); got.Body["allowed"] != true {
				t.Fatalf("check as %s before the flush: %s", who, got)
			}
		}
	}
	before := svc.Must(200, svc.Read("GET", "/v1/me/companies?limit=200", tn.AdminToken, nil, last))
	rdb := redis.NewClient(&redis.Options{Addr: rd.addr})
	defer rdb.Close()
	if err := rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	// Right after the flush, and while the models are rebuilt: a read is either the same answer
	// as before or a 503 — never a refusal or a shorter list.
	rebuilding := 0
	deadline := time.Now().Add(30 * time.Second)
	for {
		for who, ck := range checks {
			got := svc.Do("POST", "/v1/check", ck.token, ck.body)
			if (got.Status != 503 || got.Code() != "read-models-rebuilding") && (got.Status != 200 || got.Body["allowed"] != true) {
				t.Fatalf("a check as %s after the flush answered wrongly: %s", who, got)
			}
		}
		got := svc.Do("GET", "/v1/me/companies?limit=200", tn.AdminToken, nil)
		if got.Status == 503 && got.Code() == "read-models-rebuilding" {
			rebuilding++
		} else if got.Status != 200 || string(got.Raw) != string(before.Raw) {
			t.Fatalf("a read after the flush answered wrongly: %s", got)
		} else if rebuilding > 0 {
			break // rebuilt
		}
		if time.Now().After(deadline) {
			t.Fatalf("not rebuilt after 30 s (%d answers 503)", rebuilding)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := svc.Do("GET", "/readyz", "", nil); got.Status != 200 {
		t.Fatalf("readyz after the rebuild: %s", got)
	}
	r := svc.Must(201, svc.Do("POST", "/v1/companies", tn.AdminToken, map[string]any{"name": "After", "kind": "customer"}))
	got := svc.Must(200, svc.Read("GET", "/v1/me/companies?limit=200", tn.AdminToken, nil, r))
	if !strings.Contains(string(got.Raw), `"name":"After"`) || !strings.Contains(string(got.Raw), `"name":"Company 29"`) {
		t.Fatalf("after the rebuild: %s", got)
	}
}
