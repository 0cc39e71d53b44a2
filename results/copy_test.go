package results

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/openset"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Copy copies every kind of row there is: a table added by a migration
// must be added to Copy's lists too.
func TestCopyKnowsEveryTable(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, _ *clock) {
		known := append([]string{"schema_migrations", "experiments", "trials", "predictions", "prediction_scores"},
			append(experimentTables, trialTables...)...)
		for table := range schemaOf(t, s) {
			if !slices.Contains(known, table) {
				t.Errorf("Copy does not know table %s: add it to experimentTables or trialTables in copy.go", table)
			}
		}
	})
}

// A sweep half run on a laptop's SQLite goes into PostgreSQL, is finished
// there and comes back: each copy makes the destination hold what the
// source does, and copying again changes nothing.
func TestCopyBothWays(t *testing.T) {
	ctx := context.Background()
	laptop, _ := openKind(t, "sqlite")
	shared, clk := openKind(t, "postgres")
	sweepHalfDone(t, laptop)

	copied := func(src, dst *Store, want ...Copied) {
		t.Helper()
		got, err := Copy(ctx, src, dst, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("copy from %s (-want +got):\n%s", src.where, d)
		}
		if d := cmp.Diff(dump(t, src), dump(t, dst), cmpopts.EquateNaNs()); d != "" {
			t.Errorf("after the copy (-source +destination):\n%s", d)
		}
	}
	copied(laptop, shared, Copied{Experiment: "exp", Created: true, Splits: true, New: 4})
	copied(laptop, shared, Copied{Experiment: "exp", Kept: 4})

	// Workers on the shared store finish the sweep, and another starts.
	e, err := shared.Experiment(ctx, "exp")
	if err != nil {
		t.Fatal(err)
	}
	for {
		tr, err := shared.Claim(ctx, e.ID, "node7:1", time.Minute, 3)
		if err != nil {
			t.Fatal(err)
		}
		if tr == nil {
			break
		}
		clk.advance(time.Second)
		if err := shared.Finish(ctx, tr.ID, "node7:1", sampleOutcome(t)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := shared.PutExperiment(ctx, Experiment{Name: "other", ConfigYAML: "name: other"}); err != nil {
		t.Fatal(err)
	}
	copied(shared, laptop, Copied{Experiment: "exp", Replaced: 2, Kept: 2}, Copied{Experiment: "other", Created: true})
	copied(shared, laptop, Copied{Experiment: "exp", Kept: 4}, Copied{Experiment: "other", Kept: 0})
	copied(laptop, shared, Copied{Experiment: "exp", Kept: 4}, Copied{Experiment: "other"})
}

// sweepHalfDone stores an experiment with a split and four trials: one
// done with open-set results, one failed, one pending and one superseded.
func sweepHalfDone(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	id, err := s.PutExperiment(ctx, Experiment{Name: "exp", File: "/home/ann/exp.yaml", ConfigYAML: "name: exp", DatasetFingerprint: "f00d"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterTrials(ctx, id, makeTrials(4)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterTrials(ctx, id, makeTrials(3)); err != nil { // h3 is superseded
		t.Fatal(err)
	}
	if err := s.PutSplits(ctx, id, []Split{{Method: "phash", Threshold: 8, KFold: 0, Views: 2, Classes: []string{"rex", "fido"},
		Units: []SplitUnit{{Photo: "rex/1.jpg", PhotoSHA256: "aa", Part: PartTest}, {Photo: "fido/1.jpg", PhotoSHA256: "bb", Class: 1, Part: PartTrain}}}}); err != nil {
		t.Fatal(err)
	}
	done, err := s.Claim(ctx, id, "laptop:1", time.Minute, 2)
	if err != nil {
		t.Fatal(err)
	}
	o := sampleOutcome(t)
	o.OpenSet = &OpenSet{
		Rule:      openset.Rule{Kind: openset.CentroidCosine, Threshold: 0.5, TargetFAR: 0.05},
		Centroids: openset.Centroids{Dim: 2, Vectors: [][]float32{{0.6, 0.8}, nil, {-1, 0}}}, UnknownVal: []string{"lassie"}, UnknownTest: []string{},
		Results: []OpenSetResult{{Kind: openset.CentroidCosine, Part: PartTest, Threshold: 0.5, Counts: openset.Counts{Known: 4, KnownCorrect: 3, Unknown: 2}}},
	}
	if err := s.Finish(ctx, done.ID, "laptop:1", o); err != nil {
		t.Fatal(err)
	}
	failed, err := s.Claim(ctx, id, "laptop:1", time.Minute, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Fail(ctx, failed.ID, "laptop:1", "epoch 1: loss is not finite"); err != nil {
		t.Fatal(err)
	}
}

// storeDump is everything a store holds, as its API reads it, less the ids
// a store gives rows.
type storeDump struct {
	Experiments []Experiment
	Trials      map[string]Trial // experiment/hash
	Epochs      map[string][]Epoch
	Reports     map[string]metrics.Report
	Classes     map[string][]string
	Predictions map[string][]Prediction
	OpenSets    map[string]*OpenSet
	Attempts    map[string][]Attempt
	Splits      map[string][]Split
}

func dump(t *testing.T, s *Store) storeDump {
	t.Helper()
	ctx := context.Background()
	d := storeDump{Trials: map[string]Trial{}, Epochs: map[string][]Epoch{}, Reports: map[string]metrics.Report{},
		Classes: map[string][]string{}, Predictions: map[string][]Prediction{}, OpenSets: map[string]*OpenSet{},
		Attempts: map[string][]Attempt{}, Splits: map[string][]Split{}}
	exps, err := s.Experiments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range exps {
		trials, err := s.trialsOf(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		attempts, err := s.Attempts(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Splits[e.Name], err = s.Splits(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		for _, tr := range trials {
			key := e.Name + "/" + tr.Hash
			d.Attempts[key] = attempts[tr.ID]
			if d.Epochs[key], err = s.Epochs(ctx, tr.ID); err != nil {
				t.Fatal(err)
			}
			rep, classes, err := s.TrialReport(ctx, tr.ID)
			if err == nil {
				d.Reports[key], d.Classes[key] = rep, classes
			} else if !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
			if d.Predictions[key], err = s.Predictions(ctx, tr.ID); err != nil {
				t.Fatal(err)
			}
			if o, err := s.OpenSet(ctx, tr.ID); err == nil {
				d.OpenSets[key] = o
			} else if !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
			tr.ID, tr.ExperimentID = 0, 0
			d.Trials[key] = tr
		}
		e.ID = 0
		d.Experiments = append(d.Experiments, e)
	}
	return d
}

// Two versions of an experiment's file are two experiments: Copy refuses
// to merge them, and writes nothing.
func TestCopyRefusesAnotherVersion(t *testing.T) {
	ctx := context.Background()
	src, _ := openKind(t, "sqlite")
	dst, _ := openKind(t, "postgres")
	sweepHalfDone(t, src)
	if _, err := dst.PutExperiment(ctx, Experiment{Name: "exp", ConfigYAML: "name: exp\nseeds: [1, 2]", DatasetFingerprint: "f00d"}); err != nil {
		t.Fatal(err)
	}
	before := dump(t, dst)
	_, err := Copy(ctx, src, dst, []string{"exp"})
	if err == nil || !strings.Contains(err.Error(), "another version of the experiment's file") || !strings.Contains(err.Error(), dst.Path()) {
		t.Errorf("got %v", err)
	}
	if d := cmp.Diff(before, dump(t, dst)); d != "" {
		t.Errorf("a refused copy changed the destination:\n%s", d)
	}
	if _, err := Copy(ctx, src, dst, []string{"ghost"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("copying a missing experiment: %v", err)
	}
}
