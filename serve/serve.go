// Package serve is dogrun's live dashboard (dogrun serve): the experiments
// of a results store with their trials' progress as they run, each
// experiment's report updating in place, runs compared side by side on the
// same test photos, a trial's curves, confusion and Grad-CAM tiles, and a
// page that names the dog in an uploaded photo.
//
// It only reads results: the store is opened read-only, and every page is
// built from a few small queries (counts and sums in SQL, trials a page at
// a time) cached until the store's version changes, so any number of
// viewers cost a running sweep about one cheap read per experiment a
// second. Pages are html/template (every name from the data is escaped);
// the JavaScript and CSS are the project's own, embedded in the binary.
package serve

import (
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"time"

	"github.com/dogrun/dogrun/results"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// MaxUpload is the largest photo the identify page accepts.
const MaxUpload = 10 << 20

// Options configure a Server.
type Options struct {
	Store *results.Store // opened read-only (results.OpenReadOnly)
	// CacheDir holds the backbones that identify and Grad-CAM run.
	CacheDir string
	Threads  int // ONNX Runtime threads for them; 0 = one per CPU
	// Exposed says the server listens beyond loopback: requests for any
	// host name are then answered. Otherwise only localhost, 127.0.0.1 and
	// ::1 are, so that a web page cannot reach the dashboard through a
	// name it points at 127.0.0.1 (DNS rebinding).
	Exposed bool
	// Poll is how often live pages look for changes (default 1 s); the
	// store is read at most that often per experiment, however many pages
	// are open.
	Poll time.Duration
	Log  io.Writer // request failures; nil = discarded
}

// Server is the dashboard. It is an http.Handler.
type Server struct {
	opt      Options
	st       *results.Store
	mux      *http.ServeMux
	pages    *pages
	versions *tracker
	memo     *memo
	rendered *memo // whole pages, by URL and the versions they show
	models   *models
	static   fs.FS
}

// New makes the dashboard of opt.Store.
func New(opt Options) (*Server, error) {
	if opt.Store == nil {
		return nil, fmt.Errorf("serve: no store")
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	pg, err := parsePages()
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	s := &Server{opt: opt, st: opt.Store, mux: http.NewServeMux(), pages: pg,
		versions: newTracker(opt.Store, opt.Poll), memo: newMemo(256), rendered: newMemo(64), models: newModels(2), static: static}
	s.routes()
	return s, nil
}

// Close frees the backbones identify and Grad-CAM opened.
func (s *Server) Close() error { return s.models.close() }

func (s *Server) routes() {
	get := func(path string, h func(http.ResponseWriter, *http.Request) error) {
		s.mux.Handle("GET "+path, s.handle(h))
	}
	get("/{$}", s.experimentsPage)
	get("/part/experiments", s.experimentsPart)
	get("/experiment", s.experimentPage)
	get("/part/experiment/{part}", s.experimentPart)
	get("/points.json", s.pointsJSON)
	get("/chart/{chart}", s.chart)
	get("/trial", s.trialPage)
	get("/part/trial/{part}", s.trialPart)
	get("/compare", s.comparePage)
	get("/identify", s.identifyPage)
	get("/photo", s.photo)
	get("/events", s.events)
	s.mux.Handle("POST /identify", http.NewCrossOriginProtection().Handler(s.handle(s.identify)))
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", s.staticHandler()))
}

// ServeHTTP answers a request: its host checked, security headers set.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.opt.Exposed && !loopbackHost(r.Host) {
		http.Error(w, "dogrun serve answers only localhost, 127.0.0.1 and [::1] (start it with -expose to serve other names)", http.StatusMisdirectedRequest)
		return
	}
	securityHeaders(w.Header())
	s.mux.ServeHTTP(w, r)
}

// httpError is an error with the status and message a person sees.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func notFound(format string, args ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// handle turns a handler's error into a page saying what went wrong.
func (s *Server) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		status, msg := http.StatusInternalServerError, err.Error()
		if he, ok := err.(*httpError); ok {
			status = he.status
		} else if r.Context().Err() != nil {
			return // the client left
		} else {
			fmt.Fprintf(s.opt.Log, "serve: %s %s: %v\n", r.Method, r.URL.RequestURI(), err)
		}
		s.pages.error(w, status, msg)
	})
}

// cachedPage writes the HTML of r: the view build makes of it, rendered by
// render, at most once per versions of experiment id (0: of the store, as
// id says): any number of viewers of a page cost one rendering per change.
func cachedPage[V any](s *Server, w http.ResponseWriter, r *http.Request, id func(context.Context) (int64, error),
	build func(*http.Request) (V, error), render func(V) ([]byte, error)) error {
	c, cancel := ctx(r)
	defer cancel()
	n, err := id(c)
	if err != nil {
		return err
	}
	v, err := s.versions.get(c, n)
	if err != nil {
		return err
	}
	b, err := cached(s.rendered, r.URL.RequestURI()+"\x00"+v.Results+"\x00"+v.Progress, func() ([]byte, error) {
		view, err := build(r)
		if err != nil {
			return nil, err
		}
		return render(view)
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, err = w.Write(b)
	return err
}

// ctx bounds a request's reads.
func ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), time.Minute)
}
