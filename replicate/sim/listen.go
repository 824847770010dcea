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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errorf("listen: %w", err)
	}
	return Serve(ctx, ln, opts)
}

// Serve is ListenAndServe on a listener that is open already (a caller
// that must hold its port from the start); it closes ln.
func Serve(ctx context.Context, ln net.Listener, opts Options) error {
	s := New(opts)
	defer s.Close()
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second, // Prefer: wait blocks up to 60s
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
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
