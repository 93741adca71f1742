package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/commands"
	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/app"
	"github.com/portal-access/backend/internal/auth"
	"github.com/portal-access/backend/internal/benchkit"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/projections"
)

// benchScale sizes the read benchmark's tenant: a viewer whose group has company access to
// every one of companies customer companies, each with ticketsPer tickets.
type benchScale struct {
	companies, ticketsPer int
}

var benchScales = map[string]benchScale{
	"tiny":    {companies: 5, ticketsPer: 20},
	"small":   {companies: 20, ticketsPer: 1000},
	"default": {companies: 100, ticketsPer: 1000},
}

// Section names of the report (the test checks that each one is there).
const (
	secCeilings = "Ceilings"
	secCommands = "Commands over HTTP"
	secLag      = "Accepted → visible lag"
	secBuild    = "Read-model data build (live catch-up)"
	secRead     = "Read API"
	secRebuild  = "Rebuild"
	secMemory   = "Redis memory"
)

var benchSections = []string{secCeilings, secCommands, secLag, secBuild, secRead, secRebuild, secMemory}

// benchTenant is the read benchmark's tenant, synthesized into the event store.
const benchTenant = domain.TenantID("bench-read")

// bench starts the whole service in-process on a fresh data directory and a real Redis,
// measures it phase by phase and prints one report.
func bench(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", stderr)
	redisURL := fs.String("redis", "redis://127.0.0.1:6379", "redis:// URL of a real Redis (memory figures need INFO memory and MEMORY USAGE); required")
	prefix := fs.String("redis-prefix", "", "prefix of the run's keys, all deleted at the end (default: a unique bench-<random>); must hold no keys")
	dataDir := fs.String("data-dir", "", "the embedded event store's directory, empty or new, kept after the run (default: a temporary directory, removed at the end)")
	duration := fs.Duration("duration", 5*time.Second, "how long each measured phase runs")
	clients := fs.Int("clients", 16, "concurrent HTTP clients")
	scale := fs.String("scale", "default", "read data: tiny (100 tickets), small (20 companies × 1,000 tickets) or default (100 × 1,000)")
	lagRate := fs.Float64("lag-rate", 0, "commands/s of the lag phase (default: 1,000, or 70% of the measured command throughput if lower)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	logLevel := fs.String("log-level", "warn", "the service's log level (to the standard error): debug, info, warn or error")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	sc, ok := benchScales[*scale]
	if !ok {
		return usageErr("bench: bad --scale %q: use tiny, small or default", *scale)
	}
	if *duration <= 0 {
		return usageErr("bench: --duration must be positive")
	}
	if *clients < 1 {
		return usageErr("bench: --clients must be at least 1")
	}
	if *lagRate < 0 {
		return usageErr("bench: --lag-rate must not be negative")
	}
	if strings.TrimSpace(*redisURL) == "" {
		return usageErr("bench: --redis is required: the memory figures need a real Redis (INFO memory, MEMORY USAGE), which the in-process store does not have")
	}
	opts, err := app.ParseRedisURL(*redisURL)
	if err != nil {
		return usageErr("bench: bad --redis: %v", err)
	}
	logger, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// go-redis would print its dial failures on the standard error; the failure is reported once,
	// below (the service routes them to its log once it has started).
	redis.SetLogger(quietRedisLog{})
	opts.DialerRetries = 1
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		return fmt.Errorf("bench: redis at %s is not reachable: %w", opts.Addr, err)
	}
	if *prefix == "" {
		*prefix = "bench-" + randomHex(4)
	} else if it := rdb.Scan(pctx, 0, *prefix+":*", 1000).Iterator(); it.Next(pctx) {
		return usageErr("bench: --redis-prefix %q already holds keys (%s …): give a prefix of its own, every key under it is deleted at the end", *prefix, it.Val())
	}
	version, err := benchkit.RealRedis(pctx, rdb, *prefix+":probe")
	if err != nil {
		return fmt.Errorf("bench: --redis %s: %w (the in-process store cannot be measured)", opts.Addr, err)
	}
	cancel()

	dir := *dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "portald-bench-*"); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(dir)
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("bench: --data-dir: %w", err)
		}
		if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
			return usageErr("bench: --data-dir %s must be empty or new", dir)
		}
	}
	// Every key of the run goes, whatever happens.
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = benchkit.DeleteKeys(dctx, rdb, *prefix+":*")
	}()

	b := &benchRun{
		ctx: ctx, rdb: rdb, redisURL: *redisURL, prefix: *prefix, dataDir: dir, d: *duration, clients: *clients, scale: sc,
		lagRate: *lagRate, stderr: stderr, logger: logger,
		report: &benchkit.Report{Title: "portald bench", Started: time.Now()},
	}
	b.report.Machine = benchkit.ReadMachine(dir)
	b.report.Machine.RedisVersion, b.report.Machine.RedisAddr = version, opts.Addr
	b.report.Set("phase duration", duration.String())
	b.report.Set("clients", fmt.Sprint(*clients))
	b.report.Set("scale", fmt.Sprintf("%s: %d companies × %d tickets", *scale, sc.companies, sc.ticketsPer))
	b.report.Set("Redis prefix", *prefix)
	err = b.run()
	b.report.Finished = time.Now()
	b.report.Machine.LoadEnd = benchkit.LoadAverage()
	if err != nil {
		return err
	}
	if *asJSON {
		err = b.report.WriteJSON(stdout)
	} else {
		err = b.report.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if err := b.report.Err(); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// benchRun is one run of the benchmark.
type benchRun struct {
	ctx      context.Context
	rdb      *redis.Client
	redisURL string
	prefix   string
	dataDir  string
	d        time.Duration
	clients  int
	scale    benchScale
	lagRate  float64
	stderr   io.Writer
	logger   *slog.Logger
	report   *benchkit.Report

	app *app.App
	dev *auth.Dev
	reg *eventschema.Registry
	url string
	hc  *http.Client

	fsync, fdatasync, ginGet benchkit.Result
	bestCommands             float64
}

func (b *benchRun) progress(format string, args ...any) {
	fmt.Fprintf(b.stderr, "bench: "+format+"\n", args...)
}

// run starts the service and runs the phases. A failed phase is recorded in its section and
// the next phases still run when they can; only a failure to start is returned.
func (b *benchRun) run() error {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	dev, err := auth.NewDev(secret)
	if err != nil {
		return err
	}
	b.dev = dev
	if b.reg, err = eventschema.Portal(); err != nil {
		return err
	}
	b.progress("starting the service (embedded event store in %s, Redis prefix %s, GC target %d)", b.dataDir, b.prefix, app.TuneRuntime())
	sctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	b.app, err = app.Start(sctx, app.Config{DataDir: b.dataDir, HTTPAddr: "127.0.0.1:0", ESDBListen: "127.0.0.1:0",
		RedisURL: b.redisURL, RedisPrefix: b.prefix,
		Logger: b.logger, Authenticator: dev})
	if err != nil {
		return fmt.Errorf("bench: start the service: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = b.app.Close(cctx)
	}()
	b.url = "http://" + b.app.HTTPAddr()
	b.hc = benchkit.NewHTTPClient(max(b.clients, 64))
	defer b.hc.CloseIdleConnections()

	b.ceilings()
	tenants := b.commands()
	b.lag(tenants)
	if b.build() {
		b.read()
	} else {
		b.report.Section(secRead, "").Fail(errors.New("skipped: the read data could not be built"))
	}
	gen, events := b.rebuild()
	b.memory(gen, events)
	if err := b.ctx.Err(); err != nil {
		return fmt.Errorf("bench: interrupted")
	}
	return nil
}

// --- 1. ceilings

func (b *benchRun) ceilings() {
	s := b.report.Section(secCeilings, "What the machine allows, measured in this run: durable commits on the data directory's "+
		"filesystem (one writer, 512 B per sync) and a Gin handler doing one Redis GET, driven by the same load generator as the API.",
		benchkit.LoadColumns("ops/s")...)
	var err error
	b.progress("ceilings: fsync on %s", b.dataDir)
	b.fsync, err = benchkit.FsyncCeiling(b.ctx, b.dataDir, benchkit.AppendFsync, b.d)
	if !s.Fail(err) {
		s.Add(string(benchkit.AppendFsync)+" (fsync/s)", b.fsync.Values())
	}
	b.fdatasync, err = benchkit.FsyncCeiling(b.ctx, b.dataDir, benchkit.OverwriteFdatasync, b.d)
	if !s.Fail(err) {
		s.Add(string(benchkit.OverwriteFdatasync)+" (fsync/s)", b.fdatasync.Values())
	}
	b.progress("ceilings: Gin + one Redis GET, %d clients", b.clients)
	c, err := benchkit.StartGinRedisCeiling(b.ctx, b.rdb, b.prefix+":ceiling")
	if s.Fail(err) {
		return
	}
	defer c.Close()
	b.ginGet = benchkit.Run(b.ctx, benchkit.Options{Clients: b.clients, Duration: b.d, Warmup: 4, Redis: b.rdb}, c.Op(b.hc))
	if !s.Fail(b.ginGet.Err()) {
		s.Add("Gin + one Redis GET (requests/s)", b.ginGet.Values())
	}
}

// --- 2. commands

// cmdTenant is a tenant of the command phases: its first admin's token and a customer company.
type cmdTenant struct {
	id      domain.TenantID
	token   string
	company string
}

// post sends a command and returns its status, answer and log position (X-Log-Position).
func (b *benchRun) post(ctx context.Context, method, path, token string, body any) (int, []byte, eventstore.Position, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, nil, eventstore.Position{}, err
	}
	req, err := http.NewRequestWithContext(ctx, method, b.url+path, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, eventstore.Position{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	status, answer, header, err := benchkit.Do(b.hc, req)
	if err != nil {
		return 0, nil, eventstore.Position{}, err
	}
	var pos eventstore.Position
	if h := header.Get("X-Log-Position"); h != "" {
		if pos, err = projections.ParsePosition(h); err != nil {
			return status, answer, pos, err
		}
	}
	return status, answer, pos, nil
}

// command sends a command that must answer want.
func (b *benchRun) command(ctx context.Context, method, path, token string, body any, want int) ([]byte, eventstore.Position, error) {
	status, answer, pos, err := b.post(ctx, method, path, token, body)
	if err != nil {
		return nil, pos, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status != want {
		return nil, pos, fmt.Errorf("%s %s: %d %s", method, path, status, bytes.TrimSpace(answer))
	}
	return answer, pos, nil
}

func idOf(answer []byte, name string) string {
	var res struct {
		IDs map[string]string `json:"ids"`
	}
	_ = json.Unmarshal(answer, &res)
	return res.IDs[name]
}

// newTenant bootstraps a tenant as 'portald tenant create' does, lets its first admin accept
// the invitation and registers a customer company.
func (b *benchRun) newTenant(id string) (cmdTenant, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	res, err := b.app.Commands.Directory.CreateTenant.Handle(ctx, commands.Meta{Tenant: domain.TenantID(id), Principal: domain.System(), Reason: "portald bench"},
		commands.CreateTenant{Tenant: id, Name: "Bench " + id, Seats: 1000, AdminName: "Bench Admin", AdminEmail: "admin@" + id + ".example"})
	if err != nil {
		return cmdTenant{}, fmt.Errorf("create tenant %s: %w", id, err)
	}
	t := cmdTenant{id: domain.TenantID(id)}
	if t.token, err = b.dev.Mint(t.id, domain.PrincipalUser, id+"-admin", nil, 24*time.Hour); err != nil {
		return t, err
	}
	status, answer, _, err := b.post(ctx, http.MethodPost, "/v1/invitations/accept", t.token, map[string]any{"token": res.IDs["invitation_token"]})
	if err != nil || (status != http.StatusOK && status != http.StatusCreated) {
		return t, fmt.Errorf("tenant %s: accept the first admin's invitation: %d %s %v", id, status, bytes.TrimSpace(answer), err)
	}
	answer, _, err = b.command(ctx, http.MethodPost, "/v1/companies", t.token, map[string]any{"name": "Customer of " + id, "kind": "customer"}, http.StatusCreated)
	if err != nil {
		return t, fmt.Errorf("tenant %s: %w", id, err)
	}
	t.company = idOf(answer, "company_id")
	return t, nil
}

// commands measures RegisterCompany and OpenTicket over HTTP, every client on one tenant and
// one tenant per client; it returns the per-client tenants for the lag phase.
func (b *benchRun) commands() []cmdTenant {
	cols := append(benchkit.LoadColumns("commands/s"), benchkit.Column{Key: "ceiling", Title: "fsync ceiling", Unit: "fsync/s"},
		benchkit.Column{Key: "per_sync", Title: "commands per ceiling sync", Unit: "x"})
	s := b.report.Section(secCommands, "Each command is one HTTP request with a development token, answered after its events' durable "+
		"append to the embedded event store (the live projections run meanwhile: CPU/op includes them). "+
		"Commands on one tenant serialize on its directory stream and are group-committed.", cols...)
	b.progress("commands: setting up %d tenants", b.clients+1)
	shared, err := b.newTenant("bench-cmd")
	if s.Fail(err) {
		return nil
	}
	spread := make([]cmdTenant, b.clients)
	for i := range spread {
		if spread[i], err = b.newTenant(fmt.Sprintf("bench-cmd-%d", i)); s.Fail(err) {
			return nil
		}
	}
	tenantOf := func(perClient bool, worker int) cmdTenant {
		if perClient {
			return spread[worker]
		}
		return shared
	}
	kinds := []struct {
		name string
		op   func(t cmdTenant, seq int) (string, any)
	}{
		{"RegisterCompany", func(_ cmdTenant, seq int) (string, any) {
			return "/v1/companies", map[string]any{"name": fmt.Sprintf("Company %d", seq), "kind": "customer"}
		}},
		{"OpenTicket", func(t cmdTenant, seq int) (string, any) {
			return "/v1/tickets", map[string]any{"company": t.company, "type": "incident", "title": fmt.Sprintf("The printer is jammed again (%d)", seq)}
		}},
	}
	for _, k := range kinds {
		for _, perClient := range []bool{false, true} {
			label := fmt.Sprintf("%s, %d clients, one tenant", k.name, b.clients)
			if perClient {
				label = fmt.Sprintf("%s, %d clients, a tenant per client", k.name, b.clients)
			}
			b.progress("commands: %s", label)
			r := benchkit.Run(b.ctx, benchkit.Options{Clients: b.clients, Duration: b.d, Warmup: 2, Redis: b.rdb},
				func(ctx context.Context, worker, seq int) error {
					t := tenantOf(perClient, worker)
					path, body := k.op(t, seq)
					_, _, err := b.command(ctx, http.MethodPost, path, t.token, body, http.StatusCreated)
					return err
				})
			if s.Fail(r.Err()) {
				continue
			}
			v := r.Values()
			if b.fsync.PerSecond > 0 {
				v = v.With(benchkit.V{"ceiling": b.fsync.PerSecond, "per_sync": r.PerSecond / b.fsync.PerSecond})
			}
			s.Add(label, v)
			b.bestCommands = max(b.bestCommands, r.PerSecond)
		}
	}
	return spread
}

// --- 3. accepted → visible

func (b *benchRun) lag(tenants []cmdTenant) {
	cols := []benchkit.Column{
		{Key: "target", Title: "target", Unit: "commands/s"},
		{Key: "rate", Title: "achieved", Unit: "commands/s"},
		{Key: "accept_p50", Title: "accept p50", Unit: "ms"},
		{Key: "accept_p99", Title: "accept p99", Unit: "ms"},
		{Key: "lag_p50", Title: "lag p50", Unit: "ms"},
		{Key: "lag_p99", Title: "lag p99", Unit: "ms"},
		{Key: "lag_max", Title: "lag max", Unit: "ms"},
		{Key: "ops", Title: "commands"},
		{Key: "errors", Title: "errors"},
	}
	s := b.report.Section(secLag, "Commands paced at a fixed rate (open loop; 80% OpenTicket, 20% RegisterCompany over the tenants "+
		"of the command phase). Accept is request → answer; lag is answer → every live projection has applied the answer's "+
		"X-Log-Position (Projections.WaitFor), waited for beside the client.", cols...)
	if len(tenants) == 0 {
		s.Fail(errors.New("skipped: no tenants (the command phase failed)"))
		return
	}
	rate := b.lagRate
	if rate == 0 {
		rate = 1000
		if b.bestCommands > 0 {
			rate = min(rate, max(0.7*b.bestCommands, 10))
		}
	}
	b.progress("lag: %.0f commands/s", rate)
	var lags benchkit.Samples
	var waiters sync.WaitGroup
	var late atomic.Int64
	var lateErr atomic.Pointer[string]
	r := benchkit.Run(b.ctx, benchkit.Options{Clients: 2 * b.clients, Duration: b.d, Rate: rate},
		func(ctx context.Context, _, seq int) error {
			t := tenants[seq%len(tenants)]
			path, body := "/v1/tickets", any(map[string]any{"company": t.company, "type": "incident", "title": "Lag probe"})
			if seq%5 == 4 {
				path, body = "/v1/companies", map[string]any{"name": fmt.Sprintf("Lag company %d", seq), "kind": "customer"}
			}
			_, pos, err := b.command(ctx, http.MethodPost, path, t.token, body, http.StatusCreated)
			if err != nil {
				return err
			}
			accepted := time.Now()
			if pos == (eventstore.Position{}) {
				return errors.New("no X-Log-Position in the answer")
			}
			waiters.Go(func() {
				wctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
				defer cancel()
				if err := b.app.Projections.WaitFor(wctx, pos); err != nil {
					late.Add(1)
					msg := fmt.Sprintf("position %s not visible within 10 s: %v", pos, err)
					lateErr.CompareAndSwap(nil, &msg)
					return
				}
				lags.Add(time.Since(accepted))
			})
			return nil
		})
	waiters.Wait()
	failed := s.Fail(r.Err())
	if n := late.Load(); n > 0 {
		s.Fail(fmt.Errorf("%d commands not visible within 10 s (first: %s)", n, *lateErr.Load()))
		failed = true
	}
	all := lags.Sorted()
	if failed && len(all) == 0 {
		return
	}
	s.Add(fmt.Sprintf("%d clients, %d tenants", 2*b.clients, len(tenants)), benchkit.V{
		"target": rate, "rate": r.PerSecond, "accept_p50": benchkit.Ms(r.P50), "accept_p99": benchkit.Ms(r.P99),
		"lag_p50": benchkit.Ms(benchkit.Percentile(all, 0.5)), "lag_p99": benchkit.Ms(benchkit.Percentile(all, 0.99)),
		"lag_max": benchkit.Ms(benchkit.Percentile(all, 1)), "ops": float64(r.Ops), "errors": float64(r.Errors + int(late.Load())),
	})
}

// --- 4. read data and read API

// readTenant synthesizes the read benchmark's tenant as the command side would have written
// it: the directory (the provider, the group g-partners with company access to every customer
// company, each with 10 sites, and two users of the group, p-viewer and p-colleague) and then
// the tickets, one stream each, opened round-robin over the companies.
func (b *benchRun) readTenant() (directory []eventstore.EventData, tickets []benchAppend, err error) {
	at := time.Now().UTC().Add(-time.Hour)
	encode := func(command string, evs ...domain.Event) ([]eventstore.EventData, error) {
		at = at.Add(time.Millisecond)
		cause := randomHex(8)
		out := make([]eventstore.EventData, 0, len(evs))
		for _, ev := range evs {
			env := eventschema.Envelope{EventID: uuid.New(), Type: ev.EventType(), Tenant: string(benchTenant), OccurredAt: at,
				Actor: eventschema.SystemActor(), CorrelationID: cause, CausationID: cause, Command: command}
			enc, err := b.reg.Encode(eventschema.Event{Envelope: env, Payload: ev})
			if err != nil {
				return nil, err
			}
			out = append(out, eventstore.EventData{ID: enc.EventID, Type: enc.Type, Data: enc.Data, Metadata: enc.Metadata})
		}
		return out, nil
	}
	add := func(command string, evs ...domain.Event) {
		if err != nil {
			return
		}
		var enc []eventstore.EventData
		enc, err = encode(command, evs...)
		directory = append(directory, enc...)
	}
	add("CreateTenant", domain.TenantConfigured{Tenant: benchTenant, Name: "Bench read", Seats: 5000})
	add("RegisterCompany", domain.CompanyRegistered{Company: "c-provider", Name: "Provider", Kind: domain.KindProvider})
	add("CreateUserGroup", domain.UserGroupCreated{Group: "g-partners", Name: "Partners", Permissions: domain.PermissionSet{Named: "support"}})
	sites := make([][]domain.SiteID, b.scale.companies)
	for i := range b.scale.companies {
		c := companyID(i)
		add("RegisterCompany", domain.CompanyRegistered{Company: c, Name: "Customer " + string(c), Kind: domain.KindCustomer})
		for k := range 10 {
			site := domain.SiteID(fmt.Sprintf("%s-s%d", c, k))
			sites[i] = append(sites[i], site)
			add("AddSite", domain.SiteAdded{Company: c, Site: site, Name: "Site " + string(site)})
		}
		add("GrantCompanyAccess", domain.CompanyAccessGranted{Level: domain.LevelGroup, Holder: "g-partners", Target: c})
	}
	exp := at.Add(7 * 24 * time.Hour)
	for _, p := range []domain.PersonID{"p-viewer", "p-colleague"} {
		add("InviteUser", domain.UserInvited{Person: p, Name: "Viewer " + string(p), Email: string(p) + "@bench.example", HomeCompany: "c-provider",
			Group: "g-partners", Class: domain.ClassNormal, TokenHash: randomHex(16), ExpiresAt: exp})
		add("AcceptInvitation", domain.InvitationAccepted{Person: p, Subject: "sub-" + string(p)})
	}
	if err != nil {
		return nil, nil, err
	}
	n := b.scale.companies * b.scale.ticketsPer
	tickets = make([]benchAppend, 0, n)
	for i := range n {
		c := i % b.scale.companies
		id := ticketID(i)
		evs, err := encode("OpenTicket", domain.TicketOpened{Ticket: id, Company: companyID(c), Site: sites[c][(i/b.scale.companies)%10],
			Type: "incident", Status: domain.TicketOpen, Title: "The printer on the third floor is jammed again"})
		if err != nil {
			return nil, nil, err
		}
		tickets = append(tickets, benchAppend{stream: commands.TicketStream(benchTenant, id), events: evs})
	}
	return directory, tickets, nil
}

type benchAppend struct {
	stream string
	events []eventstore.EventData
}

func companyID(i int) domain.CompanyID { return domain.CompanyID(fmt.Sprintf("c-%03d", i)) }
func ticketID(i int) domain.TicketID   { return domain.TicketID(fmt.Sprintf("t-%06d", i)) }

// build appends the read tenant to the event store (the directory in appends of 500 events,
// each ticket in its own stream from 32 writers) and waits for the live projections.
func (b *benchRun) build() bool {
	cols := []benchkit.Column{
		{Key: "events", Title: "events"},
		{Key: "appends", Title: "appends"},
		{Key: "seconds", Title: "time", Unit: "s"},
		{Key: "rate", Title: "throughput", Unit: "events/s"},
		{Key: "cpu", Title: "CPU/event", Unit: "µs"},
		{Key: "redis_cpu", Title: "Redis CPU/event", Unit: "µs"},
	}
	s := b.report.Section(secBuild, fmt.Sprintf("The read tenant (%d companies × %d tickets, a viewer whose group has company access "+
		"to all of them) is synthesized and appended through the official client; the live projections (every read model) "+
		"follow it. \"caught up\" runs from the first append until the projections have applied the last one.",
		b.scale.companies, b.scale.ticketsPer), cols...)
	directory, tickets, err := b.readTenant()
	if s.Fail(err) {
		return false
	}
	b.progress("read data: appending %d events (%d tickets)", len(directory)+len(tickets), len(tickets))
	ctx := b.ctx
	cpu0 := benchkit.ProcessCPU()
	rcpu0, _ := benchkit.RedisCPU(ctx, b.rdb)
	start := time.Now()
	appends := 0
	for evs := directory; len(evs) > 0; {
		n := min(500, len(evs))
		if _, err := b.app.Store.Append(ctx, commands.DirectoryStream(benchTenant), eventstore.Any(), evs[:n]...); s.Fail(err) {
			return false
		}
		appends++
		evs = evs[n:]
	}
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(tickets) || firstErr.Load() != nil {
					return
				}
				if _, err := b.app.Store.Append(ctx, tickets[i].stream, eventstore.NoStream(), tickets[i].events...); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		s.Fail(*p)
		return false
	}
	appended := time.Since(start)
	appendCPU := benchkit.ProcessCPU() - cpu0
	appends += len(tickets)
	events := len(directory) + len(tickets)
	head, err := b.app.Store.LastPosition(ctx)
	if s.Fail(err) {
		return false
	}
	b.progress("read data: appended in %v; waiting for the live projections", appended.Round(time.Millisecond))
	wctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	if s.Fail(b.app.Projections.WaitFor(wctx, head)) {
		return false
	}
	caught := time.Since(start)
	cpu := benchkit.ProcessCPU() - cpu0
	rcpu1, _ := benchkit.RedisCPU(ctx, b.rdb)
	perEvent := func(d time.Duration) float64 { return benchkit.Us(d) / float64(events) }
	s.Add("append (official client, durable)", benchkit.V{"events": float64(events), "appends": float64(appends),
		"seconds": appended.Seconds(), "rate": float64(events) / appended.Seconds(), "cpu": perEvent(appendCPU)})
	s.Add("appended → live projections caught up", benchkit.V{"events": float64(events), "seconds": caught.Seconds(),
		"rate": float64(events) / caught.Seconds(), "cpu": perEvent(cpu), "redis_cpu": perEvent(rcpu1 - rcpu0)})
	return true
}

// read measures POST /v1/check and GET /v1/me/tickets?limit=50 for the read tenant's viewer.
func (b *benchRun) read() {
	cols := append(benchkit.LoadColumns("requests/s"), benchkit.Column{Key: "pct", Title: "of the ceiling", Unit: "%"},
		benchkit.Column{Key: "cpu_pct", Title: "ceiling's CPU/op vs this", Unit: "%"})
	total := b.scale.companies * b.scale.ticketsPer
	s := b.report.Section(secRead, fmt.Sprintf("The read tenant's viewer sees %d companies × %d tickets. check: a service token with "+
		"viewers:read asks about the viewer and a ticket of the tenant (one request in three an unknown id). listing: the viewer's "+
		"first page of 50 tickets. \"of the ceiling\" compares requests/s with the Gin + Redis GET ceiling; the last column compares "+
		"CPU per request (this process + Redis).", b.scale.companies, b.scale.ticketsPer), cols...)
	userTok, err1 := b.dev.Mint(benchTenant, domain.PrincipalUser, "sub-p-viewer", nil, 24*time.Hour)
	svcTok, err2 := b.dev.Mint(benchTenant, domain.PrincipalService, "portald-bench", []string{string(domain.PermViewersRead)}, 24*time.Hour)
	if s.Fail(errors.Join(err1, err2)) {
		return
	}
	get := func(ctx context.Context, path string) (int, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url+path, nil)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+userTok)
		status, body, _, err := benchkit.Do(b.hc, req)
		return status, body, err
	}
	// Sanity: the first page holds the newest 50 tickets.
	status, body, err := get(b.ctx, "/v1/me/tickets?limit=50")
	if s.Fail(err) {
		return
	}
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	_ = json.Unmarshal(body, &page)
	if status != http.StatusOK || len(page.Items) != min(50, total) {
		s.Fail(fmt.Errorf("GET /v1/me/tickets?limit=50: %d, %d items, want %d: %.200s", status, len(page.Items), min(50, total), body))
		return
	}
	check := func(ctx context.Context, _, seq int) error {
		id := string(ticketID((seq * 7919) % total))
		if seq%3 == 0 {
			id = fmt.Sprintf("t-unknown-%d", seq)
		}
		raw, _ := json.Marshal(map[string]any{"viewer": "p-viewer", "resource": map[string]any{"type": "ticket", "id": id}})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url+"/v1/check", bytes.NewReader(raw))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+svcTok)
		req.Header.Set("Content-Type", "application/json")
		status, body, _, err := benchkit.Do(b.hc, req)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("POST /v1/check: %d %.200s", status, body)
		}
		return nil
	}
	list := func(ctx context.Context, _, _ int) error {
		status, body, err := get(ctx, "/v1/me/tickets?limit=50")
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("GET /v1/me/tickets: %d %.200s", status, body)
		}
		return nil
	}
	if b.ginGet.Ops > 0 {
		s.Add("ceiling: Gin + one Redis GET (from "+secCeilings+")", b.ginGet.Values().With(benchkit.V{"pct": 100, "cpu_pct": 100}))
	}
	for _, c := range []struct {
		label string
		op    benchkit.Op
	}{
		{"POST /v1/check (service token, viewer p-viewer)", check},
		{"GET /v1/me/tickets?limit=50 (the viewer)", list},
	} {
		b.progress("read: %s", c.label)
		r := benchkit.Run(b.ctx, benchkit.Options{Clients: b.clients, Duration: b.d, Warmup: 4, Redis: b.rdb}, c.op)
		if s.Fail(r.Err()) {
			continue
		}
		v := r.Values()
		if b.ginGet.PerSecond > 0 {
			v["pct"] = 100 * r.PerSecond / b.ginGet.PerSecond
			if own := r.CPUPerOp + r.RedisCPUPerOp; own > 0 {
				v["cpu_pct"] = 100 * float64(b.ginGet.CPUPerOp+b.ginGet.RedisCPUPerOp) / float64(own)
			}
		}
		s.Add(c.label, v)
	}
}

