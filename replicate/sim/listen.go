package sim

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// ListenAndServe runs a simulator on addr (such as ":8090") until ctx is
// done, then shuts the HTTP server down (waiting up to 5 seconds for requests
// in flight) and closes the simulator. When opts.BaseURL is empty, output
// URLs use the Host each create request was sent to.
func ListenAndServe(ctx context.Context, addr string, opts Options) error {
	s := New(opts)
	defer s.Close()
	srv := &http.Server{
		Addr:              addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second, // Prefer: wait blocks up to 60s
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errorf("listen: %w", err)
	}
	s.opts.Logger.Info("sim: replicate simulator listening", "addr", ln.Addr().String(),
		"webhook_secret_set", opts.WebhookSecret != "")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return errorf("serve: %w", err)
	}
	return nil
}
