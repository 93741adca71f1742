package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/internal/benchkit"
	"github.com/portal-access/backend/internal/testkit"
)

// TestBenchReportsEverySection runs `portald bench` in-process at the tiny scale and checks the
// report's shape — every section, a row in each, no error, nothing left in Redis — not its figures.
func TestBenchReportsEverySection(t *testing.T) {
	redisURL := "redis://" + testkit.RedisAddr()
	rdb := redis.NewClient(&redis.Options{Addr: testkit.RedisAddr()})
	defer rdb.Close()
	for _, asJSON := range []bool{false, true} {
		name := "text"
		if asJSON {
			name = "json"
		}
		t.Run(name, func(t *testing.T) {
			prefix := "test-bench-" + uuid.NewString()[:8]
			args := []string{"bench", "--scale", "tiny", "--duration", "200ms", "--clients", "4", "--redis", redisURL, "--redis-prefix", prefix}
			if asJSON {
				args = append(args, "--json")
			}
			var stdout, stderr bytes.Buffer
			if err := run(args, &stdout, &stderr); err != nil {
				t.Fatalf("portald bench: %v\nreport:\n%s\nlog:\n%s", err, stdout.String(), stderr.String())
			}
			if asJSON {
				var rep benchkit.Report
				if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
					t.Fatalf("the report is not JSON: %v\n%s", err, stdout.String())
				}
				if len(rep.Errors) > 0 {
					t.Fatalf("errors: %v", rep.Errors)
				}
				got := map[string]int{}
				for _, s := range rep.Sections {
					got[s.Name] = len(s.Rows)
				}
				for _, want := range benchSections {
					if got[want] == 0 {
						t.Errorf("section %q missing or empty (sections: %v)", want, got)
					}
				}
				if rep.Machine.NProc == 0 || rep.Machine.GoVersion == "" || rep.Machine.RedisVersion == "" {
					t.Errorf("machine: %+v", rep.Machine)
				}
			} else {
				out := stdout.String()
				for _, want := range benchSections {
					if !strings.Contains(out, "\n## "+want+"\n") {
						t.Errorf("section %q missing:\n%s", want, out)
					}
				}
				for _, want := range []string{"errors: none", "| CPUs | nproc ", "load average", "(fsync/s)", "Gin + one Redis GET",
					"POST /v1/check", "GET /v1/me/tickets?limit=50", "per viewer", "per ticket"} {
					if !strings.Contains(out, want) {
						t.Errorf("report lacks %q:\n%s", want, out)
					}
				}
				if strings.Contains(out, "ERROR") {
					t.Errorf("report has errors:\n%s", out)
				}
			}
			if keys := rdb.Keys(context.Background(), prefix+"*").Val(); len(keys) > 0 {
				t.Errorf("%d keys left under %s, e.g. %s", len(keys), prefix, keys[0])
			}
		})
	}
}

func TestBenchRefusesTheInProcessStore(t *testing.T) {
	m := miniredis.RunT(t)
	err := run([]string{"bench", "--scale", "tiny", "--redis", "redis://" + m.Addr()}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "not a real Redis") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("bench on an in-process store: %v", err)
	}
}

func TestBenchRefusesBadUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--scale", "huge"}, "bad --scale"},
		{[]string{"--duration", "0s"}, "--duration must be positive"},
		{[]string{"--clients", "0"}, "--clients must be at least 1"},
		{[]string{"--redis", ""}, "--redis is required"},
		{[]string{"--bogus"}, "flag provided but not defined"},
	} {
		err := run(append([]string{"bench"}, c.args...), &bytes.Buffer{}, &bytes.Buffer{})
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), c.msg) || strings.Contains(err.Error(), "\n") {
			t.Errorf("bench %v: %v, want exit 2 with %q", c.args, err, c.msg)
		}
	}
}