// --- 5. rebuild

// rebuild reads the whole log once (the ceiling) and rebuilds every read model into a new
// generation; it returns that generation (0 when it failed) and the events it applied.
func (b *benchRun) rebuild() (int64, int) {
	cols := []benchkit.Column{
		{Key: "events", Title: "events"},
		{Key: "seconds", Title: "time", Unit: "s"},
		{Key: "rate", Title: "throughput", Unit: "events/s"},
		{Key: "pct", Title: "of the ceiling", Unit: "%"},
		{Key: "cpu", Title: "CPU/event", Unit: "µs"},
		{Key: "redis_cpu", Title: "Redis CPU/event", Unit: "µs"},
	}
	s := b.report.Section(secRebuild, "projections.Rebuild of every read model (visibility, directory, audit) from the whole log the run "+
		"wrote into a new generation, as 'portald rebuild' does; the ceiling reads the same log through the official client "+
		"(pages of 4,096, nothing applied).", cols...)
	ctx := b.ctx
	head, err := b.app.Store.LastPosition(ctx)
	if s.Fail(err) {
		return 0, 0
	}
	b.progress("rebuild: reading the log (head %s)", head)
	cpu0 := benchkit.ProcessCPU()
	start := time.Now()
	var read int
	var from, last eventstore.Position
	for {
		n := 0
		err := b.app.Store.ReadAll(ctx, from, 4096, func(e eventstore.RecordedEvent) error {
			n++
			if !last.Less(e.Position) {
				return nil
			}
			last = e.Position
			if !strings.HasPrefix(e.Type, "$") {
				read++
			}
			return nil
		})
		if s.Fail(err) {
			return 0, 0
		}
		if n < 4096 {
			break
		}
		from = last
	}
	readTime, readCPU := time.Since(start), benchkit.ProcessCPU()-cpu0
	readRate := float64(read) / readTime.Seconds()
	s.Add("ceiling: read $all only", benchkit.V{"events": float64(read), "seconds": readTime.Seconds(), "rate": readRate, "pct": 100,
		"cpu": benchkit.Us(readCPU) / float64(max(read, 1))})

	b.progress("rebuild: %d events", read)
	cpu0 = benchkit.ProcessCPU()
	rcpu0, _ := benchkit.RedisCPU(ctx, b.rdb)
	start = time.Now()
	var done uint64
	res, err := projections.Rebuild(ctx, b.rdb, b.app.Store, b.reg, app.ReadModels(b.app.Store, b.reg), b.prefix, head,
		func(d, _ uint64, _ time.Duration) { done = d })
	cpu := benchkit.ProcessCPU() - cpu0
	rcpu1, _ := benchkit.RedisCPU(ctx, b.rdb)
	if s.Fail(err) {
		return 0, 0
	}
	if done == 0 {
		done = uint64(read)
	}
	rate := float64(done) / res.Built.Seconds()
	s.Add(fmt.Sprintf("rebuild, all read models → generation %d", res.Generation), benchkit.V{"events": float64(done),
		"seconds": res.Built.Seconds(), "rate": rate, "pct": 100 * rate / readRate, "cpu": benchkit.Us(cpu) / float64(done),
		"redis_cpu": benchkit.Us(rcpu1-rcpu0) / float64(done)})
	// The old generation goes once the service has followed the switch (its restart replays the
	// log): a line of its own, not part of the rebuild's speed.
	if res.Previous == 0 {
		return res.Generation, read
	}
	dropStart := time.Now()
	dropped, err := res.DropPrevious(ctx)
	if s.Fail(err) {
		return res.Generation, read
	}
	what := "deleted once the service had left it"
	if !dropped {
		what = "still read: left in place"
	}
	s.Add(fmt.Sprintf("then generation %d %s", res.Previous, what), benchkit.V{"seconds": time.Since(dropStart).Seconds()})
	return res.Generation, read
}

