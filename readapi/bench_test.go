package readapi_test

// Benchmarks of the read API over loopback HTTP against the real Redis (testkit.RedisAddr()):
//
//	go test ./readapi -run '^$' -bench ReadAPI -benchtime 1x -timeout 20m -v
//
// The read models are built by the real projections (visibility and directory, applied as a
// rebuild applies them) from synthesized events: a tenant with 100 customer companies of 1,000
// tickets each (100,000 tickets) and a normal user whose group's company access lists the 100
// companies. Each sub-benchmark drives one route for a fixed time with concurrent clients (a Go
// load generator in the same process) and reports requests/s, p50 and p99; "ceiling" is a
// trivial Gin handler doing one Redis GET, measured in the same run.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/app"
	"github.com/portal-access/backend/internal/auth"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/directory"
	"github.com/portal-access/backend/projections/visibility"
	"github.com/portal-access/backend/readapi"
)

// staticModels serves one generation that is always caught up (the benchmark builds it first).
type staticModels struct{ keys projections.Keys }

func (m staticModels) Keys() projections.Keys                             { return m.keys }
func (m staticModels) WaitFor(context.Context, eventstore.Position) error { return nil }
func (m staticModels) Serving() error                                     { return nil }

// eventLog synthesizes one tenant's events as the event store would deliver them.
type eventLog struct {
	tb     testing.TB
	reg    *eventschema.Registry
	tenant domain.TenantID
	pos    uint64
	revs   map[string]uint64
	at     time.Time
	events []eventstore.RecordedEvent
}

func (l *eventLog) add(stream string, evs ...domain.Event) {
	l.at = l.at.Add(time.Second)
	for _, ev := range evs {
		l.pos++
		env := eventschema.Envelope{EventID: uuid.New(), Type: ev.EventType(), Tenant: string(l.tenant), OccurredAt: l.at,
			Actor: eventschema.SystemActor(), CorrelationID: "bench", CausationID: "bench", Command: "Bench"}
		enc, err := l.reg.Encode(eventschema.Event{Envelope: env, Payload: ev})
		if err != nil {
			l.tb.Fatal(err)
		}
		l.events = append(l.events, eventstore.RecordedEvent{ID: enc.EventID, Stream: stream, Revision: l.revs[stream], Type: enc.Type,
			Data: enc.Data, Metadata: enc.Metadata, Position: eventstore.Position{Commit: l.pos, Prepare: l.pos}, Created: l.at})
		l.revs[stream]++
	}
}

const (
	benchTenant    = domain.TenantID("bench")
	benchCompanies = 100
	benchTickets   = 1000 // per company
)

// buildBenchTenant projects the benchmark tenant into Redis under keys.
func buildBenchTenant(b testing.TB, rdb *redis.Client, keys projections.Keys) {
	buildTenant(b, rdb, keys, benchCompanies, benchTickets, benchCompanies)
}

