package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portal-access/backend/internal/app"
	"github.com/portal-access/backend/projections"
)

// rebuild drops and rebuilds every read model from the log: it builds a new generation beside
// the live one and switches when done, so a serving portald keeps answering from the old one
// meanwhile and then follows the switch.
func rebuild(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rebuild", stderr)
	redisURL := fs.String("redis", envOr("PORTAL_REDIS", ""), "redis:// URL of the Redis holding the read models (env PORTAL_REDIS); required")
	prefix := fs.String("redis-prefix", envOr("PORTAL_REDIS_PREFIX", "pa"), "prefix of the read-model keys in Redis (env PORTAL_REDIS_PREFIX)")
	esURL := fs.String("eventstore", envOr("PORTAL_EVENTSTORE", ""), "esdb:// connection string of an external EventStoreDB (env PORTAL_EVENTSTORE)")
	esdbListen := fs.String("esdb-listen", envOr("PORTAL_ESDB_LISTEN", "127.0.0.1:2113"), "a running portald's embedded event store (env PORTAL_ESDB_LISTEN)")
	dataDir := fs.String("data-dir", envOr("PORTAL_DATA_DIR", "./data"), "the embedded event store's data directory when no portald runs (env PORTAL_DATA_DIR)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *redisURL == "" {
		return &exitError{code: 2, err: errors.New("rebuild needs the Redis that holds the read models (--redis or PORTAL_REDIS); the in-process store of 'serve' is rebuilt at every start")}
	}
	opts, err := app.ParseRedisURL(*redisURL)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("bad --redis: %w", err)}
	}
	logger, err := newLogger(stderr, "warn", "text")
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s is not reachable: %w", opts.Addr, err)
	}
	side, err := openCommandSide(ctx, *esURL, *esdbListen, *dataDir, given(fs, "data-dir"), logger)
	if err != nil {
		return err
	}
	defer side.close()
	head, err := side.store.LastPosition(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "rebuilding the read models (event store: %s; log head %s)\n", side.where, head)
	start := time.Now()
	var events uint64
	res, err := projections.Rebuild(ctx, rdb, side.store, side.reg, app.ReadModels(side.store, side.reg), *prefix, head,
		func(done, total uint64, elapsed time.Duration) {
			events = done
			fmt.Fprint(stderr, "\r"+progressBar(done, total, elapsed))
		})
	fmt.Fprintln(stderr)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	fmt.Fprintf(stdout, "rebuilt %d events into generation %d in %v (%.0f events/s); readers now use it\n", events, res.Generation,
		res.Built.Round(time.Millisecond), float64(events)/res.Built.Seconds())
	if res.Previous == 0 {
		return nil
	}
	fmt.Fprintf(stderr, "deleting generation %d once no serving portald reads it…\n", res.Previous)
	dropped, err := res.DropPrevious(ctx)
	switch {
	case err != nil:
		return fmt.Errorf("generation %d was not deleted (the next rebuild deletes it): %w", res.Previous, err)
	case !dropped:
		fmt.Fprintf(stderr, "portald: generation %d is still read by a serving portald: left in place; the next rebuild deletes it\n", res.Previous)
	default:
		fmt.Fprintf(stdout, "deleted generation %d (%v after the start)\n", res.Previous, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// progressBar draws "[=====>    ]  45%  12345 events  52000 events/s". total is the log head's
// commit position, an upper bound of the event count on the embedded store.
func progressBar(done, total uint64, elapsed time.Duration) string {
	const width = 30
	frac := 1.0
	if total > 0 && done < total {
		frac = float64(done) / float64(total)
	}
	n := int(frac * width)
	bar := strings.Repeat("=", n)
	if n < width {
		bar += ">" + strings.Repeat(" ", width-n-1)
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed.Seconds()
	}
	return fmt.Sprintf("[%s] %3.0f%%  %d events  %.0f events/s", bar, frac*100, done, rate)
}