// --- 6. memory

// memoryKind names what a read-model key holds, from its part after the tenant's hash tag.
func memoryKind(rest string) string {
	for _, k := range []struct{ prefix, kind string }{
		{"vis:v:", "vis viewer tables"},
		{"vis:r:", "vis reverse indexes"},
		{"vis:t:", "vis ticket hashes"},
		{"vis:i:t", "vis ticket indexes"},
		{"vis:", "vis other"},
		{"dir:t-", "dir ticket lists"},
		{"dir:t:", "dir ticket hashes"},
		{"dir:p:", "dir people"},
		{"dir:", "dir other"},
		{"audit:e:", "audit entries"},
		{"audit:", "audit indexes"},
	} {
		if strings.HasPrefix(rest, k.prefix) {
			return k.kind
		}
	}
	return "other"
}

// memory measures every key of the rebuilt generation with MEMORY USAGE and reports bytes per
// viewer, per ticket and per audited event.
func (b *benchRun) memory(gen int64, events int) {
	cols := []benchkit.Column{
		{Key: "count", Title: "count"},
		{Key: "bytes", Title: "memory", Unit: "B"},
		{Key: "per", Title: "per item", Unit: "B"},
	}
	s := b.report.Section(secMemory, "MEMORY USAGE (exact, SAMPLES 0) of every key of the rebuilt generation, by kind of key; the "+
		"per-viewer figure is the viewers' visibility tables and reverse indexes over the viewers that have a table, the "+
		"per-ticket figures the ticket hashes, indexes and lists over the tickets, the audit figure the audit trail over the "+
		"events it records.", cols...)
	if gen == 0 {
		s.Fail(errors.New("skipped: no rebuilt generation"))
		return
	}
	ctx := b.ctx
	keys := projections.Keys{Prefix: b.prefix, Gen: gen}
	var viewers, tickets int64
	stats, err := benchkit.MemoryByKind(ctx, b.rdb, keys.Generation(), func(key string) string {
		_, rest, ok := strings.Cut(key, "}:")
		if !ok {
			return "other (checkpoints)"
		}
		kind := memoryKind(rest)
		switch {
		case kind == "vis viewer tables" && !strings.Contains(strings.TrimPrefix(rest, "vis:v:"), ":"):
			viewers++
		case kind == "vis ticket hashes":
			tickets++
		}
		return kind
	})
	if s.Fail(err) {
		return
	}
	by := map[string]int64{}
	var all, allKeys int64
	for _, st := range stats {
		s.Add("keys: "+st.Kind, benchkit.V{"count": float64(st.Keys), "bytes": float64(st.Bytes), "per": float64(st.Bytes) / float64(st.Keys)})
		by[st.Kind] = st.Bytes
		all += st.Bytes
		allKeys += st.Keys
	}
	s.Add("keys: all of generation "+fmt.Sprint(gen), benchkit.V{"count": float64(allKeys), "bytes": float64(all), "per": float64(all) / float64(max(allKeys, 1))})
	per := func(label string, n int64, bytes int64) {
		if n > 0 {
			s.Add(label, benchkit.V{"count": float64(n), "bytes": float64(bytes), "per": float64(bytes) / float64(n)})
		}
	}
	per("per viewer (visibility)", viewers, by["vis viewer tables"]+by["vis reverse indexes"])
	visTicket := by["vis ticket hashes"] + by["vis ticket indexes"]
	dirTicket := by["dir ticket hashes"] + by["dir ticket lists"]
	per("per ticket (visibility)", tickets, visTicket)
	per("per ticket (directory)", tickets, dirTicket)
	per("per ticket (visibility + directory)", tickets, visTicket+dirTicket)
	per("per event (audit trail)", int64(events), by["audit entries"]+by["audit indexes"])
	if viewers == 0 || tickets == 0 {
		s.Fail(fmt.Errorf("found %d viewer tables and %d ticket hashes: the key layout changed? (kinds: %v)", viewers, tickets, stats))
	}
	if used, err := benchkit.UsedMemory(ctx, b.rdb); err == nil {
		s.Add("Redis used_memory at the end (whole server)", benchkit.V{"bytes": float64(used)})
	}
}
