package benchkit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/internal/benchkit"
	"github.com/portal-access/backend/internal/testkit"
)

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i))
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0.001, 1}} {
		if got := benchkit.Percentile(s, c.q); got != c.want {
			t.Errorf("p%v = %v, want %v", c.q, got, c.want)
		}
	}
	if benchkit.Percentile(nil, 0.5) != 0 {
		t.Error("empty samples")
	}
	if got := benchkit.Merge([]time.Duration{3, 1}, []time.Duration{2}); got[0] != 1 || got[2] != 3 {
		t.Errorf("merge: %v", got)
	}
}

func TestRunClosedLoopCountsOpsAndErrors(t *testing.T) {
	var calls atomic.Int64
	r := benchkit.Run(context.Background(), benchkit.Options{Clients: 4, Duration: 100 * time.Millisecond, Warmup: 2},
		func(_ context.Context, worker, seq int) error {
			if worker < 0 || worker >= 4 {
				t.Errorf("worker %d", worker)
			}
			calls.Add(1)
			time.Sleep(time.Millisecond)
			if seq%10 == 9 {
				return errors.New("boom")
			}
			return nil
		})
	if r.Ops == 0 || r.Errors == 0 || r.FirstError != "boom" {
		t.Fatalf("result %+v", r)
	}
	if int64(r.Ops+r.Errors+8) != calls.Load() {
		t.Fatalf("%d ops + %d errors + 8 warm-up, %d calls", r.Ops, r.Errors, calls.Load())
	}
	if r.P50 < time.Millisecond || r.P99 < r.P50 || r.Max < r.P99 || r.PerSecond <= 0 {
		t.Fatalf("latencies %+v", r)
	}
	if r.Err() == nil || !strings.Contains(r.Err().Error(), "boom") {
		t.Fatalf("Err: %v", r.Err())
	}
	if r.RedisMeasured {
		t.Fatal("Redis CPU measured without Redis")
	}
}

func TestRunOpenLoopKeepsTheRate(t *testing.T) {
	r := benchkit.Run(context.Background(), benchkit.Options{Clients: 4, Duration: 300 * time.Millisecond, Rate: 200},
		func(context.Context, int, int) error { return nil })
	// 200/s for 0.3 s is 60 operations due; allow for a busy machine.
	if r.Ops < 50 || r.Ops > 61 || r.Err() != nil {
		t.Fatalf("%d ops at 200/s over 300 ms (%+v)", r.Ops, r)
	}
}

func TestRunStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	benchkit.Run(ctx, benchkit.Options{Clients: 2, Duration: time.Minute}, func(context.Context, int, int) error {
		time.Sleep(time.Millisecond)
		return nil
	})
	if time.Since(start) > 10*time.Second {
		t.Fatal("the run did not stop with its context")
	}
}

func TestFsyncCeiling(t *testing.T) {
	for _, mode := range []benchkit.FsyncMode{benchkit.AppendFsync, benchkit.OverwriteFdatasync} {
		r, err := benchkit.FsyncCeiling(context.Background(), t.TempDir(), mode, 50*time.Millisecond)
		if err != nil || r.Ops == 0 || r.PerSecond <= 0 || r.CPUPerOp <= 0 {
			t.Fatalf("%s: %+v %v", mode, r, err)
		}
	}
	if _, err := benchkit.FsyncCeiling(context.Background(), "/nonexistent/dir", benchkit.AppendFsync, time.Millisecond); err == nil {
		t.Fatal("no error for a missing directory")
	}
}

func TestGinRedisCeilingAndRedisFigures(t *testing.T) {
	rdb, prefix := testkit.Redis(t)
	ctx := context.Background()
	c, err := benchkit.StartGinRedisCeiling(ctx, rdb, prefix+":ceiling")
	if err != nil {
		t.Fatal(err)
	}
	hc := benchkit.NewHTTPClient(4)
	r := benchkit.Run(ctx, benchkit.Options{Clients: 4, Duration: 100 * time.Millisecond, Redis: rdb}, c.Op(hc))
	if err := r.Err(); err != nil || !r.RedisMeasured || r.CPUPerOp <= 0 {
		t.Fatalf("ceiling: %+v %v", r, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, prefix+":ceiling").Val(); n != 0 {
		t.Fatal("the ceiling's key is left")
	}

	if v, err := benchkit.RealRedis(ctx, rdb, prefix+":probe"); err != nil || v == "" {
		t.Fatalf("RealRedis: %q %v", v, err)
	}
	for i := range 10 {
		rdb.HSet(ctx, prefix+":a:"+string(rune('0'+i)), "f", strings.Repeat("x", 100))
	}
	rdb.Set(ctx, prefix+":b", "v", 0)
	stats, err := benchkit.MemoryByKind(ctx, rdb, prefix+":*", func(k string) string {
		if strings.HasPrefix(k, prefix+":a:") {
			return "a"
		}
		return "b"
	})
	if err != nil || len(stats) != 2 || stats[0].Kind != "a" || stats[0].Keys != 10 || stats[0].Bytes < 1000 || stats[1].Keys != 1 {
		t.Fatalf("memory by kind: %+v %v", stats, err)
	}
	if used, err := benchkit.UsedMemory(ctx, rdb); err != nil || used <= 0 {
		t.Fatalf("used memory %d %v", used, err)
	}
	if n, err := benchkit.DeleteKeys(ctx, rdb, prefix+":*"); err != nil || n != 11 {
		t.Fatalf("deleted %d %v", n, err)
	}
}

func TestRealRedisRefusesTheInProcessStore(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	if _, err := benchkit.RealRedis(context.Background(), rdb, "probe"); err == nil {
		t.Fatal("the in-process store passed for a real Redis")
	}
}

func TestReportPrintsTablesAndJSON(t *testing.T) {
	r := &benchkit.Report{Title: "bench", Started: time.Now(), Finished: time.Now(), Machine: benchkit.ReadMachine(t.TempDir())}
	r.Set("clients", "16")
	s := r.Section("Load", "a note", benchkit.LoadColumns("requests/s")...)
	s.Add("GET /x", benchkit.Result{Ops: 12345, PerSecond: 2469, P50: 1500 * time.Microsecond, P99: 12 * time.Millisecond}.Values())
	s.Add("broken", benchkit.V{"rate": math.NaN(), "ops": 3})
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, want := range []string{"# bench", "## Load", "a note", "| throughput (requests/s) |", "2,469", "1.50", " 12 |", "12,345", "errors: none", "| clients | 16 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	s.Fail(errors.New("it broke"))
	s.Fail(nil)
	if r.Err() == nil || len(r.Errors) != 1 || r.Errors[0] != "Load: it broke" {
		t.Fatalf("errors %v", r.Errors)
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back benchkit.Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Sections) != 1 || back.Sections[0].Rows[0].Values["rate"] != 2469 || back.Machine.NProc == 0 || len(back.Errors) != 1 {
		t.Fatalf("JSON round trip: %s", js.String())
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{{1234567, "B", "1,234,567"}, {0.5, "ms", "0.50"}, {12.34, "ms", "12.3"}, {123.4, "µs", "123"}, {42, "", "42"}, {99.6, "%", "100"}, {1.26, "x", "1.3"}} {
		if got := benchkit.Format(c.v, c.unit); got != c.want {
			t.Errorf("Format(%v, %q) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
}
