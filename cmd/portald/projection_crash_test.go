package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/internal/eventstore"
	"github.com/portal-access/backend/internal/testkit"
	"github.com/portal-access/backend/projections"
)

// TestProjectionsSurviveKillNine runs portald (embedded event store, the real Redis), loads the
// demo and drives a mixed command load over HTTP, SIGKILLs the process mid-load several times,
// and finally checks that the live read models, caught up, equal a clean rebuild from the log.
func TestProjectionsSurviveKillNine(t *testing.T) {
	bin := testkit.BuildPortald(t)
	dir := t.TempDir()
	rdb, prefix := testkit.Redis(t)
	redisArgs := []string{"--redis", "redis://" + testkit.RedisAddr() + "/0", "--redis-prefix", prefix}
	ctx := context.Background()
	accepted := 0
	for round := 0; round < 3; round++ {
		p := testkit.StartPortald(t, bin, dir, append([]string{"--demo"}, redisArgs...)...)
		accepted += load(t, bin, dir, p, time.Duration(300+rand.IntN(500))*time.Millisecond)
		p.Kill()
	}
	if accepted < 50 {
		t.Fatalf("only %d commands accepted: the load did not exercise the projections", accepted)
	}

	p := testkit.StartPortald(t, bin, dir, redisArgs...)
	store, err := eventstore.Connect(p.ESDBURL(), testkit.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	head, err := store.LastPosition(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gen := waitCaughtUp(t, rdb, prefix, head)
	live := projections.Keys{Prefix: prefix, Gen: gen}
	liveDigest, liveKeys := testkit.Digest(ctx, rdb, live.Generation(), fmt.Sprintf("%s:g%d:", prefix, gen), ":cp:")

	out, err := exec.Command(bin, append([]string{"rebuild", "--esdb-listen", p.ESDBListen}, redisArgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	next, _ := projections.ActiveGeneration(ctx, rdb, prefix)
	if next != gen+1 {
		t.Fatalf("active generation %d after the rebuild, want %d", next, gen+1)
	}
	rebuilt, rebuiltKeys := testkit.Digest(ctx, rdb, projections.Keys{Prefix: prefix, Gen: next}.Generation(), fmt.Sprintf("%s:g%d:", prefix, next), ":cp:")
	if rebuilt != liveDigest {
		t.Fatalf("after %d accepted commands and 3 SIGKILLs the live read model (%d keys) differs from a clean rebuild (%d keys)", accepted, liveKeys, rebuiltKeys)
	}
	t.Logf("%d commands, 3 SIGKILLs: live read model = clean rebuild (%d keys, log head %s)", accepted, liveKeys, head)
}

// load sends commands as the demo's tenant admin from 4 clients for d; it returns how many
// were accepted. Errors are expected once the process is killed.
func load(t *testing.T, bin, dir string, p *testkit.Portald, d time.Duration) int {
	t.Helper()
	tok, err := exec.Command(bin, "token", "--tenant", "demo", "--sub", "demo-ada", "--data-dir", dir).Output()
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	base := "http://" + p.HTTPAddr + "/v1"
	var mu sync.Mutex
	accepted := 0
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				company, ok := postID(base+"/companies", token, fmt.Sprintf(`{"name":"Load %d-%d","kind":"customer"}`, c, i), "company_id")
				if !ok {
					return
				}
				site, ok := postID(base+"/companies/"+company+"/sites", token, `{"name":"Site"}`, "site_id")
				if !ok {
					return
				}
				n := 2
				if _, ok := postID(base+"/tickets", token, fmt.Sprintf(`{"site":%q,"type":"incident","title":"Load"}`, site), "ticket_id"); ok {
					n++
				}
				mu.Lock()
				accepted += n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return accepted
}

func postID(url, token, body, id string) (string, bool) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	var out struct {
		IDs map[string]string `json:"ids"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&out) != nil {
		return "", false
	}
	return out.IDs[id], true
}

// waitCaughtUp waits until every projection's checkpoint in the active generation is at head.
func waitCaughtUp(t *testing.T, rdb *redis.Client, prefix string, head eventstore.Position) int64 {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		gen, _ := projections.ActiveGeneration(ctx, rdb, prefix)
		cps := testkit.Keys(ctx, rdb, fmt.Sprintf("%s:g%d:cp:*", prefix, gen))
		ok := len(cps) >= 2
		for _, cp := range cps {
			pos, err := projections.ParsePosition(rdb.Get(ctx, cp).Val())
			if err != nil || pos.Less(head) {
				ok = false
			}
		}
		if ok {
			return gen
		}
		if time.Now().After(deadline) {
			t.Fatalf("projections did not catch up with %s: %v", head, cps)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
