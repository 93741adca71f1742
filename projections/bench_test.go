package projections_test

// Benchmarks of the read side over the real stack: the embedded event store (through the
// official client over gRPC) and the real Redis at testkit.RedisAddr().
//
//	go test ./projections -run '^$' -bench 'Rebuild|LiveCatchUp' -benchtime 1x -timeout 30m -v
//	go test ./projections -run '^$' -bench 'AcceptedToVisibleLag' -benchtime 3000x -timeout 10m -v
//
// PORTAL_BENCH_REBUILD_EVENTS=40000 shrinks the rebuild log (default 200,000) while profiling.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/app"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/internal/testkit/world"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/audit"
	"github.com/portal-access/backend/projections/directory"
	"github.com/portal-access/backend/projections/visibility"
)

// --- the rebuild log

// benchAppend is one append: a stream and the events one command wrote to it.
type benchAppend struct {
	stream string
	events []eventstore.EventData
}

// benchEncoder encodes domain events with full envelopes, as the command side writes them.
type benchEncoder struct {
	reg *eventschema.Registry
	tb  testing.TB
}

func (e benchEncoder) encode(tenant domain.TenantID, command string, actor eventschema.Actor, at time.Time, evs ...domain.Event) []eventstore.EventData {
	cause := uuid.NewString()
	out := make([]eventstore.EventData, 0, len(evs))
	for _, ev := range evs {
		env := eventschema.Envelope{EventID: uuid.New(), Type: ev.EventType(), Tenant: string(tenant), OccurredAt: at,
			Actor: actor, CorrelationID: cause, CausationID: cause, Command: command}
		enc, err := e.reg.Encode(eventschema.Event{Envelope: env, Payload: ev})
		if err != nil {
			e.tb.Fatal(err)
		}
		out = append(out, eventstore.EventData{ID: enc.EventID, Type: enc.Type, Data: enc.Data, Metadata: enc.Metadata})
	}
	return out
}

// rebuildTenant is one tenant's log: its directory (a random world's accepted commands, with
// the world's own tickets and documents) and then its ticket traffic, ticket by ticket.
type rebuildTenant struct {
	directory []benchAppend
	tickets   [][]benchAppend // per ticket, in order
}

func (t rebuildTenant) events() int {
	n := 0
	for _, a := range t.directory {
		n += len(a.events)
	}
	for _, tk := range t.tickets {
		for _, a := range tk {
			n += len(a.events)
		}
	}
	return n
}

