package results

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitsRoundTrip(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, _ *clock) {
		ctx := context.Background()
		id, err := s.PutExperiment(ctx, Experiment{Name: "exp"})
		if err != nil {
			t.Fatal(err)
		}
		honest := Split{
			Method: "phash", Threshold: 8, KFold: 2, Views: 4, Classes: []string{"1", "2"},
			Dropped:    []string{"7 (one near-duplicate group)"},
			CrossClass: []CrossClassPair{{A: "1/1.0.jpg", B: "2/2.3.jpg", Score: 0}},
			Units: []SplitUnit{
				{Fold: 1, Photo: "1/1.0.jpg", PhotoSHA256: "aa", Class: 0, Group: 0, Part: PartTest},
				{Fold: 1, Photo: "1/1.1.jpg", PhotoSHA256: "bb", Class: 0, Group: 0, Part: PartTest},
				{Fold: 1, Photo: "2/2.0.jpg", PhotoSHA256: "cc", Class: 1, Group: 1, Part: PartTrain},
				{Fold: 2, Photo: "1/1.0.jpg", PhotoSHA256: "aa", Class: 0, Group: 0, Part: PartTrain},
			},
		}
		leaky := Split{Leaky: true, Method: "none", Classes: []string{"1", "2"}, Units: []SplitUnit{
			{Photo: "1/1.0.jpg", View: 2, PhotoSHA256: "aa", Part: PartVal},
		}}
		if err := s.PutSplits(ctx, id, []Split{leaky, honest}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Splits(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		leaky.Dropped, leaky.CrossClass = []string{}, []CrossClassPair{}
		if d := cmp.Diff([]Split{honest, leaky}, got); d != "" {
			t.Errorf("splits (-want +got):\n%s", d)
		}
		// Putting again replaces, never appends.
		if err := s.PutSplits(ctx, id, []Split{leaky}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Splits(ctx, id); len(got) != 1 || len(got[0].Units) != 1 {
			t.Errorf("after replace: %+v", got)
		}
		bad := Split{Units: []SplitUnit{{Photo: "x", Part: "holdout"}}}
		if err := s.PutSplits(ctx, id, []Split{bad}); err == nil {
			t.Error("a unit in no known part was stored")
		}
		if got, _ := s.Splits(ctx, id); len(got) != 1 {
			t.Errorf("failed put changed the splits: %+v", got)
		}
	})
}

func TestTrialFold(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, _ *clock) {
		ctx := context.Background()
		id, _ := s.PutExperiment(ctx, Experiment{Name: "exp"})
		if _, err := s.RegisterTrials(ctx, id, []Trial{{Hash: "a", Index: 0, Seed: 1, Fold: 3}, {Hash: "b", Index: 1, Seed: 1}}); err != nil {
			t.Fatal(err)
		}
		trials, err := s.Trials(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(trials) != 2 || trials[0].Fold != 3 || trials[1].Fold != 0 {
			t.Errorf("folds: %+v", trials)
		}
	})
}
