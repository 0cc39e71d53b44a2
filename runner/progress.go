package runner

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/dogrun/dogrun/results"
)

// progressEvery is how often a running trial's progress is stored at most:
// often enough for a live page, rarely enough to cost the sweep nothing.
const progressEvery = time.Second

// progressNote holds a running trial's latest progress for the dashboard
// (dogrun serve). A goroutine of its own stores it, at most every
// progressEvery, so that training never waits for the database; a failed
// write is not the trial's failure, and the log says so once.
type progressNote struct {
	mu      sync.Mutex
	latest  results.Progress
	changed bool
}

// set replaces the progress to store next.
func (n *progressNote) set(p results.Progress) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.latest, n.changed = p, true
}

// take returns the progress not stored yet, if any.
func (n *progressNote) take() (results.Progress, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	changed := n.changed
	n.changed = false
	return n.latest, changed
}

// noteProgress starts storing the claimed trial's progress; stop ends it.
func (r *run) noteProgress(ctx context.Context, claimed *results.Trial, label string) (note *progressNote, stop func()) {
	note = &progressNote{}
	var started time.Time
	if claimed.StartedAt != nil {
		started = *claimed.StartedAt
	}
	warned := false
	stop = r.ticking(ctx, progressEvery, func() bool {
		p, ok := note.take()
		if !ok {
			return true
		}
		err := r.opt.Store.SetProgress(ctx, claimed.ID, r.opt.Worker, started, p)
		if err != nil && !warned && ctx.Err() == nil {
			fmt.Fprintf(r.opt.Log, "  %s progress not stored for the dashboard (the trial goes on): %v\n", label, err)
			warned = true
		}
		return true
	})
	return note, stop
}

// phase is progress before the first epoch or after the last.
func phase(name string, epoch, epochs int) results.Progress {
	return results.Progress{Phase: name, Epoch: epoch, Epochs: epochs, EpochSeconds: math.NaN(), ValAccuracy: math.NaN()}
}
