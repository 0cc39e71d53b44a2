package results

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDeclareSettle: the first design declared is kept; another is returned
// unchanged (the caller refuses it) unless replace overwrites it.
func TestDeclareSettle(t *testing.T) {
	s, c := openTest(t)
	ctx := context.Background()
	id := experimentWithTrials(t, s, 2)
	if _, found, err := s.SettleDesign(ctx, id); found || err != nil {
		t.Fatalf("a design before any was declared: %v %v", found, err)
	}
	d := SettleDesign{By: "head.dropout", Reference: "0", Metric: "top1", Margin: 0.01, Alpha: 0.05,
		Round: 4, MaxSeeds: 8, Spending: "obrien-fleming", Seeds: []int64{1, 2, 3, 4, 5, 6, 7, 8}, SeenBefore: 2,
		Comparisons: [][2]string{{"head.dropout=0.5", "head.dropout=0"}}}
	got, err := s.DeclareSettle(ctx, id, d, false)
	if err != nil {
		t.Fatal(err)
	}
	want := d
	want.DeclaredAt = c.now()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("declared (-want +got):\n%s", diff)
	}
	c.advance(time.Hour)
	other := d
	other.Margin, other.SeenBefore = 0.02, 6
	if got, err = s.DeclareSettle(ctx, id, other, false); err != nil || !got.Same(d) || got.Same(other) || !got.DeclaredAt.Equal(want.DeclaredAt) {
		t.Errorf("a second design displaced the first: %+v, %v", got, err)
	}
	if got, err = s.DeclareSettle(ctx, id, other, true); err != nil || !got.Same(other) || got.SeenBefore != 6 {
		t.Errorf("replace kept the old design: %+v, %v", got, err)
	}
	stored, found, err := s.SettleDesign(ctx, id)
	if err != nil || !found || !stored.Same(other) || !stored.DeclaredAt.Equal(c.now()) || stored.SeenBefore != 6 {
		t.Errorf("stored %+v, %v, %v", stored, found, err)
	}
	// Only the design counts, not when or after what it was declared.
	again := stored
	again.Seeds = []int64{2, 1, 3, 4, 5, 6, 7, 8}
	if stored.Same(again) {
		t.Error("a different seed order is the same design")
	}
	again = stored
	again.Comparisons = append(again.Comparisons, [2]string{"head.dropout=0.25", "head.dropout=0"})
	if stored.Same(again) {
		t.Error("another comparison sharing alpha is the same design")
	}
}

// TestRegisterTrialsOf: registering an earlier round again (a slow worker)
// supersedes nothing of a later one; what is outside the current set is.
func TestRegisterTrialsOf(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	id, err := s.PutExperiment(ctx, Experiment{Name: "exp", File: "exp.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	all := makeTrials(6)
	current := []string{"h0", "h1", "h2", "h3"}
	for _, round := range [][]Trial{all[:2], all[:4], all[:2]} {
		if _, err := s.RegisterTrialsOf(ctx, id, round, current); err != nil {
			t.Fatal(err)
		}
	}
	trials, err := s.Trials(ctx, id)
	if err != nil || len(trials) != 4 {
		t.Fatalf("%d current trials after the rounds, want 4: %v", len(trials), err)
	}
	// The old file's trials h4, h5 are superseded by the settled one's set.
	if _, err := s.RegisterTrials(ctx, id, all); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterTrialsOf(ctx, id, all[:2], current); err != nil {
		t.Fatal(err)
	}
	if trials, _ = s.Trials(ctx, id); len(trials) != 4 || trials[3].Hash != "h3" {
		t.Errorf("current trials %v, want h0-h3", trials)
	}
}
