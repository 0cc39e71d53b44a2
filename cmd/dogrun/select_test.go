package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
)

// TestSelect stores three variants of four seeds whose validation
// accuracy at the best epoch is known (a later, better epoch past the best
// must not count), and one trial still running, then ranks them.
func TestSelect(t *testing.T) {
	ctx := context.Background()
	runs := t.TempDir()
	st, err := results.Open(filepath.Join(runs, "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := st.PutExperiment(ctx, results.Experiment{Name: "heads", File: "heads.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	val := map[string][]float64{"cosine": {0.70, 0.74, 0.72, 0.72}, "dense": {0.60, 0.64, 0.62, 0.62}, "prototype": {0.70, 0.76, 0.70}}
	var trials []results.Trial
	for _, v := range []string{"dense", "cosine", "prototype"} {
		for seed := 1; seed <= 4; seed++ {
			trials = append(trials, results.Trial{Hash: fmt.Sprintf("%064d", len(trials)), Index: len(trials), Seed: int64(seed),
				VariantKey: "head.type=" + v, VariantJSON: `{"head.type":"` + v + `"}`, ConfigJSON: `{}`})
		}
	}
	if _, err := st.RegisterTrials(ctx, id, trials); err != nil {
		t.Fatal(err)
	}
	rep, err := metrics.Evaluate([]int{0, 1}, [][]float32{{0.9, 0.1}, {0.2, 0.8}}, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	for range 12 {
		tr, err := st.Claim(ctx, id, "w", time.Minute, 1)
		if err != nil || tr == nil {
			t.Fatal(tr, err)
		}
		if tr.VariantKey == "head.type=prototype" && tr.Seed == 4 {
			continue // still running: not ranked
		}
		acc := val[tr.VariantKey[len("head.type="):]][tr.Seed-1]
		loss := 1 - acc
		if tr.VariantKey == "head.type=cosine" {
			loss = 0.1 // ties prototype's mean accuracy with a lower loss
		}
		epochs := []results.Epoch{{Epoch: 1, ValAccuracy: acc / 2, ValLoss: 2}, {Epoch: 2, ValAccuracy: acc, ValLoss: loss}, {Epoch: 3, ValAccuracy: 0.99, ValLoss: 3}}
		if err := st.Finish(ctx, tr.ID, "w", results.Outcome{Classes: []string{"a", "b"}, Report: rep, Epochs: epochs, BestEpoch: 2, StoppedEpoch: 3}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	out, _, err := dogrun(t, "select", "heads", "-runs", runs)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "select", out)
	out, _, err = dogrun(t, "select", "heads", "-runs", runs, "-where", "head.type=dense")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "select_where", out)
	if _, stderr, err := dogrun(t, "select"); exitCode(err) != 2 || stderr == "" {
		t.Errorf("select without EXPERIMENT: %v\n%s", err, stderr)
	}
	if _, _, err := dogrun(t, "select", "ghost", "-runs", runs); err == nil {
		t.Error("select of an unknown experiment succeeded")
	}
}
