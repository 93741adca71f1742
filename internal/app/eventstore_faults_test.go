package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portal-access/backend/internal/app"
	"github.com/portal-access/backend/internal/testkit"
)

// outageAnswer is one answer the service gave while the event store was down.
type outageAnswer struct {
	what   string
	status int
	ctype  string
	retry  string // Retry-After
	body   string
	err    error // transport error, e.g. the client's timeout: the request hung
}

// TestEventStoreStoppedAndRestarted: the event store the service uses (external, as in
// production) stops while the service serves commands, reads and its projections' subscriptions,
// stays down long enough for the official client to give up discovery, and comes back on the same
// address and data. Meanwhile every command, from several clients at once, answers a 503
// problem+json "event-store-unavailable" — never a 500, never a hang, never a panic — /readyz says
// not ready, and reads keep serving what the projections had. Once it is back, without a restart
// of the service, commands succeed again, the projections catch up (a read at the position of a
// command accepted after the restart sees it) and /readyz says ready.
func TestEventStoreStoppedAndRestarted(t *testing.T) {
	dir := t.TempDir()
	es := testkit.StartEventStoreIn(t, dir, "127.0.0.1:0")
	addr := es.Addr()
	svc := testkit.StartService(t, func(c *app.Config) { c.EventStoreURL = es.ConnectionString() })
	tn := svc.CreateTenant("acme", 5)
	before := svc.Must(201, svc.Do("POST", "/v1/companies", tn.AdminToken, map[string]any{"name": "Alpha", "kind": "customer"}))
	svc.Must(200, svc.Read("GET", "/v1/me/companies", tn.AdminToken, nil, before))

	if err := es.Close(); err != nil {
		t.Fatal(err)
	}
	// Several clients send commands for 3 s: the official client gives up discovery (10 attempts
	// 100 ms apart, refused at once) several times over while calls are in flight.
	hc := &http.Client{Timeout: 15 * time.Second} // a request still unanswered then is hung
	post := func(what string, body any) outageAnswer {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", svc.URL+"/v1/companies", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tn.AdminToken)
		resp, err := hc.Do(req)
		if err != nil {
			return outageAnswer{what: what, err: err}
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return outageAnswer{what: what, status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), retry: resp.Header.Get("Retry-After"), body: string(raw)}
	}
	var (
		mu      sync.Mutex
		answers []outageAnswer
		wg      sync.WaitGroup
	)
	until := time.Now().Add(3 * time.Second)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(until); i++ {
				a := post(fmt.Sprintf("client %d, command %d", w, i), map[string]any{"name": fmt.Sprintf("Down %d-%d", w, i), "kind": "customer"})
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
				if a.err != nil {
					return
				}
			}
		}()
	}
	// Meanwhile: not ready, and the read models still answer what they had.
	if got := svc.Do("GET", "/readyz", "", nil); got.Status != 503 || !strings.Contains(string(got.Raw), `"eventstore":{"error"`) {
		t.Errorf("readyz with the event store down: %s", got)
	}
	if got := svc.Read("GET", "/v1/me/companies", tn.AdminToken, nil, before); got.Status != 200 || !strings.Contains(string(got.Raw), `"name":"Alpha"`) {
		t.Errorf("a read of what was projected, with the event store down: %s", got)
	}
	wg.Wait()
	if len(answers) < 4 {
		t.Fatalf("only %d commands answered during the outage", len(answers))
	}
	for _, a := range answers {
		if a.err != nil {
			t.Fatalf("%s during the outage: no answer: %v", a.what, a.err)
		}
		var p struct {
			Status int    `json:"status"`
			Code   string `json:"code"`
		}
		if a.status != 503 || a.ctype != "application/problem+json" || a.retry == "" || json.Unmarshal([]byte(a.body), &p) != nil ||
			p.Status != 503 || p.Code != "event-store-unavailable" {
			t.Fatalf("%s during the outage: %d %s %s, want a 503 problem event-store-unavailable", a.what, a.status, a.ctype, a.body)
		}
	}
	t.Logf("%d commands answered 503 during the outage", len(answers))

	testkit.StartEventStoreIn(t, dir, addr)
	var after testkit.Response
	deadline := time.Now().Add(15 * time.Second)
	for {
		a := post("a command after the restart", map[string]any{"name": "Beta", "kind": "customer"})
		if a.err != nil {
			t.Fatalf("%s: no answer: %v", a.what, a.err)
		}
		if a.status == 201 {
			break
		}
		if a.status != 503 || !strings.Contains(a.body, `"event-store-unavailable"`) {
			t.Fatalf("a command after the restart: %d %s", a.status, a.body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("commands still fail after the restart: %d %s", a.status, a.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// One more through the test API, for its log position.
	after = svc.Must(201, svc.Do("POST", "/v1/companies", tn.AdminToken, map[string]any{"name": "Gamma", "kind": "customer"}))
	deadline = time.Now().Add(15 * time.Second)
	for {
		got := svc.Read("GET", "/v1/me/companies?limit=200", tn.AdminToken, nil, after)
		if got.Status == 200 {
			for _, name := range []string{"Alpha", "Beta", "Gamma"} {
				if !strings.Contains(string(got.Raw), `"name":"`+name+`"`) {
					t.Fatalf("after the restart the read models lack %s: %s", name, got)
				}
			}
			if strings.Contains(string(got.Raw), `"name":"Down `) {
				t.Fatalf("a command refused during the outage shows in the read models: %s", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the projections did not catch up after the restart: %s", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		got := svc.Do("GET", "/readyz", "", nil)
		if got.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after the restart: %s", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
