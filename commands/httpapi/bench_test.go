package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portal-access/backend/internal/testkit"
)

// BenchmarkCommandsHTTP measures accepted commands per second and their latency over HTTP with
// the embedded event store (durable appends through the official client). Each operation is a
// RegisterCompany. "one-tenant" puts every client on the same tenant (commands on one tenant
// serialize on its Directory stream); "tenant-per-client" spreads them.
func BenchmarkCommandsHTTP(b *testing.B) {
	for _, clients := range []int{1, 32} {
		for _, spread := range []bool{false, true} {
			name := fmt.Sprintf("clients=%d/one-tenant", clients)
			if spread {
				name = fmt.Sprintf("clients=%d/tenant-per-client", clients)
			}
			b.Run(name, func(b *testing.B) { benchCommands(b, clients, spread) })
		}
	}
}

func benchCommands(b *testing.B, clients int, spread bool) {
	api := testkit.StartAPI(b)
	tokens := make([]string, clients)
	shared := api.CreateTenant("bench", 5)
	for i := range tokens {
		tokens[i] = shared.AdminToken
		if spread {
			tokens[i] = api.CreateTenant(fmt.Sprintf("bench-%d", i), 5).AdminToken
		}
	}
	http.DefaultTransport.(*http.Transport).MaxIdleConnsPerHost = 64
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				t0 := time.Now()
				r := api.Do("POST", "/v1/companies", tokens[c], map[string]any{"name": fmt.Sprintf("Company %d", i), "kind": "customer"})
				lat[c] = append(lat[c], time.Since(t0))
				if r.Status != http.StatusCreated {
					b.Errorf("command refused: %s", r)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "commands/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}
