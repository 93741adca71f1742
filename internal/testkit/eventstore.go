// Package testkit holds fixtures shared by tests across packages: an embedded event store on a
// free loopback port, clients for it, and Redis isolation helpers.
package testkit

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/portal-access/backend/internal/esdbserver"
	"github.com/portal-access/backend/internal/eventstore"
)

// Logger is a logger for tests: quiet unless PORTAL_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("PORTAL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// StartEventStore starts an embedded event store in a fresh temporary data directory on a free
// loopback port and stops it when the test ends.
func StartEventStore(t testing.TB) *esdbserver.Server {
	t.Helper()
	return StartEventStoreIn(t, t.TempDir(), "127.0.0.1:0")
}

// StartEventStoreIn starts an embedded event store on dir and addr (to restart one in place).
func StartEventStoreIn(t testing.TB, dir, addr string) *esdbserver.Server {
	t.Helper()
	srv, err := esdbserver.Start(esdbserver.Config{DataDir: dir, Listen: addr, Logger: Logger()})
	if err != nil {
		t.Fatalf("start embedded event store: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// OfficialClient is the unmodified official EventStoreDB client connected to srv.
func OfficialClient(t testing.TB, connectionString string) *esdb.Client {
	t.Helper()
	cfg, err := esdb.ParseConnectionString(connectionString)
	if err != nil {
		t.Fatalf("parse connection string: %v", err)
	}
	cfg.Logger = func(esdb.LogLevel, string, ...interface{}) {}
	cl, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatalf("new esdb client: %v", err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// StoreClient is the service's event store adapter connected to connectionString.
func StoreClient(t testing.TB, connectionString string) *eventstore.Client {
	t.Helper()
	c, err := eventstore.Connect(connectionString, Logger())
	if err != nil {
		t.Fatalf("connect event store adapter: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
