package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/serve"
)

type serveCommand struct{ stdout, stderr io.Writer }

const serveUsage = `Usage: dogrun serve [flags]

Serves a live dashboard of the results database in the browser: the
experiments with their trials' progress while they run, each experiment's
variants, verdicts, curves and settings against accuracy, runs compared side
by side on the same test photos, trial pages with Grad-CAM tiles, and a page
that names the dog in an uploaded photo. Pages update by themselves.

It only reads: the database is opened read-only, and a running sweep's
writes never wait for it. Identify and Grad-CAM run the backbone on -threads
cores (one by default), so that a sweep keeps the others.

It listens on this machine's loopback only (127.0.0.1) unless -expose is
given. WARNING: the dashboard has no login. With -expose anyone who can reach
the port reads every result, sees the photos of the experiments' folders and
runs the trained trials on photos of their own. Prefer an SSH tunnel
(ssh -L 8080:127.0.0.1:8080 HOST) or a proxy that authenticates.

`

func (c *serveCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("serve", serveUsage, c.stderr)
	var store storeFlags
	store.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	expose := fs.Bool("expose", false, "allow an -addr beyond loopback (read the WARNING above)")
	threads := fs.Int("threads", 1, "ONNX Runtime threads for identify and Grad-CAM")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	if !serve.LoopbackAddr(*addr) && !*expose {
		fs.Usage()
		return fmt.Errorf("%w: -addr %s listens beyond this machine's loopback; add -expose if you mean it (see the WARNING above)", errUsage, *addr)
	}
	cacheDir, err := workspace.CacheDir() // where identify and Grad-CAM find the backbones
	if err != nil {
		return err
	}
	st, err := store.open()
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := serve.New(serve.Options{Store: st, CacheDir: cacheDir, Threads: *threads, Exposed: *expose, Log: c.stderr})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *expose {
		fmt.Fprintf(c.stderr, "warning: serving %s beyond loopback without a login: anyone who reaches it reads every result\n", ln.Addr())
	}
	fmt.Fprintf(c.stdout, "dogrun serve: %s on http://%s/ (Ctrl-C stops)\n", st.Path(), ln.Addr())

	// Event streams last as long as their page: they end with this context.
	base, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return base }}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	stop()
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shut); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(c.stdout, "dogrun serve: stopped")
	return nil
}