// makeRebuildTenant relabels the random world of seed as tenant id and adds tickets: opened by
// an active person at one of the tenant's sites, half of them moved to in_progress, a third
// commented, one in ten assigned to a guest contractor — many tickets over few viewers.
func makeRebuildTenant(tb testing.TB, enc benchEncoder, id domain.TenantID, seed int64, worldSize, tickets int) rebuildTenant {
	w := world.Generate(seed, worldSize)
	var rt rebuildTenant
	relabel := func(stream string) string {
		switch {
		case stream == world.DirectoryStream(w.Tenant):
			return world.DirectoryStream(id)
		case len(stream) > len("ticket-w-") && stream[:len("ticket-w-")] == "ticket-w-":
			return "ticket-" + string(id) + "-" + stream[len("ticket-w-"):]
		case len(stream) > len("document-w-") && stream[:len("document-w-")] == "document-w-":
			return "document-" + string(id) + "-" + stream[len("document-w-"):]
		}
		tb.Fatalf("unexpected world stream %q", stream)
		return ""
	}
	for _, st := range w.Steps {
		actor := eventschema.SystemActor()
		if st.Actor.Kind == domain.PrincipalUser && st.Actor.Person != "" {
			actor = eventschema.UserActor(string(st.Actor.Person))
		}
		evs := slices.Clone(st.Events)
		for i, ev := range evs {
			if tc, ok := ev.(*domain.TenantConfigured); ok {
				c := *tc
				c.Tenant = id
				evs[i] = &c
			}
		}
		rt.directory = append(rt.directory, benchAppend{stream: relabel(st.Stream), events: enc.encode(id, st.Command, actor, st.At, evs...)})
	}

	d := w.Directory
	type place struct {
		company domain.CompanyID
		site    domain.SiteID
	}
	var places []place
	var contractors []domain.CompanyID
	for _, c := range slices.Sorted(maps.Keys(d.Companies)) {
		co := d.Companies[c]
		if co.Kind == domain.KindContractor {
			contractors = append(contractors, c)
		}
		for _, s := range slices.Sorted(maps.Keys(co.Sites)) {
			places = append(places, place{c, s})
		}
		places = append(places, place{company: c}) // a ticket about the company as a whole
	}
	var reporters []domain.PersonID
	for _, p := range slices.Sorted(maps.Keys(d.People)) {
		if d.People[p].Status == domain.StatusActive {
			reporters = append(reporters, p)
		}
	}
	var groups []domain.GroupID
	for g := range d.Groups {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	rnd := rand.New(rand.NewPCG(uint64(seed), 99))
	at := world.Start.Add(24 * time.Hour * 365)
	for k := range tickets {
		at = at.Add(time.Duration(1+rnd.IntN(60)) * time.Second)
		tk := domain.TicketID(fmt.Sprintf("bt%d", k))
		stream := world.TicketStream(id, tk)
		pl := places[rnd.IntN(len(places))]
		open := &domain.TicketOpened{Ticket: tk, Company: pl.company, Site: pl.site, Type: "incident", Status: domain.TicketOpen,
			Title: "The printer on the third floor is jammed again", Description: "Paper jam in tray 2; the display shows error E-104."}
		actor := eventschema.ServiceActor("crm")
		if len(reporters) > 0 && rnd.IntN(10) < 8 {
			open.Reporter = reporters[rnd.IntN(len(reporters))]
			actor = eventschema.UserActor(string(open.Reporter))
		}
		if len(groups) > 0 {
			open.ResponsibleGroup = groups[rnd.IntN(len(groups))]
		}
		steps := []benchAppend{{stream, enc.encode(id, "OpenTicket", actor, at, open)}}
		if rnd.IntN(100) < 50 {
			steps = append(steps, benchAppend{stream, enc.encode(id, "ChangeTicketStatus", actor, at.Add(time.Minute),
				&domain.TicketStatusChanged{Ticket: tk, From: domain.TicketOpen, To: domain.TicketInProgress})})
		}
		if rnd.IntN(100) < 35 {
			steps = append(steps, benchAppend{stream, enc.encode(id, "CommentOnTicket", actor, at.Add(2*time.Minute),
				&domain.TicketCommented{Ticket: tk, Comment: uuid.NewString(), Author: open.Reporter, Body: "Still jammed after restarting it."})})
		}
		if len(contractors) > 0 && rnd.IntN(100) < 10 {
			steps = append(steps, benchAppend{stream, enc.encode(id, "AssignContractor", actor, at.Add(3*time.Minute),
				&domain.ContractorAssigned{Ticket: tk, Contractor: contractors[rnd.IntN(len(contractors))]})})
		}
		rt.tickets = append(rt.tickets, steps)
	}
	return rt
}

// appendRebuildLog writes the tenants' logs to the store as the command side would, one append
// per command: every tenant's directory first (tenants in parallel), then the tickets from 64
// writers (each ticket's commands in order), so the group commit of the store is exercised as
// in production. It returns the head of the log.
func appendRebuildLog(tb testing.TB, store *eventstore.Client, tenants []rebuildTenant) eventstore.Position {
	ctx := context.Background()
	var mu sync.Mutex
	var head eventstore.Position
	var failed atomic.Value
	put := func(a benchAppend) {
		res, err := store.Append(ctx, a.stream, eventstore.Any(), a.events...)
		if err != nil {
			failed.Store(err)
			return
		}
		mu.Lock()
		if head.Less(res.Position) {
			head = res.Position
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for _, t := range tenants {
		wg.Go(func() {
			for _, a := range t.directory {
				put(a)
			}
		})
	}
	wg.Wait()
	work := make(chan []benchAppend, 1024)
	for range 64 {
		wg.Go(func() {
			for tk := range work {
				for _, a := range tk {
					put(a)
				}
			}
		})
	}
	// Round-robin over tenants, so that tenants' tickets interleave in the log.
	for i := 0; ; i++ {
		more := false
		for _, t := range tenants {
			if i < len(t.tickets) {
				work <- t.tickets[i]
				more = true
			}
		}
		if !more {
			break
		}
	}
	close(work)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		tb.Fatalf("append the rebuild log: %v", err)
	}
	return head
}

// roundTrips is a go-redis hook counting the client's round trips to Redis (single commands
// and pipelines, MULTI/EXEC included), the commands they carried, and the time spent in them.
type roundTrips struct {
	trips, cmds, nanos atomic.Int64
}

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		t := time.Now()
		err := next(ctx, cmd)
		h.trips.Add(1)
		h.cmds.Add(1)
		h.nanos.Add(int64(time.Since(t)))
		return err
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		t := time.Now()
		err := next(ctx, cmds)
		h.trips.Add(1)
		h.cmds.Add(int64(len(cmds)))
		h.nanos.Add(int64(time.Since(t)))
		return err
	}
}

