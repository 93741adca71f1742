// Package esdbserver is an embedded event store that speaks the EventStoreDB gRPC protocol, so
// that the service reaches it through the official client exactly as it would reach a real
// EventStoreDB node. It serves Streams (append, read, subscribe, delete, tombstone) and
// ServerFeatures over durable storage in a data directory (package eventlog).
package esdbserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/portal-access/backend/internal/esdbserver/eventlog"
)

// ServerVersion is what the server announces to clients: a version with the features the
// official client negotiates for (numeric MAJOR.MINOR.PATCH, as the client requires).
const ServerVersion = "24.10.0"

// Config says where the embedded server keeps its data and where it listens.
type Config struct {
	DataDir string
	// Listen is the gRPC address; loopback unless the operator says otherwise.
	Listen string
	Logger *slog.Logger
	// NoSync disables fsync; only for benchmarks that measure something else.
	NoSync bool
}

// Server is a running embedded event store.
type Server struct {
	log    *eventlog.Log
	grpc   *grpc.Server
	lis    net.Listener
	logger *slog.Logger
	served chan error
}

// Start opens the data directory, binds the listener and serves until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:2113"
	}
	lg, err := eventlog.Open(cfg.DataDir, eventlog.Options{NoSync: cfg.NoSync})
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		lg.Close()
		return nil, fmt.Errorf("embedded event store: listen on %s: %w", cfg.Listen, err)
	}
	s := &Server{log: lg, lis: lis, logger: cfg.Logger, served: make(chan error, 1)}
	s.grpc = NewGRPCServer(lg, cfg.Logger)
	go func() { s.served <- s.grpc.Serve(lis) }()
	cfg.Logger.Info("embedded event store listening", "addr", lis.Addr().String(), "data_dir", cfg.DataDir, "head", lg.Head())
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// ConnectionString is the esdb:// URL the official client uses to reach this server.
func (s *Server) ConnectionString() string {
	return "esdb://" + s.Addr() + "?tls=false"
}

// Log exposes the storage, for tests and diagnostics.
func (s *Server) Log() *eventlog.Log { return s.log }

// Close stops serving (ending subscriptions) and closes the storage after pending appends.
func (s *Server) Close() error {
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		s.grpc.Stop() // subscriptions are open-ended: do not wait for them forever
	}
	return s.log.Close()
}

// NewGRPCServer builds the gRPC server with the EventStoreDB services over lg.
func NewGRPCServer(lg *eventlog.Log, logger *slog.Logger) *grpc.Server {
	g := grpc.NewServer(
		// The client pings every 10 s, idle or not; a default server would answer GOAWAY.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
		grpc.MaxRecvMsgSize(eventlog.MaxAppendSize+1<<20),
		// Passes the events that reads and subscriptions pre-encode straight through (wire.go).
		grpc.ForceServerCodecV2(newServerCodec()),
		// Reuse handler goroutines: a fresh goroutine per RPC grows its stack anew on every
		// append (the append path is deep), copying it several times. Appends wait for their
		// fsync, so many are in flight at once; beyond the pool gRPC starts goroutines as usual.
		grpc.NumStreamWorkers(64),
	)
	api.RegisterStreamsServer(g, &streamsService{log: lg, logger: logger})
	serverfeatures.RegisterServerFeaturesServer(g, featuresService{})
	return g
}

type featuresService struct {
	serverfeatures.UnimplementedServerFeaturesServer
}

func (featuresService) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	const svc = "event_store.client.streams.streams"
	m := func(name string) *serverfeatures.SupportedMethod {
		return &serverfeatures.SupportedMethod{MethodName: name, ServiceName: svc}
	}
	return &serverfeatures.SupportedMethods{
		EventStoreServerVersion: ServerVersion,
		Methods:                 []*serverfeatures.SupportedMethod{m("read"), m("append"), m("delete"), m("tombstone")},
	}, nil
}

// ticks converts a time to EventStoreDB's "created" metadata: 100-ns ticks since the Unix epoch.
func ticks(t time.Time) string { return strconv.FormatInt(t.UnixNano()/100, 10) }

var errUnsupported = errors.New("not supported by the embedded event store")
