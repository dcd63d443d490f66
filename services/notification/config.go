package notification

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cantondex/platform/services/notification/asyncapi"
)

// Config is the notification service's own settings, read once from the environment.
type Config struct {
	Addr     string // HTTP_ADDR, default :8080
	TokenKey []byte // AUTH_TOKEN_KEY (base64): the gateway's, to verify its access tokens
	SealKey  []byte // AUTH_SEAL_KEY (base64, 32 bytes): the gateway's, to verify API key signatures
	Server   ServerConfig
	// SendBuffer, when set, is the kernel send buffer (SO_SNDBUF) of each client connection,
	// in bytes (STREAM_SEND_BUFFER): a bound on the kernel memory one connection holds, and on
	// how much a client that stops reading absorbs before its queue fills.
	SendBuffer int
}

// ConfigFromEnv reads HTTP_ADDR, AUTH_TOKEN_KEY, AUTH_SEAL_KEY, CORS_ORIGINS (the gateway's,
// comma separated), STREAM_QUEUE (frames per connection), STREAM_MAX_CONNS_PER_USER and
// STREAM_MAX_SUBSCRIPTIONS, STREAM_MAX_CONNS and STREAM_WRITE_TIMEOUT (how long one write to a
// client may block before the connection is dropped without a close frame). The keys are required unless requireKeys is false (the
// all-in-one binary shares its gateway's).
func ConfigFromEnv(getenv func(string) string, requireKeys bool) (Config, error) {
	c := Config{Addr: getenv("HTTP_ADDR")}
	if c.Addr == "" {
		c.Addr = ":8080"
	}
	var err error
	if requireKeys {
		if c.TokenKey, err = key(getenv, "AUTH_TOKEN_KEY", 32); err != nil {
			return c, err
		}
		if c.SealKey, err = key(getenv, "AUTH_SEAL_KEY", 32); err != nil {
			return c, err
		}
	}
	for _, o := range strings.Split(getenv("CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.Server.OriginPatterns = append(c.Server.OriginPatterns, o)
		}
	}
	for name, dst := range map[string]*int{"STREAM_QUEUE": &c.Server.QueueSize, "STREAM_MAX_CONNS_PER_USER": &c.Server.MaxConnsPerUser,
		"STREAM_MAX_SUBSCRIPTIONS": &c.Server.MaxSubscriptions, "STREAM_MAX_CONNS": &c.Server.MaxConns, "STREAM_SEND_BUFFER": &c.SendBuffer} {
		v := getenv(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			return c, fmt.Errorf("%s: want a whole number from 1 to 1000000, got %q", name, v)
		}
		*dst = n
	}
	if v := getenv("STREAM_WRITE_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 5*time.Minute {
			return c, fmt.Errorf("STREAM_WRITE_TIMEOUT %q: want a duration from 1s to 5m", v)
		}
		c.Server.WriteTimeout = d
	}
	return c, nil
}

func key(getenv func(string) string, name string, size int) ([]byte, error) {
	v := getenv(name)
	if v == "" {
		return nil, fmt.Errorf("%s is required (the gateway's key, base64)", name)
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) < size || (name == "AUTH_SEAL_KEY" && len(b) != size) {
		return nil, fmt.Errorf("%s: want base64 of %d random bytes", name, size)
	}
	return b, nil
}

// Handler routes Path to the WebSocket endpoint and serves the AsyncAPI document at
// /api/v1/asyncapi.json; anything else is 404.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Path, s)
	mux.HandleFunc("GET /api/v1/asyncapi.json", asyncapi.Serve)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		httpError(w, http.StatusNotFound, "not_found", "not found")
	})
	return mux
}

// Serve serves h on l until ctx ends, then closes every stream connection with
// CloseGoingAway (clients reconnect and resume elsewhere) and shuts down.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 16 << 10}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	s.Shutdown()
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdown)
	if e := <-done; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// sendBufferListener sets the send buffer of every connection it accepts.
type sendBufferListener struct {
	net.Listener
	size int
}

func (l sendBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && err == nil {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, err
}
