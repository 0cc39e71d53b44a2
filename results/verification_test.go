package results

import (
	"context"
	"testing"
	"time"

	"github.com/dogrun/dogrun/verify"
	"github.com/google/go-cmp/cmp"
)

// TestVerificationRoundTrip stores an evaluation trial's measurement and
// reads back the same, with its rates.
func TestVerificationRoundTrip(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, _ *clock) {
		ctx := context.Background()
		id := experimentWithTrials(t, s, 2)
		tr, err := s.Claim(ctx, id, "w1", time.Minute, 3)
		if err != nil {
			t.Fatal(err)
		}
		o := sampleOutcome(t)
		o.Verification = &Verification{
			Dogs: 48, Photos: 530, ThresholdDogs: 48, Genuine: 2500, Impostor: 25000, Threshold: 0.4375,
			GenuineAccepted: 1800, ImpostorRejected: 2000, BestAccuracy: 0.8, AUC: 0.8125,
			TARs: []verify.TAR{
				{TargetFAR: 0.001, TAR: 0.125, FAR: 0.00096, Threshold: 0.75, Allowed: 25, Impostors: 25000},
				{TargetFAR: 0.01, TAR: 0.25, FAR: 0.01, Threshold: 0.625, Allowed: 250, Impostors: 25000},
			},
			ROC:     []verify.Point{{FAR: 0, TAR: 0}, {FAR: 0.5, TAR: 0.75}, {FAR: 1, TAR: 1}},
			Gallery: 48, Queries: 482, CMC: []int{180, 250, 280, 300, 310},
		}
		if err := s.Finish(ctx, tr.ID, "w1", o); err != nil {
			t.Fatal(err)
		}
		all, err := s.Verifications(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 {
			t.Fatalf("Verifications has %d trials, want the one done trial", len(all))
		}
		got := all[tr.ID]
		if d := cmp.Diff(o.Verification, got); d != "" {
			t.Errorf("Verification (-want +got):\n%s", d)
		}
		if got.Accuracy() != (1800.0+2000)/5000 || got.Rank(1) != 180.0/482 || got.Rank(5) != 310.0/482 || got.Rank(6) == got.Rank(6) {
			t.Errorf("accuracy %v, rank-1 %v, rank-5 %v, rank-6 %v", got.Accuracy(), got.Rank(1), got.Rank(5), got.Rank(6))
		}
	})
}
