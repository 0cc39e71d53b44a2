package results

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/openset"
	"github.com/google/go-cmp/cmp"
)

func TestOpenSetRoundTrip(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, _ *clock) {
		ctx := context.Background()
		id := experimentWithTrials(t, s, 2)
		tr, err := s.Claim(ctx, id, "w1", time.Minute, 3)
		if err != nil {
			t.Fatal(err)
		}
		o := sampleOutcome(t)
		// Three classes, dim 2; "fido" had no training rows, so no centroid.
		o.OpenSet = &OpenSet{
			Rule:        openset.Rule{Kind: openset.CentroidCosine, Threshold: 0.625, TargetFAR: 0.05},
			Centroids:   openset.Centroids{Dim: 2, Vectors: [][]float32{{0.6, 0.8}, nil, {-1, 0}}},
			UnknownVal:  []string{"lassie"},
			UnknownTest: []string{"beethoven", "hooch"},
			Results: []OpenSetResult{
				{Kind: openset.CentroidCosine, Part: PartVal, Threshold: 0.625, Counts: openset.Counts{Known: 4, KnownCorrect: 3, KnownRejected: 1, Unknown: 20, FalseAccepts: 1}},
				{Kind: openset.CentroidCosine, Part: PartTest, Threshold: 0.625, Counts: openset.Counts{Known: 4, KnownCorrect: 2, Unknown: 12, FalseAccepts: 2}},
			},
		}
		if err := s.Finish(ctx, tr.ID, "w1", o); err != nil {
			t.Fatal(err)
		}
		got, err := s.OpenSet(ctx, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(o.OpenSet, got); d != "" {
			t.Errorf("OpenSet (-want +got):\n%s", d)
		}
		all, err := s.OpenSets(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 || all[tr.ID] == nil {
			t.Fatalf("OpenSets has %d trials, want the one done trial", len(all))
		}
		// Test: 2 false accepts of 12 unknown photos; 2 known right + 10 unknown
		// rejected of 16 photos.
		r, ok := all[tr.ID].Result(openset.CentroidCosine, PartTest)
		if !ok || r.FAR() != 2.0/12 || r.OpenAccuracy() != 12.0/16 {
			t.Errorf("test result %+v: FAR %v, open-set accuracy %v", r, r.FAR(), r.OpenAccuracy())
		}
		other, err := s.Trials(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.OpenSet(ctx, other[1].ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("trial without open set: got %v, want ErrNotFound", err)
		}
		o.OpenSet.Centroids.Vectors = o.OpenSet.Centroids.Vectors[:2]
		if err := o.check(); err == nil || !strings.Contains(err.Error(), "2 open-set centroids for 3 classes") {
			t.Errorf("check of a short centroid list: %v", err)
		}
	})
}

func TestTrialsByHashPrefix(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, _ *clock) {
		ctx := context.Background()
		id := experimentWithTrials(t, s, 12) // hashes h0 .. h11
		id2, err := s.PutExperiment(ctx, Experiment{Name: "other"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.RegisterTrials(ctx, id2, makeTrials(1)); err != nil { // h0 again
			t.Fatal(err)
		}
		for prefix, want := range map[string][]string{
			"h1":  {"h1", "h10", "h11"},
			"h11": {"h11"},
			"h0":  {"h0", "h0"}, // one per experiment
			"x":   nil,
			"h%":  nil, // no LIKE wildcards
		} {
			trials, err := s.TrialsByHashPrefix(ctx, prefix)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tr := range trials {
				got = append(got, tr.Hash)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("prefix %q (-want +got):\n%s", prefix, d)
			}
		}
		if trials, _ := s.TrialsByHashPrefix(ctx, "h0"); trials[0].ExperimentID != id || trials[1].ExperimentID != id2 {
			t.Errorf("h0 trials belong to experiments %d and %d", trials[0].ExperimentID, trials[1].ExperimentID)
		}
	})
}
