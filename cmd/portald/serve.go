package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/portal-access/backend/internal/app"
)

func serve(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	cfg := app.Config{}
	fs.StringVar(&cfg.DataDir, "data-dir", envOr("PORTAL_DATA_DIR", "./data"), "directory of the embedded event store's data (env PORTAL_DATA_DIR)")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", envOr("PORTAL_HTTP_ADDR", "127.0.0.1:8080"), "address of the HTTP API (env PORTAL_HTTP_ADDR)")
	fs.StringVar(&cfg.ESDBListen, "esdb-listen", envOr("PORTAL_ESDB_LISTEN", "127.0.0.1:2113"), "gRPC address of the embedded event store (env PORTAL_ESDB_LISTEN)")
	fs.StringVar(&cfg.EventStoreURL, "eventstore", envOr("PORTAL_EVENTSTORE", ""), "esdb:// connection string of an external EventStoreDB; empty runs the embedded one (env PORTAL_EVENTSTORE)")
	fs.StringVar(&cfg.RedisURL, "redis", envOr("PORTAL_REDIS", ""), "redis:// URL of an external Redis for read models; empty runs an in-process one (env PORTAL_REDIS)")
	logLevel := fs.String("log-level", envOr("PORTAL_LOG_LEVEL", "info"), "debug, info, warn or error (env PORTAL_LOG_LEVEL)")
	logFormat := fs.String("log-format", envOr("PORTAL_LOG_FORMAT", "text"), "text or json (env PORTAL_LOG_FORMAT)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	cfg.Logger = logger

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a, err := app.Start(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "portald is serving on http://%s\n", a.HTTPAddr())
	var served error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "reason", "signal")
	case served = <-a.Done():
		logger.Error("http server stopped", "error", served)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := a.Close(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped cleanly")
	if served != nil {
		return served
	}
	return nil
}
