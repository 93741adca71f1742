package benchkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
)

// GinRedisCeiling is the read API's ceiling: a Gin engine with no middleware whose one handler
// does one Redis GET of a short value and writes it. No real read route can answer faster on
// the same machine, Redis and HTTP stack.
type GinRedisCeiling struct {
	URL string // GET URL+"/ceiling"
	srv *http.Server
	rdb *redis.Client
	key string
}

// StartGinRedisCeiling sets key in rdb and serves the handler on a loopback port.
func StartGinRedisCeiling(ctx context.Context, rdb *redis.Client, key string) (*GinRedisCeiling, error) {
	if err := rdb.Set(ctx, key, "hello", 0).Err(); err != nil {
		return nil, fmt.Errorf("ceiling: set %s: %w", key, err)
	}
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	engine.GET("/ceiling", func(c *gin.Context) {
		v, err := rdb.Get(c.Request.Context(), key).Result()
		if err != nil {
			c.Status(http.StatusInternalServerError)
			return
		}
		c.String(http.StatusOK, v)
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("ceiling: listen: %w", err)
	}
	c := &GinRedisCeiling{URL: "http://" + lis.Addr().String(), rdb: rdb, key: key,
		srv: &http.Server{Handler: engine, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = c.srv.Serve(lis) }()
	return c, nil
}

// Op is one GET /ceiling through hc, failing unless it answers 200 "hello".
func (c *GinRedisCeiling) Op(hc *http.Client) Op {
	return func(ctx context.Context, _, _ int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"/ceiling", nil)
		if err != nil {
			return err
		}
		status, body, _, err := Do(hc, req)
		if err != nil {
			return err
		}
		if status != http.StatusOK || string(body) != "hello" {
			return fmt.Errorf("ceiling: %d %q", status, body)
		}
		return nil
	}
}

// Close stops the server (at once: a graceful shutdown waits up to 5 s for a connection a
// client opened but never used) and deletes the key.
func (c *GinRedisCeiling) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(c.srv.Close(), c.rdb.Del(ctx, c.key).Err())
}

// NewHTTPClient is an HTTP client for clients concurrent load clients on one host: enough idle
// connections that none is closed and reopened during a run.
func NewHTTPClient(clients int) *http.Client {
	tr := &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients, DisableCompression: true,
		IdleConnTimeout: time.Minute}
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// Do sends req and reads the whole answer.
func Do(hc *http.Client, req *http.Request) (status int, body []byte, header http.Header, err error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header, err
}
