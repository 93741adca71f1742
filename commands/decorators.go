package commands

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/portal-access/backend/domain"
	"github.com/portal-access/backend/internal/eventstore"
)

// WithRetry re-runs a command that lost an optimistic-concurrency race (another writer appended
// to the stream first), up to attempts times: the next attempt decides on fresh state.
func WithRetry[C any](h Handler[C], attempts int) Handler[C] {
	return HandlerFunc[C](func(ctx context.Context, m Meta, cmd C) (Result, error) {
		var err error
		for i := 0; i < attempts; i++ {
			var r Result
			if r, err = h.Handle(ctx, m, cmd); !errors.Is(err, eventstore.ErrConflict) {
				return r, err
			}
			select {
			case <-ctx.Done():
				return Result{}, ctx.Err()
			case <-time.After(time.Duration(i+1) * 5 * time.Millisecond):
			}
		}
		return Result{}, err
	})
}

// WithLogging logs every command's outcome with its actor, tenant and duration.
func WithLogging[C any](name string, logger *slog.Logger, h Handler[C]) Handler[C] {
	return HandlerFunc[C](func(ctx context.Context, m Meta, cmd C) (Result, error) {
		start := time.Now()
		r, err := h.Handle(ctx, m, cmd)
		attrs := []any{"command", name, "tenant", m.Tenant, "actor_kind", m.Principal.Kind,
			"actor", string(m.Principal.Person) + m.Principal.Service, "duration_ms", float64(time.Since(start).Microseconds()) / 1000}
		var de *domain.Error
		switch {
		case err == nil:
			logger.Info("command accepted", append(attrs, "events", r.Events, "position", r.Position.String(), "replayed", r.Replayed)...)
		case errors.As(err, &de):
			logger.Info("command refused", append(attrs, "code", de.Code)...)
		default:
			logger.Error("command failed", append(attrs, "error", err)...)
		}
		return r, err
	})
}

// Decorate applies the standard decorators every handler gets.
func Decorate[C any](name string, logger *slog.Logger, h Handler[C]) Handler[C] {
	return WithLogging(name, logger, WithRetry(h, 5))
}
