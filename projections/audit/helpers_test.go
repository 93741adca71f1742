package audit_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
	"github.com/portal-access/backend/projections/audit"
)

// run starts the framework's router with the audit projection alone.
func run(t *testing.T, rdb *redis.Client, store *eventstore.Client, keys projections.Keys) (*projections.Runner, func()) {
	t.Helper()
	return testkit.RunProjection(t, rdb, store, audit.Projection{}, keys)
}

func waitFor(t *testing.T, r *projections.Runner, p eventstore.Position) {
	t.Helper()
	testkit.WaitForProjection(t, r, p)
}

// applyDirect applies events through the projection's table without the event store, many per
// MULTI/EXEC (for the benchmark and for positions the embedded store never produces).
func applyDirect(tb testing.TB, rdb redis.UniversalClient, keys projections.Keys, events []projections.Event) {
	tb.Helper()
	table := audit.Projection{}.Handlers()
	ctx := context.Background()
	for chunk := range slices.Chunk(events, 500) {
		_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, e := range chunk {
				if err := table[e.Envelope.Type](&projections.Tx{Ctx: ctx, R: rdb, W: p, Keys: keys}, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// applyBatches applies events through the projection's table without the event store and
// without a checkpoint, size per MULTI/EXEC, their writes combined as in a rebuild.
func applyBatches(tb testing.TB, rdb redis.UniversalClient, keys projections.Keys, events []projections.Event, size int) {
	tb.Helper()
	table := audit.Projection{}.Handlers()
	ctx := context.Background()
	for chunk := range slices.Chunk(events, size) {
		_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			w := projections.NewWrites(ctx, p)
			for _, e := range chunk {
				if err := table[e.Envelope.Type](&projections.Tx{Ctx: ctx, R: rdb, W: p, B: w, Keys: keys}, e); err != nil {
					return err
				}
			}
			return w.Flush()
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// dump renders every audit key of a tenant with its value, for before/after comparisons.
func dump(t *testing.T, rdb *redis.Client, keys projections.Keys, tenant domain.TenantID) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for _, k := range testkit.Keys(ctx, rdb, keys.Tenant(tenant)+"audit:*") {
		switch typ := rdb.Type(ctx, k).Val(); typ {
		case "string":
			out[k] = rdb.Get(ctx, k).Val()
		case "list":
			out[k] = fmt.Sprint(rdb.LRange(ctx, k, 0, -1).Val())
		default:
			t.Fatalf("%s is a %s", k, typ)
		}
	}
	return out
}

func diffDumps(a, b map[string]string) string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var d []string
	for _, k := range keys {
		if a[k] != b[k] {
			d = append(d, fmt.Sprintf("%s:\n  before %s\n  after  %s", k, a[k], b[k]))
		}
	}
	return strings.Join(d, "\n")
}

// queryAll pages through a filter and returns every entry, checking that each page respects
// its limits and that the cursor moves forward.
func queryAll(t *testing.T, rdb redis.Cmdable, keys projections.Keys, tenant domain.TenantID, f audit.Filter) ([]audit.Entry, int) {
	t.Helper()
	var out []audit.Entry
	calls := 0
	for {
		calls++
		if calls > 10000 {
			t.Fatalf("%+v: paging does not end", f)
		}
		page, err := audit.Query(context.Background(), rdb, keys, tenant, f)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		limit := f.Limit
		if limit == 0 {
			limit = audit.DefaultLimit
		}
		if len(page.Entries) > limit || f.MaxScan > 0 && len(page.Entries) > f.MaxScan {
			t.Fatalf("%+v: page of %d entries", f, len(page.Entries))
		}
		prev := f.After
		for _, e := range page.Entries {
			if !f.After.Less(e.Position) {
				t.Fatalf("%+v: entry at %v not after the cursor", f, e.Position)
			}
			f.After = e.Position
		}
		out = append(out, page.Entries...)
		if page.Next.IsZero() {
			return out, calls
		}
		if !prev.Less(page.Next) || page.Next.Less(f.After) {
			t.Fatalf("%+v: cursor %v does not move past %v (last entry %v)", f, page.Next, prev, f.After)
		}
		f.After = page.Next
	}
}