func (h *roundTrips) reset() { h.trips.Store(0); h.cmds.Store(0); h.nanos.Store(0) }

// waitLazyFree waits until Redis has freed what UNLINK handed to its background threads, so
// that the next measurement does not share the CPU with it.
func waitLazyFree(tb testing.TB, rdb *redis.Client) {
	ctx := context.Background()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		info, err := rdb.Info(ctx, "memory").Result()
		if err != nil {
			tb.Fatal(err)
		}
		if strings.Contains(info, "lazyfree_pending_objects:0\r") {
			return
		}
	}
}

// writeRebuildLog writes BenchmarkRebuild's log (≥ 200,000 events, or
// $PORTAL_BENCH_REBUILD_EVENTS) into a new embedded event store, and returns the store, the
// log's head and its number of events.
func writeRebuildLog(b *testing.B, reg *eventschema.Registry) (*eventstore.Client, eventstore.Position, int) {
	const (
		tenants   = 20
		worldSize = 300
	)
	wantEvents := 200_000
	if v := os.Getenv("PORTAL_BENCH_REBUILD_EVENTS"); v != "" { // smaller logs while profiling
		fmt.Sscan(v, &wantEvents)
	}
	enc := benchEncoder{reg: reg, tb: b}
	srv := testkit.StartEventStore(b)
	store := testkit.StoreClient(b, srv.ConnectionString())

	t0 := time.Now()
	// Size the ticket traffic so that the whole log reaches wantEvents.
	var rts []rebuildTenant
	worldEvents := 0
	for i := range tenants {
		tn := makeRebuildTenant(b, enc, domain.TenantID(fmt.Sprintf("rb%02d", i)), int64(1000+i), worldSize, 0)
		worldEvents += tn.events()
		rts = append(rts, tn)
	}
	perTenant := (wantEvents-worldEvents)/tenants*100/195 + 200
	total := 0
	for i := range rts {
		rts[i] = makeRebuildTenant(b, enc, domain.TenantID(fmt.Sprintf("rb%02d", i)), int64(1000+i), worldSize, perTenant)
		total += rts[i].events()
	}
	if total < wantEvents {
		b.Fatalf("the log has %d events, want ≥ %d", total, wantEvents)
	}
	generated := time.Since(t0)
	t0 = time.Now()
	head := appendRebuildLog(b, store, rts)
	b.Logf("log: %d events (%d of them directory/world events) in %d tenants, %d tickets each; generated in %v, appended in %v (%.0f events/s); head %v",
		total, worldEvents, tenants, perTenant, generated.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond),
		float64(total)/time.Since(t0).Seconds(), head)
	return store, head, total
}

