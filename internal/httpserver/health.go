// Package httpserver holds what every HTTP surface of the service shares: the Gin engine's
// middleware (request ids, structured access logs, panic recovery) and the health endpoint.
package httpserver

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/portal-access/backend/internal/problem"
)

// Check reports whether one dependency is reachable.
type Check struct {
	Name  string
	Probe func(context.Context) error
}

// New returns a Gin engine with the shared middleware and GET /healthz.
func New(logger *slog.Logger, checks ...Check) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(requestID(), accessLog(logger), gin.CustomRecovery(func(c *gin.Context, rec any) {
		logger.Error("panic in handler", "panic", rec, "path", c.FullPath(), "request_id", c.GetString(requestIDKey))
		problem.Write(c, problem.New(http.StatusInternalServerError, "internal", "the request failed; it was logged with its request id"))
	}))
	// Every answer is problem+json, also for a path or method no route serves.
	r.HandleMethodNotAllowed = true
	r.NoRoute(func(c *gin.Context) {
		problem.Write(c, problem.New(http.StatusNotFound, "not-found", "no such resource"))
	})
	r.NoMethod(func(c *gin.Context) {
		problem.Write(c, problem.New(http.StatusMethodNotAllowed, "method-not-allowed", "the resource does not answer "+c.Request.Method))
	})
	r.GET("/healthz", Health(checks))
	return r
}

const requestIDKey = "request_id"

func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-Id")
		if id == "" || len(id) > 128 {
			id = uuid.NewString()
		}
		c.Set(requestIDKey, id)
		c.Header("X-Request-Id", id)
		c.Next()
	}
}

func accessLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		logger.Info("http",
			"method", c.Request.Method, "path", c.Request.URL.Path, "route", c.FullPath(),
			"status", c.Writer.Status(), "duration_ms", float64(time.Since(start).Microseconds())/1000,
			"request_id", c.GetString(requestIDKey))
	}
}

// Health answers 200 when every check passes, 503 naming the ones that do not (with why):
// /healthz (dependencies reachable) and /readyz (and the read models caught up) both use it.
func Health(checks []Check) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		status := http.StatusOK
		components := gin.H{}
		for _, ch := range checks {
			if err := ch.Probe(ctx); err != nil {
				status = http.StatusServiceUnavailable
				components[ch.Name] = gin.H{"status": "down", "error": err.Error()}
				continue
			}
			components[ch.Name] = gin.H{"status": "up"}
		}
		state := "ok"
		if status != http.StatusOK {
			state = "degraded"
		}
		c.JSON(status, gin.H{"status": state, "components": components})
	}
}
