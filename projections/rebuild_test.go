package projections_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/eventschema"
	"github.com/portal-access/backend/internal/app"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/internal/testkit/world"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/audit"
)

// exclusiveSeen records, per event, whether it was applied as Tx.Exclusive.
type exclusiveSeen struct{}

func (exclusiveSeen) Name() string { return "exclusive-seen" }
func (exclusiveSeen) Handlers() map[string]projections.ApplyFunc {
	return map[string]projections.ApplyFunc{
		"CompanyRegistered": func(tx *projections.Tx, e projections.Event) error {
			tx.W.RPush(tx.Ctx, tx.Keys.Tenant(e.Tenant())+"exclusive", strconv.FormatBool(tx.Exclusive))
			return nil
		},
	}
}

// A rebuild holds the rebuild lock: a second one refuses without touching anything, and its
// projections apply as Tx.Exclusive, which the live path never does.
func TestRebuildHoldsTheRebuildLock(t *testing.T) {
	srv := testkit.StartEventStore(t)
	store := testkit.StoreClient(t, srv.ConnectionString())
	rdb, prefix := testkit.Redis(t)
	ctx := context.Background()
	reg := eventschema.MustPortal()
	head := appendCompanies(t, store, "a", "b", "c")
	factory := func() []projections.Projection { return []projections.Projection{exclusiveSeen{}} }

	// Another rebuild holds the lock.
	if err := rdb.Set(ctx, projections.RebuildLockKey(prefix), "someone-else", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := projections.Rebuild(ctx, rdb, store, reg, factory, prefix, head, nil); !errors.Is(err, projections.ErrRebuildRunning) {
		t.Fatalf("rebuild under another's lock: %v, want ErrRebuildRunning", err)
	}
	if gen, _ := projections.ActiveGeneration(ctx, rdb, prefix); gen != 0 {
		t.Fatalf("active generation %d after a refused rebuild, want 0", gen)
	}
	if n := len(testkit.Keys(ctx, rdb, prefix+":g*")); n != 0 {
		t.Fatalf("a refused rebuild wrote %d keys", n)
	}
	if v := rdb.Get(ctx, projections.RebuildLockKey(prefix)).Val(); v != "someone-else" {
		t.Fatalf("the other rebuild's lock is now %q", v)
	}

	// Once it is gone, a rebuild runs, exclusively, and gives the lock up.
	rdb.Del(ctx, projections.RebuildLockKey(prefix))
	res, err := projections.Rebuild(ctx, rdb, store, reg, factory, prefix, head, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := projections.Keys{Prefix: prefix, Gen: res.Generation}
	if got := rdb.LRange(ctx, keys.Tenant("t1")+"exclusive", 0, -1).Val(); len(got) != 3 || got[0] != "true" || got[2] != "true" {
		t.Fatalf("a rebuild applied with Exclusive %v, want true for each of 3 events", got)
	}
	if n := rdb.Exists(ctx, projections.RebuildLockKey(prefix)).Val(); n != 0 {
		t.Fatal("the rebuild kept its lock after it finished")
	}

	// Live, the same projection never applies as exclusive.
	live, stop := testkit.RunProjection(t, rdb, store, exclusiveSeen{}, projections.Keys{Prefix: prefix + "-live", Gen: 1})
	defer stop()
	waitFor(t, live, head)
	if got := rdb.LRange(ctx, live.Keys().Tenant("t1")+"exclusive", 0, -1).Val(); len(got) != 3 || got[0] != "false" || got[2] != "false" {
		t.Fatalf("live applied with Exclusive %v, want false for each of 3 events", got)
	}
}

// A rebuild in pages of a few events — each page's transaction staged while the one before is
// on its way to Redis — leaves exactly the keys the live projections leave, for every read
// model of the service.
func TestRebuildInSmallPagesEqualsLive(t *testing.T) {
	defer projections.SetRebuildBatch(7)()
	ctx := context.Background()
	w := newLiveWorld(t, 11, 150)
	rdb, store, reg, prefix, head := w.rdb, w.store, w.reg, w.prefix, w.head
	digest := func(k projections.Keys) (string, int) {
		d, n := testkit.Digest(ctx, rdb, k.Generation(), fmt.Sprintf("%s:g%d:", k.Prefix, k.Gen), ":cp:")
		return d, n
	}

	svc := w.serve(t)
	live, liveKeys := digest(svc.Keys())
	svc.Close()
	if liveKeys < 100 {
		t.Fatalf("the live read models hold %d keys: the world is too small to test pages", liveKeys)
	}

	res, err := projections.Rebuild(ctx, rdb, store, reg, app.ReadModels(store, reg), prefix, head, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, n := digest(projections.Keys{Prefix: prefix, Gen: res.Generation}); d != live {
		t.Fatalf("rebuilt in pages of 7: %d keys, digest %s; live: %d keys, digest %s", n, d, liveKeys, live)
	}
}

// A rebuild deletes the generation it replaced only once no serving Service reads it: a live
// service has followed the switch by the time the old generation is gone. A reader that keeps
// the old generation past the wait leaves it in place, listed as stale, and the next rebuild
// deletes it, after the switch, once nobody reads it; a lease that lapsed (a service that died)
// holds up nothing.
func TestRebuildDeletesTheOldGenerationOnlyOnceUnread(t *testing.T) {
	defer projections.SetDropTimes(20*time.Millisecond, 500*time.Millisecond)()
	ctx := context.Background()
	w := newLiveWorld(t, 5, 60)
	rdb, store, reg, prefix, head := w.rdb, w.store, w.reg, w.prefix, w.head
	genKeys := func(gen int64) int {
		return len(testkit.Keys(ctx, rdb, projections.Keys{Prefix: prefix, Gen: gen}.Generation()))
	}

	svc := w.serve(t)
	if genKeys(1) == 0 {
		t.Fatal("the live service wrote no keys")
	}
	rebuild := func() (projections.Rebuilt, bool) {
		t.Helper()
		res, err := projections.Rebuild(ctx, rdb, store, reg, app.ReadModels(store, reg), prefix, head, nil)
		if err != nil {
			t.Fatal(err)
		}
		dropped, err := res.DropPrevious(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return res, dropped
	}
	res, dropped := rebuild()
	if res.Generation != 2 || res.Previous != 1 || !dropped {
		t.Fatalf("rebuild: %+v (dropped %v), want generation 2 replacing 1, dropped", res, dropped)
	}
	// The old generation went only after the service had left it.
	if g := svc.Generation(); g != 2 {
		t.Fatalf("generation 1 was deleted while the service still served generation %d", g)
	}
	if n := genKeys(1); n != 0 {
		t.Fatalf("%d keys of generation 1 left", n)
	}
	svc.Close()
	if n := rdb.SCard(ctx, projections.ServersKey(prefix)).Val(); n != 0 {
		t.Fatalf("a closed service still holds a lease (%d servers)", n)
	}

	// A service stuck on generation 2, and one whose lease lapsed.
	rdb.SAdd(ctx, projections.ServersKey(prefix), "stuck", "dead")
	rdb.Set(ctx, projections.ServingKey(prefix, "stuck"), "2", time.Minute)
	if res, dropped = rebuild(); res.Generation != 3 || dropped {
		t.Fatalf("rebuild under a reader of generation 2: %+v (dropped %v), want generation 3, not dropped", res, dropped)
	}
	if genKeys(2) == 0 {
		t.Fatal("generation 2 was deleted under its reader")
	}
	if got := rdb.SMembers(ctx, projections.StaleKey(prefix)).Val(); len(got) != 1 || got[0] != "2" {
		t.Fatalf("stale generations %v, want [2]", got)
	}
	if rdb.SIsMember(ctx, projections.ServersKey(prefix), "dead").Val() {
		t.Fatal("the lapsed lease is still listed")
	}

	// The reader goes; the next rebuild deletes both generation 2 (stale) and 3 (replaced).
	rdb.Del(ctx, projections.ServingKey(prefix, "stuck"))
	if res, dropped = rebuild(); res.Generation != 4 || !dropped {
		t.Fatalf("rebuild: %+v (dropped %v), want generation 4, dropped", res, dropped)
	}
	if n2, n3, n4 := genKeys(2), genKeys(3), genKeys(4); n2 != 0 || n3 != 0 || n4 == 0 {
		t.Fatalf("keys of generations 2, 3, 4: %d, %d, %d; want 0, 0 and some", n2, n3, n4)
	}
	if n := rdb.Exists(ctx, projections.StaleKey(prefix)).Val(); n != 0 {
		t.Fatal("generation 2 is still listed as stale")
	}
}

// liveWorld is a random world's log in an embedded event store, and a Redis prefix for its read
// models.
type liveWorld struct {
	store  *eventstore.Client
	rdb    *redis.Client
	reg    *eventschema.Registry
	prefix string
	head   eventstore.Position
}

func newLiveWorld(t *testing.T, seed int64, size int) liveWorld {
	t.Helper()
	srv := testkit.StartEventStore(t)
	w := liveWorld{store: testkit.StoreClient(t, srv.ConnectionString()), reg: eventschema.MustPortal()}
	w.rdb, w.prefix = testkit.Redis(t)
	var err error
	if w.head, err = world.Generate(seed, size).Append(context.Background(), w.store); err != nil {
		t.Fatal(err)
	}
	return w
}

// serve starts the service's read models live and waits until they have applied the log.
func (w liveWorld) serve(t *testing.T) *projections.Service {
	t.Helper()
	svc, err := projections.Start(context.Background(), w.rdb, w.store, w.reg, app.ReadModels(w.store, w.reg), w.prefix, testkit.Logger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := svc.WaitFor(ctx, w.head); err != nil {
		t.Fatal(err)
	}
	return svc
}

// A rebuild cut short mid-way leaves the active generation as it was, and the next rebuild starts
// from an empty generation — not from what the one cut short left, whose checkpoints a resumed
// rebuild would trust: it equals the live read models exactly.
func TestARebuildCutShortLeavesNoTrace(t *testing.T) {
	defer projections.SetRebuildBatch(7)()
	ctx := context.Background()
	w := newLiveWorld(t, 12, 150)
	rdb, store, reg, prefix, head := w.rdb, w.store, w.reg, w.prefix, w.head
	svc := w.serve(t)
	live, liveKeys := testkit.Digest(ctx, rdb, svc.Keys().Generation(), fmt.Sprintf("%s:g%d:", prefix, svc.Keys().Gen), ":cp:")
	active := svc.Keys().Gen
	svc.Close()

	cut, cancel := context.WithCancel(ctx)
	defer cancel()
	var applied uint64
	_, err := projections.Rebuild(cut, rdb, store, reg, app.ReadModels(store, reg), prefix, head, func(done, _ uint64, _ time.Duration) {
		if applied = done; done >= 60 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a rebuild cut short after %d events: %v, want context.Canceled", applied, err)
	}
	if gen, _ := projections.ActiveGeneration(ctx, rdb, prefix); gen != active {
		t.Fatalf("active generation %d after a rebuild cut short, want %d", gen, active)
	}
	left := projections.Keys{Prefix: prefix, Gen: active + 1}
	if n := len(testkit.Keys(ctx, rdb, left.Generation())); n == 0 || n >= liveKeys {
		t.Fatalf("the rebuild cut short after %d events left %d keys (live: %d): not cut mid-way", applied, n, liveKeys)
	}
	// Whatever is left in that generation goes: here a key that no projection of this log
	// writes (projections keep state in memory too, so a rebuild can never resume).
	if err := rdb.HSet(ctx, left.Tenant("t1")+"dir:ticket:beyond", "status", "open").Err(); err != nil {
		t.Fatal(err)
	}

	res, err := projections.Rebuild(ctx, rdb, store, reg, app.ReadModels(store, reg), prefix, head, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Generation != active+1 {
		t.Fatalf("rebuilt generation %d, want %d (the one cut short, started afresh)", res.Generation, active+1)
	}
	if d, n := testkit.Digest(ctx, rdb, left.Generation(), fmt.Sprintf("%s:g%d:", prefix, left.Gen), ":cp:"); d != live {
		t.Fatalf("rebuilt after a rebuild cut short: %d keys, digest %s; live: %d keys, digest %s", n, d, liveKeys, live)
	}
}

// scans counts the SCAN commands sent to Redis.
type scans struct{ n atomic.Int64 }

func (h *scans) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *scans) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "scan" {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (h *scans) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A rebuild searches the keyspace (a SCAN of every key, the live generation's included) for
// what an earlier rebuild left in the generation it builds only when one may have: when a
// rebuild recorded having started that generation, or nothing is recorded (a store from before
// the record) — then a leftover goes. A generation above the last one started is built without
// a search, and equals the live read models all the same; the service that made the first
// generation active records it, so the first rebuild beside it searches nothing either.
func TestARebuildSearchesOnlyAGenerationThatWasStarted(t *testing.T) {
	ctx := context.Background()
	w := newLiveWorld(t, 13, 120)
	rdb, store, reg, prefix, head := w.rdb, w.store, w.reg, w.prefix, w.head
	svc := w.serve(t)
	live, liveKeys := testkit.Digest(ctx, rdb, svc.Keys().Generation(), fmt.Sprintf("%s:g%d:", prefix, svc.Keys().Gen), ":cp:")
	active := svc.Keys().Gen
	svc.Close()
	sc := &scans{}
	rdb.AddHook(sc)
	// rebuild rebuilds, checks the generation built and tells how many SCANs the rebuild sent.
	rebuild := func(wantGen int64) (scanned int64) {
		t.Helper()
		sc.n.Store(0)
		res, err := projections.Rebuild(ctx, rdb, store, reg, app.ReadModels(store, reg), prefix, head, nil)
		scanned = sc.n.Load()
		if err != nil {
			t.Fatal(err)
		}
		if res.Generation != wantGen {
			t.Fatalf("rebuilt generation %d, want %d", res.Generation, wantGen)
		}
		k := projections.Keys{Prefix: prefix, Gen: wantGen}
		if d, n := testkit.Digest(ctx, rdb, k.Generation(), fmt.Sprintf("%s:g%d:", prefix, wantGen), ":cp:"); d != live {
			t.Fatalf("generation %d: %d keys, digest %s; live: %d keys, digest %s", wantGen, n, d, liveKeys, live)
		}
		return scanned
	}

	// The service that made the first generation active recorded it as started: the first
	// rebuild beside it does not search the keyspace.
	if got, err := rdb.Get(ctx, projections.StartedKey(prefix)).Int64(); err != nil || got != active {
		t.Fatalf("after the service's start, %s = %d (%v), want %d", projections.StartedKey(prefix), got, err, active)
	}
	if n := rebuild(active + 1); n != 0 {
		t.Fatalf("the first rebuild beside the service's generation sent %d SCANs", n)
	}
	active++

	// Nothing recorded, as a rebuild by an earlier version that was killed mid-way leaves it.
	if err := rdb.Del(ctx, projections.StartedKey(prefix)).Err(); err != nil {
		t.Fatal(err)
	}
	stray := projections.Keys{Prefix: prefix, Gen: active + 1}.Tenant("t1") + "dir:ticket:left-over"
	if err := rdb.HSet(ctx, stray, "status", "open").Err(); err != nil {
		t.Fatal(err)
	}
	if rebuild(active+1) == 0 {
		t.Fatal("a rebuild with nothing recorded did not search for leftovers")
	}

	// Generation active+2 was never started: no search.
	if n := rebuild(active + 2); n != 0 {
		t.Fatalf("a rebuild into a generation never started sent %d SCANs", n)
	}
	if got, err := rdb.Get(ctx, projections.StartedKey(prefix)).Int64(); err != nil || got != active+2 {
		t.Fatalf("%s = %d (%v), want %d", projections.StartedKey(prefix), got, err, active+2)
	}

	// Recorded as started (a rebuild of this version killed mid-way): searched, the leftover goes.
	stray = projections.Keys{Prefix: prefix, Gen: active + 3}.Tenant("t1") + "dir:ticket:left-over"
	if err := rdb.HSet(ctx, stray, "status", "open").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, projections.StartedKey(prefix), active+3, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if rebuild(active+3) == 0 {
		t.Fatal("a rebuild into a generation recorded as started did not search for leftovers")
	}
}

// commandNames counts the commands a client sends, by name, pipelines included.
type commandNames struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *commandNames) count(cmds ...redis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cmd := range cmds {
		c.n[cmd.Name()]++
	}
}
func (c *commandNames) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commandNames) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.count(cmd); return next(ctx, cmd) }
}
func (c *commandNames) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.count(cmds...); return next(ctx, cmds) }
}

// A rebuild tracks the audit trail's time index in memory and writes it with plain commands
// (no script: it alone writes the new generation): in pages of a few events, over writers whose
// clocks disagree — so that a page pops records an earlier page stored — it leaves exactly the
// keys the live projection leaves, event by event, through its script.
func TestAuditRebuildWithSkewedClocksEqualsLive(t *testing.T) {
	defer projections.SetRebuildBatch(7)()
	ctx := context.Background()
	srv := testkit.StartEventStore(t)
	store := testkit.StoreClient(t, srv.ConnectionString())
	rdb, prefix := testkit.Redis(t)
	reg := eventschema.MustPortal()
	enc := benchEncoder{reg: reg, tb: t}
	r := rand.New(rand.NewPCG(5, 6))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var head eventstore.Position
	for i := range 400 {
		tenant := domain.TenantID([]string{"ta", "tb"}[r.IntN(2)])
		tk := domain.TicketID(fmt.Sprint("tk", r.IntN(30)))
		var ev domain.Event
		switch r.IntN(3) {
		case 0:
			ev = &domain.TicketOpened{Ticket: tk, Company: domain.CompanyID(fmt.Sprint("c", r.IntN(4))), Type: "incident", Status: domain.TicketOpen, Title: "t"}
		case 1:
			ev = &domain.TicketStatusChanged{Ticket: tk, From: domain.TicketOpen, To: domain.TicketInProgress}
		default:
			ev = &domain.TicketCommented{Ticket: tk, Comment: fmt.Sprint("cm", i), Author: "p1", Body: "b"}
		}
		// Mostly increasing, several events a second, equal seconds, and now and then a writer
		// minutes behind.
		at := base.Add(time.Duration(i) * 400 * time.Millisecond)
		if r.IntN(5) == 0 {
			at = at.Add(-time.Duration(r.IntN(150)) * time.Second)
		}
		res, err := store.Append(ctx, "ticket-"+string(tenant)+"-"+string(tk), eventstore.Any(),
			enc.encode(tenant, "Cmd", eventschema.UserActor(fmt.Sprint("u", r.IntN(3))), at, ev)...)
		if err != nil {
			t.Fatal(err)
		}
		head = res.Position
	}
	only := func() []projections.Projection { return []projections.Projection{audit.Projection{Registry: reg}} }
	digest := func(k projections.Keys) (string, int) {
		return testkit.Digest(ctx, rdb, k.Generation(), fmt.Sprintf("%s:g%d:", k.Prefix, k.Gen), ":cp:")
	}

	svc, err := projections.Start(ctx, rdb, store, reg, only, prefix, testkit.Logger())
	if err != nil {
		t.Fatal(err)
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := svc.WaitFor(wait, head); err != nil {
		t.Fatal(err)
	}
	live, liveKeys := digest(svc.Keys())
	svc.Close()

	names := &commandNames{n: map[string]int{}}
	rdb.AddHook(names)
	res, err := projections.Rebuild(ctx, rdb, store, reg, only, prefix, head, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d, n := digest(projections.Keys{Prefix: prefix, Gen: res.Generation}); d != live {
		t.Fatalf("rebuilt: %d keys, digest %s; live: %d keys, digest %s", n, d, liveKeys, live)
	}
	// The rebuild took the path this test is about: no script, and pages that cut records
	// an earlier page had stored.
	if names.n["eval"] != 0 || names.n["ltrim"]+names.n["del"] == 0 || names.n["rpush"] == 0 {
		t.Fatalf("the rebuild sent eval %d, ltrim %d, del %d, rpush %d: not the exclusive path over skewed clocks",
			names.n["eval"], names.n["ltrim"], names.n["del"], names.n["rpush"])
	}
}
