package runner

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/results"
)

// Ticks the test sends drive the writes: each tick stores the latest
// progress set since the last, and a failing store is reported once.
func TestNoteProgressStoresTheLatestOnEachTick(t *testing.T) {
	ctx := context.Background()
	st, id := storeWithExperiment(t)
	if _, err := st.RegisterTrials(ctx, id, []results.Trial{{Hash: "h", VariantJSON: "{}", ConfigJSON: "{}"}}); err != nil {
		t.Fatal(err)
	}
	mine, err := st.Claim(ctx, id, "a", time.Minute, 3)
	if err != nil || mine == nil {
		t.Fatal(mine, err)
	}
	ticks := make(chan time.Time) // unbuffered: a second send waits for the first tick's write
	var log bytes.Buffer
	r := &run{opt: Options{Store: st, Worker: "a", Log: &log},
		ticker: func(time.Duration) (<-chan time.Time, func()) { return ticks, func() {} }}
	note, stop := r.noteProgress(ctx, mine, "trial 1/1")
	defer stop()
	tick := func() {
		ticks <- time.Time{}
		ticks <- time.Time{}
	}
	stored := func() *results.Progress {
		t.Helper()
		running, err := st.RunningTrials(ctx, id)
		if err != nil || len(running) != 1 {
			t.Fatalf("running trials %+v, %v", running, err)
		}
		return running[0].Progress
	}

	note.set(phase(results.PhaseFeatures, 0, 10))
	note.set(results.Progress{Phase: results.PhaseTraining, Epoch: 3, Epochs: 10, EpochSeconds: 0.25, ValAccuracy: 0.5})
	if p := stored(); p != nil {
		t.Fatalf("progress %+v stored before a tick", p)
	}
	tick()
	if p := stored(); p == nil || p.Phase != results.PhaseTraining || p.Epoch != 3 || p.ValAccuracy != 0.5 {
		t.Errorf("after a tick: %+v, want the latest (training, epoch 3)", p)
	}

	st.Close() // every write fails from here on
	note.set(phase(results.PhaseEvaluating, 9, 10))
	tick()
	note.set(phase(results.PhaseEvaluating, 10, 10))
	tick()
	if n := strings.Count(log.String(), "progress not stored"); n != 1 {
		t.Errorf("log says %d times that progress was not stored, want once:\n%s", n, log.String())
	}
}
