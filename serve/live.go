package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// keepAlive is how often an idle event stream says it is still there, so
// that a client gone without a word is noticed.
const keepAlive = 15 * time.Second

// events streams the versions of an experiment (e=NAME) or of the whole
// store (server-sent events): a "versions" event with {results, progress}
// at once and whenever one changes. Pages refetch their parts on it.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	var id int64
	if name := r.URL.Query().Get("e"); name != "" {
		c, cancel := ctx(r)
		e, err := s.experiment(c, name)
		cancel()
		if err != nil {
			return err
		}
		id = e.ID
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return nil
	}
	tick := time.NewTicker(s.opt.Poll)
	defer tick.Stop()
	sent, quiet := "", time.Now()
	for {
		v, err := s.versions.get(r.Context(), id)
		if err != nil {
			if r.Context().Err() == nil {
				fmt.Fprintf(s.opt.Log, "serve: events: %v\n", err)
			}
			return nil // the client reconnects and asks again
		}
		js, _ := json.Marshal(map[string]string{"results": v.Results, "progress": v.Progress}) // strings always marshal
		var werr error
		switch {
		case string(js) != sent:
			_, werr = fmt.Fprintf(w, "event: versions\ndata: %s\n\n", js)
			sent, quiet = string(js), time.Now()
		case time.Since(quiet) > keepAlive:
			_, werr = fmt.Fprint(w, ": still here\n\n")
			quiet = time.Now()
		}
		if werr != nil || rc.Flush() != nil {
			return nil // the client left
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-tick.C:
		}
	}
}

// photoURL is the URL of photo rel of experiment d, or "" when the file is
// not in its dataset folder (moved, or never there): a page shows no broken
// picture.
func photoURL(d *expData, rel string) string {
	if d.DatasetDir == "" || !filepath.IsLocal(filepath.FromSlash(rel)) {
		return ""
	}
	if _, err := os.Stat(filepath.Join(d.DatasetDir, filepath.FromSlash(rel))); err != nil {
		return ""
	}
	return link("/photo", "e", d.Exp.Name, "p", rel)
}

// photo serves a photo of an experiment's dataset folder: only a photo its
// stored split names, and only a JPEG or PNG.
func (s *Server) photo(w http.ResponseWriter, r *http.Request) error {
	c, cancel := ctx(r)
	defer cancel()
	q := r.URL.Query()
	d, err := s.experimentData(c, q.Get("e"))
	if err != nil {
		return err
	}
	e, rel := d.Exp, q.Get("p")
	if !filepath.IsLocal(filepath.FromSlash(rel)) {
		return notFound("%q is not a photo of experiment %s", rel, e.Name)
	}
	known, err := cached(s.memo, "photo\x00"+strconv.FormatInt(e.ID, 10)+"\x00"+d.Version+"\x00"+rel, func() (bool, error) {
		return s.st.HasPhoto(c, e.ID, rel)
	})
	switch {
	case err != nil:
		return err
	case !known:
		return notFound("%q is not a photo of experiment %s", rel, e.Name)
	case d.DatasetDir == "":
		return notFound("experiment %s no longer names its photo folder", e.Name)
	}
	b, err := os.ReadFile(filepath.Join(d.DatasetDir, filepath.FromSlash(rel)))
	if err != nil {
		return notFound("photo %s of experiment %s: %v", rel, e.Name, err)
	}
	ct := http.DetectContentType(b)
	if ct != "image/jpeg" && ct != "image/png" {
		return notFound("photo %s of experiment %s is not a JPEG or PNG (%s)", rel, e.Name, ct)
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Security-Policy", "default-src 'none'")
	h.Set("Cache-Control", "private, max-age=3600")
	_, err = w.Write(b)
	return err
}