// buildTenant projects a tenant of companies × tickets into Redis: the group g-partners (of
// p-viewer and p-colleague) has company access to the first granted companies.
func buildTenant(b testing.TB, rdb *redis.Client, keys projections.Keys, companies, tickets, granted int) {
	reg := eventschema.MustPortal()
	l := &eventLog{tb: b, reg: reg, tenant: benchTenant, revs: map[string]uint64{}, at: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	dir := "directory-" + string(benchTenant)
	l.add(dir, domain.TenantConfigured{Tenant: benchTenant, Name: "Bench", Seats: 5000})
	l.add(dir, domain.CompanyRegistered{Company: "c-provider", Name: "Provider", Kind: domain.KindProvider})
	l.add(dir, domain.UserGroupCreated{Group: "g-partners", Name: "Partners", Permissions: domain.PermissionSet{Named: "support"}})
	sites := map[domain.CompanyID][]domain.SiteID{}
	for i := range companies {
		c := domain.CompanyID(fmt.Sprintf("c-%03d", i))
		l.add(dir, domain.CompanyRegistered{Company: c, Name: "Customer " + string(c), Kind: domain.KindCustomer})
		for s := range 10 {
			site := domain.SiteID(fmt.Sprintf("%s-s%d", c, s))
			sites[c] = append(sites[c], site)
			l.add(dir, domain.SiteAdded{Company: c, Site: site, Name: "Site " + string(site)})
		}
		if i < granted {
			l.add(dir, domain.CompanyAccessGranted{Level: domain.LevelGroup, Holder: "g-partners", Target: c})
		}
	}
	exp := l.at.Add(7 * 24 * time.Hour)
	for _, p := range []domain.PersonID{"p-viewer", "p-colleague"} {
		l.add(dir, domain.UserInvited{Person: p, Name: "Viewer " + string(p), Email: string(p) + "@bench.example", HomeCompany: "c-provider",
			Group: "g-partners", Class: domain.ClassNormal, TokenHash: uuid.NewString(), ExpiresAt: exp})
		l.add(dir, domain.InvitationAccepted{Person: p, Subject: "sub-" + string(p)})
	}
	// Tickets, opened round-robin over the companies, as a busy tenant's would be.
	rnd := rand.New(rand.NewPCG(5, 5))
	for i := range companies * tickets {
		c := domain.CompanyID(fmt.Sprintf("c-%03d", i%companies))
		id := domain.TicketID(fmt.Sprintf("t-%06d", i))
		l.add("ticket-"+string(benchTenant)+"-"+string(id), domain.TicketOpened{Ticket: id, Company: c, Site: sites[c][rnd.IntN(10)],
			Type: "incident", Status: domain.TicketOpen, Title: "The printer on the third floor is jammed again"})
	}
	ctx := context.Background()
	start := time.Now()
	// The generation is the active one, as the service marks it.
	if err := rdb.Set(ctx, projections.ActiveKey(keys.Prefix), keys.Gen, 0).Err(); err != nil {
		b.Fatal(err)
	}
	for _, p := range []projections.Projection{visibility.New(nil, reg), directory.New()} {
		r := projections.NewRunner(p, rdb, reg, keys)
		if _, err := r.Checkpoint(ctx, r.Name()); err != nil {
			b.Fatal(err)
		}
		for evs := l.events; len(evs) > 0; {
			n := min(2048, len(evs))
			if err := r.ApplyBatch(ctx, evs[:n]); err != nil {
				b.Fatal(err)
			}
			evs = evs[n:]
		}
	}
	b.Logf("bench tenant: %d events projected in %v", len(l.events), time.Since(start).Round(time.Millisecond))
}

// loadResult is what a load run measured.
type loadResult struct {
	requests      int
	errors        int
	rps           float64
	p50, p99, max time.Duration
	// cpu is the CPU time per request of this process (API and load generator) and of Redis:
	// on a machine shared with other work, they say more than requests/s.
	cpu, redisCPU time.Duration
}

// processCPU is this process's CPU time (user + system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the Redis server's CPU time (INFO cpu: used_cpu_sys + used_cpu_user).
func redisCPU(rdb *redis.Client) time.Duration {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

var benchRedis *redis.Client

// load sends requests from clients goroutines for d and measures each one's latency.
func load(b *testing.B, clients int, d time.Duration, send func(c *http.Client, i int) (int, error)) loadResult {
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	// Warm up the connections and Redis.
	for i := range clients * 4 {
		if _, err := send(hc, i); err != nil {
			b.Fatal(err)
		}
	}
	cpu0, rcpu0 := processCPU(), redisCPU(benchRedis)
	var wg sync.WaitGroup
	var errs atomic.Int64
	lat := make([][]time.Duration, clients)
	deadline := time.Now().Add(d)
	start := time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i += clients {
				t0 := time.Now()
				status, err := send(hc, i)
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil || status != http.StatusOK {
					errs.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu, rcpu := processCPU()-cpu0, redisCPU(benchRedis)-rcpu0
	all := slices.Concat(lat...)
	slices.Sort(all)
	q := func(p float64) time.Duration { return all[min(len(all)-1, int(float64(len(all))*p))] }
	return loadResult{requests: len(all), errors: int(errs.Load()), rps: float64(len(all)) / elapsed.Seconds(), p50: q(0.50), p99: q(0.99), max: all[len(all)-1],
		cpu: cpu / time.Duration(len(all)), redisCPU: rcpu / time.Duration(len(all))}
}

func report(b *testing.B, name string, r loadResult, ceiling loadResult) {
	b.ReportMetric(r.rps, "req/s")
	b.ReportMetric(float64(r.p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(r.p99.Microseconds())/1000, "p99-ms")
	pct := ""
	if ceiling.rps > 0 {
		b.ReportMetric(100*r.rps/ceiling.rps, "%ceiling")
		pct = fmt.Sprintf(" = %.0f%% of the ceiling (by CPU per request: %.0f%%)", 100*r.rps/ceiling.rps,
			100*float64(ceiling.cpu+ceiling.redisCPU)/float64(r.cpu+r.redisCPU))
	}
	b.Logf("%-38s %7.0f req/s%s, p50 %v, p99 %v, max %v; CPU per request %v + Redis %v; %d requests, %d errors",
		name, r.rps, pct, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.max.Round(time.Microsecond),
		r.cpu.Round(time.Microsecond), r.redisCPU.Round(time.Microsecond), r.requests, r.errors)
	if r.errors > 0 {
		b.Fatalf("%s: %d requests failed", name, r.errors)
	}
}

func do(c *http.Client, req *http.Request) (int, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// BenchmarkReadAPI measures the ceiling, POST /v1/check and GET /v1/me/tickets?limit=50.
func BenchmarkReadAPI(b *testing.B) {
	// The service's runtime settings (its GC target), as serve sets them; the test binary's
	// own are back after the benchmark.
	gc := debug.SetGCPercent(100)
	debug.SetGCPercent(gc)
	defer debug.SetGCPercent(gc)
	b.Logf("GC target %d, as the service runs", app.TuneRuntime())
	rdb, prefix := testkit.Redis(b)
	benchRedis = rdb
	keys := projections.Keys{Prefix: prefix, Gen: 1}
	buildBenchTenant(b, rdb, keys)
	gin.SetMode(gin.ReleaseMode)
	dev, err := auth.NewDev(testkit.DevSecret)
	if err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine := gin.New()
	// As the service does: verified tokens are remembered until they expire.
	readapi.New(rdb, staticModels{keys}, readapi.Config{}, quiet).Register(engine, auth.Cached(dev, 10_000))
	rdb.Set(context.Background(), prefix+":ceiling", "hello", 0)
	engine.GET("/ceiling", func(c *gin.Context) {
		v, err := rdb.Get(c.Request.Context(), prefix+":ceiling").Result()
		if err != nil {
			c.Status(500)
			return
		}
		c.String(200, v)
	})
	ts := httptest.NewServer(engine)
	defer ts.Close()
	userTok, _ := dev.Mint(benchTenant, domain.PrincipalUser, "sub-p-viewer", nil, time.Hour)
	svcTok, _ := dev.Mint(benchTenant, domain.PrincipalService, "portal-backend", []string{string(domain.PermViewersRead)}, time.Hour)
	clients, d := 16, 5*time.Second
	if s := os.Getenv("PORTAL_BENCH_CLIENTS"); s != "" {
		clients, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("PORTAL_BENCH_SECONDS"); s != "" {
		n, _ := strconv.Atoi(s)
		d = time.Duration(n) * time.Second
	}
	get := func(path, tok string) func(*http.Client, int) (int, error) {
		return func(c *http.Client, _ int) (int, error) {
			req, _ := http.NewRequest("GET", ts.URL+path, nil)
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			return do(c, req)
		}
	}
	check := func(tok string, viewer bool) func(*http.Client, int) (int, error) {
		return func(c *http.Client, i int) (int, error) {
			// Tickets across the tenant; one in three of another tenant's ids (refused).
			id := fmt.Sprintf("t-%06d", (i*7919)%(benchCompanies*benchTickets))
			if i%3 == 0 {
				id = "t-unknown-" + strconv.Itoa(i)
			}
			body := map[string]any{"resource": map[string]any{"type": "ticket", "id": id}}
			if viewer {
				body["viewer"] = "p-viewer"
			}
			raw, _ := json.Marshal(body)
			req, _ := http.NewRequest("POST", ts.URL+"/v1/check", bytes.NewReader(raw))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			return do(c, req)
		}
	}
	// Sanity: the listing answers 50 tickets, newest first, and a next page.
	{
		resp, err := http.DefaultClient.Do(mustReq(b, ts.URL+"/v1/me/tickets?limit=50", userTok))
		if err != nil {
			b.Fatal(err)
		}
		var page readapi.Page[readapi.TicketView]
		_ = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if len(page.Items) != 50 || page.NextCursor == "" || page.Items[0].ID != domain.TicketID(fmt.Sprintf("t-%06d", benchCompanies*benchTickets-1)) {
			b.Fatalf("listing: %d items, first %v, next %q", len(page.Items), page.Items[0].ID, page.NextCursor)
		}
	}
	b.ResetTimer()
	if os.Getenv("PORTAL_BENCH_ONLY") == "check" {
		report(b, "POST /v1/check (service, viewer)", load(b, clients, d, check(svcTok, true)), loadResult{})
		return
	}
	if os.Getenv("PORTAL_BENCH_ONLY") == "tickets" {
		report(b, "GET /v1/me/tickets?limit=50", load(b, clients, d, get("/v1/me/tickets?limit=50", userTok)), loadResult{})
		return
	}
	ceiling := load(b, clients, d, get("/ceiling", ""))
	report(b, "ceiling (Gin + one Redis GET)", ceiling, loadResult{})
	report(b, "POST /v1/check (service, viewer)", load(b, clients, d, check(svcTok, true)), ceiling)
	report(b, "POST /v1/check (the user itself)", load(b, clients, d, check(userTok, false)), ceiling)
	report(b, "GET /v1/me/tickets?limit=50", load(b, clients, d, get("/v1/me/tickets?limit=50", userTok)), ceiling)
	report(b, "GET /v1/me/tickets?company=…&limit=50", load(b, clients, d, get("/v1/me/tickets?company=c-042&limit=50", userTok)), ceiling)
}

func mustReq(b testing.TB, url, tok string) *http.Request {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	return req
}
