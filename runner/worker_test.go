package runner

import (
	"context"
	"errors"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/results"
)

// A worker on another machine keeps the photos in a folder of its own
// (-photos) and runs the registered trials; a worker whose photos differ,
// even by one, refuses, naming both fingerprints, and runs nothing.
func TestWorkerChecksThePhotosNotTheirPath(t *testing.T) {
	r, st := cachedSweep(t, io.Discard)
	ctx := context.Background()
	if err := r.register(ctx); err != nil {
		t.Fatal(err)
	}
	photos := r.plan.photos
	elsewhere := filepath.Join(t.TempDir(), "same photos")
	copyTree(t, photos, elsewhere)
	changed := filepath.Join(t.TempDir(), "one photo changed")
	copyTree(t, photos, changed)
	f, err := os.Create(filepath.Join(changed, "a", "a.0.png"))
	if err != nil {
		t.Fatal(err)
	}
	png.Encode(f, image.NewGray(image.Rect(0, 0, 8, 8)))
	f.Close()

	opt := r.opt
	opt.Store, opt.Photos = st, changed
	var log strings.Builder
	opt.Log = &log
	_, err = Work(ctx, []string{"failing"}, opt)
	e, _ := st.Experiment(ctx, "failing")
	if err == nil || !strings.Contains(err.Error(), "the photos in "+changed+" are not the ones it was registered with") ||
		!strings.Contains(err.Error(), e.DatasetFingerprint[:12]) {
		t.Fatalf("a worker on other photos: %v", err)
	}
	t.Logf("refused: %v", err)
	if trials, _ := st.Trials(ctx, e.ID); trials[0].Status != results.StatusPending {
		t.Errorf("the refusing worker touched a trial: %+v", trials[0])
	}

	opt.Photos = elsewhere
	sum, err := Work(ctx, []string{"failing"}, opt)
	if err != nil || sum.Trained != 4 {
		t.Fatalf("a worker on the same photos elsewhere: %+v %v\n%s", sum, err, log.String())
	}
	// Nothing left: the next worker says so without reading a photo.
	log.Reset()
	opt.Photos = filepath.Join(t.TempDir(), "no photos here")
	if sum, err := Work(ctx, nil, opt); err != nil || sum.Trained != 0 || !strings.Contains(log.String(), "experiment failing: nothing left to do (4 done, 0 failed)") {
		t.Errorf("a worker after the sweep: %+v %v\n%s", sum, err, log.String())
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}

// A worker that runs out of trials while another worker still runs one
// waits, takes it over once that worker has sent no heartbeat for
// StaleAfter, and runs it; with Poll it then waits for new work until
// stopped.
func TestWorkerWaitsForAndTakesOverASilentWorkersTrial(t *testing.T) {
	r, st := cachedSweep(t, io.Discard)
	ctx := context.Background()
	if err := r.register(ctx); err != nil {
		t.Fatal(err)
	}
	silent, err := st.Claim(ctx, r.expID, "elsewhere:1", time.Minute, 2)
	if err != nil || silent == nil {
		t.Fatal(silent, err)
	}
	opt := r.opt
	opt.StaleAfter = 500 * time.Millisecond
	var log strings.Builder
	opt.Log = &log
	sum, err := Work(ctx, []string{"failing"}, opt)
	if err != nil || sum.Trained != 4 {
		t.Fatalf("worker: %+v %v\n%s", sum, err, log.String())
	}
	if !strings.Contains(log.String(), "waiting: 1 trial running under other workers") {
		t.Errorf("the worker did not say it waited:\n%s", log.String())
	}
	attempts, err := st.Attempts(ctx, r.expID)
	if err != nil {
		t.Fatal(err)
	}
	if a := attempts[silent.ID]; len(a) != 2 || a[0].Worker != "elsewhere:1" || a[0].Outcome != "taken over" || a[1].Outcome != "done" {
		t.Errorf("attempts of the silent worker's trial: %+v", a)
	}

	opt.Poll = 20 * time.Millisecond
	stop, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	var in *Interrupted
	if _, err := Work(stop, nil, opt); !errors.As(err, &in) || !strings.Contains(err.Error(), "interrupted while waiting for work") {
		t.Errorf("a polling worker stopped: %v", err)
	}
	// Stopped while it reads the store (here before its first read), a
	// polling worker says the same, not the store's "context canceled".
	stopped, cancelNow := context.WithCancel(ctx)
	cancelNow()
	if _, err := Work(stopped, nil, opt); !errors.As(err, &in) || !strings.Contains(err.Error(), "interrupted while waiting for work") {
		t.Errorf("a polling worker stopped during a read: %v", err)
	}
}