// BenchmarkRebuild rebuilds the service's read models (visibility + directory, as
// internal/app.ReadModels builds them) from a log of ≥ 200,000 events in the embedded event
// store: 20 tenants, each a random world (≈ 300 directory, ticket and document commands) plus
// ≈ 5,200 tickets with their status changes, comments and contractor assignments. The log is
// written once; each op is one projections.Rebuild into a new generation beside the live one
// (including the switch; the deletion of the generation it replaced is reported apart). The target is
// read-models=visibility+directory; the other sub-benchmarks split the cost: reading the log
// alone, decoding it alone, the service's full set (app.ReadModels, which may hold more
// projections), each projection alone, and a what-if with the two rebuilt side by side. Each
// reports the Redis round trips the client made (redis-round-trips/op) and the time it spent
// in them.
func BenchmarkRebuild(b *testing.B) {
	reg := eventschema.MustPortal()
	store, head, total := writeRebuildLog(b, reg)
	rdb, prefix := testkit.Redis(b)
	rt := &roundTrips{}
	rdb.AddHook(rt)

	ctx := context.Background()
	only := func(ps ...func() projections.Projection) projections.Factory {
		return func() []projections.Projection {
			var out []projections.Projection
			for _, p := range ps {
				out = append(out, p())
			}
			return out
		}
	}
	vis := func() projections.Projection { return visibility.New(store, reg) }
	dir := func() projections.Projection { return directory.New() }
	appModels := app.ReadModels(store, reg)
	var appNames []string
	for _, p := range appModels() {
		appNames = append(appNames, p.Name())
	}
	cases := []struct {
		name    string
		factory projections.Factory
	}{
		{"read-models=visibility+directory", only(vis, dir)},
		{"read-models=app.ReadModels(" + strings.Join(appNames, "+") + ")", appModels},
		{"read-models=visibility", only(vis)},
		{"read-models=directory", only(dir)},
		{"read-models=audit", only(func() projections.Projection { return audit.Projection{Registry: reg} })},
	}
	// Reading and decoding first: they also give the store's compactions after the appends
	// time to settle before the rebuilds are timed.
	b.Run("read-log-only", func(b *testing.B) {
		for range b.N {
			var from, last eventstore.Position
			n := 0
			for {
				got := 0
				if err := store.ReadAll(ctx, from, 2048, func(e eventstore.RecordedEvent) error {
					got++
					if last.Less(e.Position) {
						last = e.Position
						n++
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				if got < 2048 {
					break
				}
				from = last
			}
			if n < total {
				b.Fatalf("read %d events, want ≥ %d", n, total)
			}
		}
		b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	// Decoding (eventschema.Registry.Decode, which every projection does for each event in its
	// table) alone, over the events of the log held in memory.
	b.Run("decode-only", func(b *testing.B) {
		var events []eventstore.RecordedEvent
		var from, last eventstore.Position
		for {
			got := 0
			if err := store.ReadAll(ctx, from, 4096, func(e eventstore.RecordedEvent) error {
				got++
				if last.Less(e.Position) && e.Type[0] != '$' {
					last = e.Position
					events = append(events, e)
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			if got < 4096 {
				break
			}
			from = last
		}
		b.ResetTimer()
		for range b.N {
			for _, e := range events {
				if _, err := reg.Decode(e.Type, e.Data, e.Metadata); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(len(events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	for i, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			pfx := fmt.Sprintf("%s-%d", prefix, i)
			// A rebuild runs beside the live generation: one is built first, untimed, and each op
			// builds the next one beside it, then deletes the one it replaced (untimed, as
			// DropPrevious does once readers have left it), so that every op finds what a rebuild
			// in production finds — one live generation — rather than every earlier op's.
			res, err := projections.Rebuild(ctx, rdb, store, reg, c.factory, pfx, head, nil)
			if err != nil {
				b.Fatal(err)
			}
			gen := res.Generation
			rt.reset()
			var cpu, redisUsed, dropped time.Duration
			var in int64
			stopProfile := profileRebuild(b, c.name)
			b.ResetTimer()
			for range b.N {
				cpu0, redis0, in0 := processCPU(), redisCPU(b, rdb), redisInputBytes(b, rdb)
				res, err := projections.Rebuild(ctx, rdb, store, reg, c.factory, pfx, head, nil)
				if err != nil {
					b.Fatal(err)
				}
				cpu += processCPU() - cpu0
				redisUsed += redisCPU(b, rdb) - redis0
				in += redisInputBytes(b, rdb) - in0
				gen = res.Generation
				b.StopTimer()
				t0 := time.Now()
				trips, cmds, nanos := rt.trips.Load(), rt.cmds.Load(), rt.nanos.Load()
				testkit.DeleteKeys(ctx, rdb, projections.Keys{Prefix: pfx, Gen: res.Previous}.Generation())
				waitLazyFree(b, rdb)
				rt.trips.Store(trips)
				rt.cmds.Store(cmds)
				rt.nanos.Store(nanos)
				dropped += time.Since(t0)
				b.StartTimer()
			}
			b.StopTimer()
			stopProfile()
			b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			// CPU time, less sensitive than wall time to a shared machine's load: this process
			// (store server and client, decoding, projections, GC) and the Redis server (which
			// may also serve others meanwhile).
			b.ReportMetric(cpu.Seconds()*1e6/float64(total)/float64(b.N), "process-cpu-µs/event")
			b.ReportMetric(redisUsed.Seconds()*1e6/float64(total)/float64(b.N), "redis-cpu-µs/event")
			// Bytes Redis received (every command's arguments): a deterministic measure of the
			// writes, which costs both sides to send, parse and copy.
			b.ReportMetric(float64(in)/float64(total)/float64(b.N), "redis-bytes-in/event")
			b.ReportMetric(float64(total), "events")
			b.ReportMetric(float64(rt.trips.Load())/float64(b.N), "redis-round-trips/op")
			b.ReportMetric(time.Duration(rt.nanos.Load()).Seconds()/float64(b.N), "s-in-redis-calls/op")
			// Not in the time above: deleting the generation each op replaced.
			b.ReportMetric(dropped.Seconds()/float64(b.N), "s-drop-previous/op")
			b.Logf("%d round trips carrying %d commands, %v in them", rt.trips.Load(), rt.cmds.Load(), time.Duration(rt.nanos.Load()).Round(time.Millisecond))
			// The rebuilt generation is complete: every projection's checkpoint is the head.
			for _, p := range c.factory() {
				cp, err := rdb.Get(ctx, projections.Keys{Prefix: pfx, Gen: gen}.Checkpoint(p.Name())).Result()
				if err != nil || cp != projections.FormatPosition(head) {
					b.Fatalf("%s: checkpoint %q (%v), want the head %s", p.Name(), cp, err, projections.FormatPosition(head))
				}
			}
			testkit.DeleteKeys(ctx, rdb, pfx+":*")
			waitLazyFree(b, rdb)
		})
	}
	// What the rebuild would take if each projection were rebuilt by its own goroutine (a
	// proposal, not what projections.Rebuild does): the wall time of the slower one.
	b.Run("what-if=visibility-parallel-to-directory", func(b *testing.B) {
		rt.reset()
		for range b.N {
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, f := range []projections.Factory{only(vis), only(dir)} {
				wg.Go(func() {
					_, errs[i] = projections.Rebuild(ctx, rdb, store, reg, f, fmt.Sprintf("%s-p%d", prefix, i), head, nil)
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(rt.trips.Load())/float64(b.N), "redis-round-trips/op")
		testkit.DeleteKeys(ctx, rdb, prefix+"-p*")
		waitLazyFree(b, rdb)
	})
}

// profileRebuild writes a CPU profile of the rebuilds alone (not of writing the log) to
// $PORTAL_BENCH_REBUILD_PROFILE/<case>.prof when that variable names a directory.
func profileRebuild(tb testing.TB, name string) (stop func()) {
	dir := os.Getenv("PORTAL_BENCH_REBUILD_PROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, strings.NewReplacer("=", "-", "+", "-", "(", "-", ")", "").Replace(name)+".prof"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		tb.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// processCPU is the CPU time this process used so far (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the CPU time the Redis server used so far (INFO cpu).
func redisCPU(tb testing.TB, rdb *redis.Client) time.Duration {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		tb.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			var f float64
			fmt.Sscan(v, &f)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// redisInputBytes is the number of bytes the Redis server received so far (INFO stats).
func redisInputBytes(tb testing.TB, rdb *redis.Client) int64 {
	info, err := rdb.Info(context.Background(), "stats").Result()
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_net_input_bytes:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatal("INFO stats has no total_net_input_bytes")
	return 0
}

// BenchmarkStage measures this process's share of a rebuild alone: the projections staging
// BenchmarkRebuild's log (read and decoded once, untimed) into their transactions, page by page
// as a rebuild does, without sending them to Redis. Run with -count, it compares changes to the
// staging code far more steadily than BenchmarkRebuild's wall time on a shared machine: ns,
// bytes and allocations per event, in this process alone.
func BenchmarkStage(b *testing.B) {
	reg := eventschema.MustPortal()
	store, head, total := writeRebuildLog(b, reg)
	rdb, prefix := testkit.Redis(b)
	ctx := context.Background()
	var pages [][]projections.Decoded
	var from, last eventstore.Position
	for {
		var page []projections.Decoded
		got := 0
		if err := store.ReadAll(ctx, from, 16384, func(e eventstore.RecordedEvent) error {
			got++
			if last.Less(e.Position) && e.Type[0] != '$' {
				last = e.Position
				ev, err := projections.Decode(reg, e)
				if err != nil {
					return err
				}
				page = append(page, projections.Decoded{Recorded: e, Event: ev, Decoded: true})
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if len(page) > 0 {
			pages = append(pages, page)
		}
		if got < 16384 {
			break
		}
		from = last
	}
	if last != head {
		b.Fatalf("read up to %v, the head is %v", last, head)
	}
	cases := []struct {
		name    string
		factory projections.Factory
	}{
		{"read-models=app", app.ReadModels(store, reg)},
		{"read-models=visibility", func() []projections.Projection { return []projections.Projection{visibility.New(store, reg)} }},
		{"read-models=directory", func() []projections.Projection { return []projections.Projection{directory.New()} }},
		{"read-models=audit", func() []projections.Projection { return []projections.Projection{audit.Projection{Registry: reg}} }},
	}
	defer debug.SetGCPercent(debug.SetGCPercent(projections.RebuildGCPercent)) // as in a rebuild
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var cmds int
			b.ReportAllocs()
			for i := range b.N {
				n, err := projections.StageRebuild(ctx, rdb, reg, c.factory, projections.Keys{Prefix: prefix, Gen: int64(i + 1)}, pages)
				if err != nil {
					b.Fatal(err)
				}
				cmds = n
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total)/float64(b.N), "ns/event")
			b.ReportMetric(float64(cmds)/float64(total), "commands/event")
		})
	}
}

// BenchmarkLiveCatchUp measures the capacity of the live path — the Watermill router, one
// $all subscription and one event at a time per projection, each in its own MULTI/EXEC — by
// starting the projection service on a log of ≈ 30,000 events (3 tenants shaped as in
// BenchmarkRebuild) and timing until every projection has applied the head. It bounds the
// command rate BenchmarkAcceptedToVisibleLag can sustain.
func BenchmarkLiveCatchUp(b *testing.B) {
	reg := eventschema.MustPortal()
	enc := benchEncoder{reg: reg, tb: b}
	srv := testkit.StartEventStore(b)
	store := testkit.StoreClient(b, srv.ConnectionString())
	rdb, prefix := testkit.Redis(b)
	var rts []rebuildTenant
	total := 0
	for i := range 3 {
		rt := makeRebuildTenant(b, enc, domain.TenantID(fmt.Sprintf("lc%02d", i)), int64(2000+i), 300, 4800)
		total += rt.events()
		rts = append(rts, rt)
	}
	head := appendRebuildLog(b, store, rts)
	ctx := context.Background()
	vis := func() projections.Projection { return visibility.New(store, reg) }
	dir := func() projections.Projection { return directory.New() }
	for _, c := range []struct {
		name string
		ps   []func() projections.Projection
	}{
		{"read-models=visibility+directory", []func() projections.Projection{vis, dir}},
		{"read-models=visibility", []func() projections.Projection{vis}},
		{"read-models=directory", []func() projections.Projection{dir}},
	} {
		b.Run(c.name, func(b *testing.B) {
			factory := func() []projections.Projection {
				var out []projections.Projection
				for _, p := range c.ps {
					out = append(out, p())
				}
				return out
			}
			for i := range b.N {
				svc, err := projections.Start(ctx, rdb, store, reg, factory, fmt.Sprintf("%s-%s-%d", prefix, c.name[len("read-models="):], i), testkit.Logger())
				if err != nil {
					b.Fatal(err)
				}
				wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
				err = svc.WaitFor(wctx, head)
				cancel()
				_ = svc.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(total)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// --- accepted → visible

// lagTenant is a tenant prepared for the lag benchmark: companies with sites (tickets are
// opened there), and two groups of active normal users whose group-level company access the
// load grants and revokes.
type lagTenant struct {
	id        domain.TenantID
	token     string
	companies []string
	sites     map[string][]string
	groups    []string
	grants    atomic.Int64
}

func setupLagTenant(b *testing.B, api *testkit.API, id string, companies, usersPerGroup int) *lagTenant {
	tn := api.CreateTenant(id, 1000)
	lt := &lagTenant{id: tn.ID, token: tn.AdminToken, sites: map[string][]string{}}
	for i := range companies {
		c := api.Must(201, api.Do("POST", "/v1/companies", lt.token, map[string]any{"name": fmt.Sprintf("Customer %d", i), "kind": "customer"})).ID("company_id")
		lt.companies = append(lt.companies, c)
		for j := range 2 {
			s := api.Must(201, api.Do("POST", "/v1/companies/"+c+"/sites", lt.token, map[string]any{"name": fmt.Sprintf("Site %d-%d", i, j)})).ID("site_id")
			lt.sites[c] = append(lt.sites[c], s)
		}
	}
	for g := range 2 {
		gid := api.Must(201, api.Do("POST", "/v1/groups", lt.token, map[string]any{"name": fmt.Sprintf("Partners %d", g), "permissions": map[string]any{"named": "support"}})).ID("group_id")
		lt.groups = append(lt.groups, gid)
		// A group-level setting, so that the group's users are restricted to their grants.
		api.Must(200, api.Do("POST", "/v1/groups/"+gid+"/access-grants", lt.token, map[string]any{"target": lt.companies[0]}))
		for u := range usersPerGroup {
			name := fmt.Sprintf("partner-%d-%d", g, u)
			r := api.Must(201, api.Do("POST", "/v1/invitations", lt.token, map[string]any{"name": name, "email": name + "@" + id + ".example",
				"home_company": tn.Provider, "group": gid}))
			api.Accept(tn.ID, r.ID("invitation_token"), id+"-"+name)
		}
	}
	return lt
}

type lagSample struct {
	queued, accept, lag time.Duration // due → sent; sent → result; result → visible
	kind                string
}

// BenchmarkAcceptedToVisibleLag runs the command API (HTTP, embedded event store) and the
// projection service (visibility + directory, as internal/app.ReadModels builds them, real
// Redis) over the same store, and issues commands paced at a fixed rate (open loop: a command
// is due at start + i/rate whatever happened before) from 32 clients over 4 tenants: 70%
// OpenTicket, 15% RegisterCompany, 15% group-level GrantCompanyAccess / RevokeCompanyAccess
// (each recomputing 20 users' tables). Each op is one command; its lag is the time from the
// command's result until Service.WaitFor(result.position) returns (every projection has
// applied it), waited for beside the client so that a slow projection does not slow the
// load. Run with -benchtime 3000x for 3 s of load at 1,000/s.
func BenchmarkAcceptedToVisibleLag(b *testing.B) {
	// The service's runtime settings (its GC target), as serve sets them; the test binary's
	// own are back after the benchmark.
	gc := debug.SetGCPercent(100)
	debug.SetGCPercent(gc)
	defer debug.SetGCPercent(gc)
	b.Logf("GC target %d, as the service runs", app.TuneRuntime())
	visDir := func(store projections.Source, reg *eventschema.Registry) projections.Factory {
		return func() []projections.Projection {
			return []projections.Projection{visibility.New(store, reg), directory.New()}
		}
	}
	var appNames []string
	for _, p := range app.ReadModels(nil, nil)() {
		appNames = append(appNames, p.Name())
	}
	for _, rate := range []int{1000, 250} {
		b.Run(fmt.Sprintf("read-models=visibility+directory/rate=%d", rate), func(b *testing.B) { benchLag(b, rate, visDir) })
	}
	b.Run(fmt.Sprintf("read-models=app.ReadModels(%s)/rate=1000", strings.Join(appNames, "+")), func(b *testing.B) { benchLag(b, 1000, app.ReadModels) })
}

func benchLag(b *testing.B, rate int, models func(projections.Source, *eventschema.Registry) projections.Factory) {
	const (
		clients  = 32
		tenants  = 4
		usersPer = 20
	)
	ctx := context.Background()
	api := testkit.StartAPI(b)
	rdb, prefix := testkit.Redis(b)
	reg := eventschema.MustPortal()
	svc, err := projections.Start(ctx, rdb, api.Store, reg, models(api.Store, reg), prefix, testkit.Logger())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Close() })

	t0 := time.Now()
	var lts []*lagTenant
	for i := range tenants {
		lts = append(lts, setupLagTenant(b, api, fmt.Sprintf("lag%d", i), 30, usersPer))
	}
	head, err := api.Store.LastPosition(ctx)
	if err != nil {
		b.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	if err := svc.WaitFor(wctx, head); err != nil {
		b.Fatalf("projections did not catch up with the setup: %v", err)
	}
	cancel()
	b.Logf("setup: %d tenants in %v, log head %v", tenants, time.Since(t0).Round(time.Millisecond), head)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * clients, MaxConnsPerHost: 2 * clients}}
	post := func(method, path, token string, body any) (eventstore.Position, int, error) {
		raw, _ := json.Marshal(body)
		req, err := http.NewRequest(method, api.URL+path, bytes.NewReader(raw))
		if err != nil {
			return eventstore.Position{}, 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return eventstore.Position{}, 0, err
		}
		defer resp.Body.Close()
		var res struct {
			Position eventstore.Position `json:"position"`
		}
		err = json.NewDecoder(resp.Body).Decode(&res)
		return res.Position, resp.StatusCode, err
	}
	// command i: its kind, tenant and request.
	issue := func(i int) (string, eventstore.Position, int, error) {
		lt := lts[i%tenants]
		switch k := (i / tenants) % 20; {
		case k < 14:
			c := lt.companies[(i/7)%len(lt.companies)]
			s := lt.sites[c][i%2]
			pos, code, err := post("POST", "/v1/tickets", lt.token, map[string]any{"company": c, "site": s, "type": "incident",
				"title": "The printer on the third floor is jammed again"})
			return "OpenTicket", pos, code, err
		case k < 17:
			pos, code, err := post("POST", "/v1/companies", lt.token, map[string]any{"name": fmt.Sprintf("Company %d", i), "kind": "customer"})
			return "RegisterCompany", pos, code, err
		default:
			// Pair n cycles grant, revoke, grant…; a pair comes back long after its last use.
			g := lt.grants.Add(1) - 1
			pairs := int64(len(lt.groups) * (len(lt.companies) - 1))
			pair, round := g%pairs, g/pairs
			group, target := lt.groups[pair%int64(len(lt.groups))], lt.companies[1+pair/int64(len(lt.groups))]
			if round%2 == 0 {
				pos, code, err := post("POST", "/v1/groups/"+group+"/access-grants", lt.token, map[string]any{"target": target})
				return "GrantCompanyAccess", pos, code, err
			}
			pos, code, err := post("DELETE", "/v1/groups/"+group+"/access-grants/"+target, lt.token, nil)
			return "RevokeCompanyAccess", pos, code, err
		}
	}

	type job struct {
		i  int
		at time.Time
	}
	jobs := make(chan job, b.N)
	samples := make([]lagSample, b.N)
	var refused, late atomic.Int64
	var firstErr atomic.Value
	var wg, waiters sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for j := range jobs {
				sent := time.Now()
				kind, pos, code, err := issue(j.i)
				accepted := time.Now()
				if err != nil || code >= 300 {
					refused.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %d %v", kind, code, err))
					continue
				}
				waiters.Go(func() {
					wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					err := svc.WaitFor(wctx, pos)
					cancel()
					visible := time.Now()
					if err != nil {
						late.Add(1)
						return
					}
					samples[j.i] = lagSample{queued: sent.Sub(j.at), accept: accepted.Sub(sent), lag: visible.Sub(accepted), kind: kind}
				})
			}
		})
	}
	b.ResetTimer()
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := range b.N {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		jobs <- job{i, at}
	}
	close(jobs)
	wg.Wait()
	issued := time.Since(start)
	waiters.Wait()
	b.StopTimer()

	if n := refused.Load(); n > int64(b.N)/100 {
		b.Fatalf("%d of %d commands refused (first: %v)", n, b.N, firstErr.Load())
	}
	if n := late.Load(); n > 0 {
		b.Fatalf("%d commands not visible within 10 s", n)
	}
	var lags, accepts, queued []time.Duration
	byKind := map[string][]time.Duration{}
	for _, s := range samples {
		if s.kind == "" {
			continue
		}
		lags = append(lags, s.lag)
		accepts = append(accepts, s.accept)
		queued = append(queued, s.queued)
		byKind[s.kind] = append(byKind[s.kind], s.lag)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	q := func(ds []time.Duration, p float64) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[min(len(ds)-1, int(float64(len(ds))*p))]
	}
	b.ReportMetric(float64(len(lags))/issued.Seconds(), "commands/s")
	b.ReportMetric(ms(q(lags, 0.50)), "lag-p50-ms")
	b.ReportMetric(ms(q(lags, 0.99)), "lag-p99-ms")
	b.ReportMetric(ms(q(lags, 1)), "lag-max-ms")
	b.ReportMetric(ms(q(accepts, 0.50)), "accept-p50-ms")
	b.ReportMetric(ms(q(accepts, 0.99)), "accept-p99-ms")
	b.ReportMetric(ms(q(queued, 0.99)), "queued-p99-ms")
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		ds := byKind[k]
		b.Logf("%-20s n=%5d lag p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms", k, len(ds), ms(q(ds, 0.5)), ms(q(ds, 0.99)), ms(q(ds, 1)))
	}
	b.Logf("%d commands issued in %v (%d refused); accept p50 %.2f ms p99 %.2f ms; start delay p99 %.2f ms",
		len(lags), issued.Round(time.Millisecond), refused.Load(), ms(q(accepts, 0.5)), ms(q(accepts, 0.99)), ms(q(queued, 0.99)))
}
