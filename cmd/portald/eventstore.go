package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/portal-access/backend/internal/esdbserver"
)

// runEventStore runs the embedded EventStoreDB-protocol server on its own, so that several portald
// processes (or tools speaking the EventStoreDB gRPC protocol) can share one event store, and so
// that an operator can stop and restart the event store under a running service.
func runEventStore(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eventstore", stderr)
	dataDir := fs.String("data-dir", envOr("PORTAL_DATA_DIR", "./data"), "directory of the event store's data (env PORTAL_DATA_DIR)")
	listen := fs.String("listen", envOr("PORTAL_ESDB_LISTEN", "127.0.0.1:2113"), "gRPC address to listen on (env PORTAL_ESDB_LISTEN)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	format := fs.String("log-format", "text", "text or json")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *level, *format)
	if err != nil {
		return err
	}
	srv, err := esdbserver.Start(esdbserver.Config{DataDir: *dataDir, Listen: *listen, Logger: logger})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "event store listening: %s (data in %s); stop with Ctrl-C\n", srv.ConnectionString(), *dataDir)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return srv.Close()
}
