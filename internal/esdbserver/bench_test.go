package esdbserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/portal-access/backend/internal/esdbserver"
	"github.com/portal-access/backend/internal/testkit"
)

// The benchmarks drive the embedded server through the official client over real gRPC (TCP
// loopback), with durable storage: every acknowledged append has been fsynced (except in
// BenchmarkAppendNoSyncReference, which says so). The data directories come from b.TempDir();
// on the benchmark machine that is /tmp, on the same ext4 disk as the repository, not tmpfs
// (BENCHMARKS.md records the machine). Run, in about two minutes:
//
//	go test ./internal/esdbserver/ -run '^$' -bench . -benchmem -benchtime 3s -count 3
//
// Besides ns/op, events/s and allocations, the append and fsync benchmarks report the CPU time
// of the whole process (client and server share it) per operation: on a machine whose fsync
// latency varies, it is the steadier measure of the code's cost.

// benchPayload is a ~200-byte JSON document, the size of a typical domain event.
var benchPayload = []byte(`{"companyId":"0b6d7c1e-8d0a-4c43-9a57-3f2f4f7f9a10","portalId":"portal-42",` +
	`"userId":"u-1234567","action":"AccessGranted","reason":"badge scanned at main entrance",` +
	`"at":"2025-01-01T12:00:00Z","seq":1234567}`)

func benchEvents(n int) []esdb.EventData {
	evs := make([]esdb.EventData, n)
	for i := range evs {
		evs[i] = esdb.EventData{EventID: uuid.New(), EventType: "AccessGranted",
			ContentType: esdb.ContentTypeJson, Data: benchPayload}
	}
	return evs
}

func BenchmarkAppendDurable(b *testing.B) {
	srv := testkit.StartEventStore(b)
	c := testkit.OfficialClient(b, srv.ConnectionString())
	steadyState(b, c)
	for _, writers := range []int{1, 32} {
		for _, perAppend := range []int{1, 10} {
			b.Run(fmt.Sprintf("writers=%d/events=%d", writers, perAppend), func(b *testing.B) {
				benchAppend(b, c, writers, perAppend)
			})
		}
	}
}

// steadyState connects the client (discovery happens on the first call), then writes about
// 50 MB of events, more than two memtables' worth, untimed. A fresh store appends to a new WAL
// file, and every fsync must also journal the file's growth; once a memtable has been flushed,
// Pebble recycles WAL files and overwrites them in place, which a long-running server does all
// the time. Durability is the same either way; the benchmarks measure the steady state.
func steadyState(b *testing.B, c *esdb.Client) {
	b.Helper()
	for range 300 {
		if _, err := c.AppendToStream(context.Background(), "steady-state", esdb.AppendToStreamOptions{}, benchEvents(500)...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendNoSyncReference is NOT durable (no fsync) and exists only for comparison: it
// runs the 32-writer case of BenchmarkAppendDurable through the same client, gRPC and storage
// code with fsync turned off, which shows the ceiling the client and gRPC leave on this machine.
func BenchmarkAppendNoSyncReference(b *testing.B) {
	srv, err := esdbserver.Start(esdbserver.Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0", Logger: testkit.Logger(), NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	c := testkit.OfficialClient(b, srv.ConnectionString())
	if _, err := c.AppendToStream(context.Background(), "warmup", esdb.AppendToStreamOptions{}, benchEvents(1)...); err != nil {
		b.Fatal(err)
	}
	b.Run("writers=32/events=1", func(b *testing.B) { benchAppend(b, c, 32, 1) })
}

// benchAppend makes b.N appends of perAppend events in total, spread over writers goroutines,
// each appending to its own stream with the exact expected revision.
func benchAppend(b *testing.B, c *esdb.Client, writers, perAppend int) {
	b.ReportAllocs()
	run := uuid.NewString()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	b.ResetTimer()
	start, cpu := time.Now(), processCPU()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("bench-%s-%d", run, w)
			var expected esdb.ExpectedRevision = esdb.NoStream{}
			for next.Add(1) <= int64(b.N) {
				res, err := c.AppendToStream(context.Background(), stream,
					esdb.AppendToStreamOptions{ExpectedRevision: expected}, benchEvents(perAppend)...)
				if err != nil {
					errs <- err
					return
				}
				expected = esdb.Revision(res.NextExpectedVersion)
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), processCPU()-cpu
	b.StopTimer()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*perAppend)/elapsed.Seconds(), "events/s")
	// CPU time of the whole process (client and server) per append: steadier than throughput
	// on a machine whose fsync latency varies.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}

const readAllEvents = 200_000

func BenchmarkReadAll(b *testing.B) {
	srv := testkit.StartEventStore(b)
	c := testkit.OfficialClient(b, srv.ConnectionString())
	// Pre-fill through the client: 1,000 streams of 200 events, appended 100 at a time by 8 writers.
	const streams, perAppend, writers = 1000, 100, 8
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := w; s < streams; s += writers {
				for range readAllEvents / streams / perAppend {
					if _, err := c.AppendToStream(context.Background(), fmt.Sprintf("fill-%d", s),
						esdb.AppendToStreamOptions{}, benchEvents(perAppend)...); err != nil {
						failed.Store(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.Run(fmt.Sprintf("events=%d", readAllEvents), func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		cpu := processCPU()
		for range b.N {
			rs, err := c.ReadAll(context.Background(), esdb.ReadAllOptions{From: esdb.Start{}}, 1<<62)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for {
				e, err := rs.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				if e.Event == nil {
					b.Fatal("event without a recorded event")
				}
				n++
			}
			rs.Close()
			if n != readAllEvents {
				b.Fatalf("read %d events from $all, want %d", n, readAllEvents)
			}
		}
		b.ReportMetric(float64(b.N*readAllEvents)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(b.N*readAllEvents), "cpu-ns/event")
	})
}

// BenchmarkFsyncCeiling is the machine's ceiling for durable commits: one 512-byte write and
// one sync per op, on the filesystem that holds the benchmarks' data directories.
func BenchmarkFsyncCeiling(b *testing.B) {
	for _, mode := range []string{"append+fsync", "overwrite+fdatasync"} {
		b.Run(mode, func(b *testing.B) {
			f, err := os.OpenFile(filepath.Join(b.TempDir(), "sync"), os.O_CREATE|os.O_RDWR, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, 512)
			b.ResetTimer()
			cpu := processCPU()
			for i := range b.N {
				if mode == "append+fsync" {
					_, err = f.Write(buf)
					if err == nil {
						err = f.Sync()
					}
				} else {
					_, err = f.WriteAt(buf, int64(i%8)*512)
					if err == nil {
						err = fdatasync(f)
					}
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fsync/s")
			b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
