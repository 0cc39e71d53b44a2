package schemas

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSettleSeedsAndOrder: the listed seeds run first, then the smallest
// integers not listed; trials run seed by seed so that each round's follow
// the last round's with the same numbers.
func TestSettleSeedsAndOrder(t *testing.T) {
	e, err := Load(filepath.Join("testdata", "settle.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := Settle{By: "head.dropout", Reference: "0.25", Metric: "top1", Margin: 0.01, Alpha: 0.05, Round: 2, MaxSeeds: 6, Spending: "obrien-fleming"}
	if diff := cmp.Diff(want, e.Settle); diff != "" {
		t.Errorf("settle with defaults (-want +got):\n%s", diff)
	}
	if got := e.SettleSeeds(); !cmp.Equal(got, []int64{7, 2, 1, 3, 4, 5}) {
		t.Errorf("seed order %v", got)
	}
	labels, ref, err := e.SettleValues()
	if err != nil || ref != 1 || !cmp.Equal(labels, []string{"0", "0.25", "0.5"}) {
		t.Errorf("values %v, reference %d, %v", labels, ref, err)
	}
	trials, err := e.Trials()
	if err != nil {
		t.Fatal(err)
	}
	if len(trials) != 6*6 {
		t.Fatalf("%d trials, want 36", len(trials))
	}
	var got []string
	for _, tr := range trials[:8] {
		got = append(got, tr.VariantKey()+" seed="+formatValue(tr.Seed))
	}
	wantOrder := []string{
		"head.dropout=0, train.lr=0.001 seed=7", "head.dropout=0, train.lr=0.01 seed=7",
		"head.dropout=0.25, train.lr=0.001 seed=7", "head.dropout=0.25, train.lr=0.01 seed=7",
		"head.dropout=0.5, train.lr=0.001 seed=7", "head.dropout=0.5, train.lr=0.01 seed=7",
		"head.dropout=0, train.lr=0.001 seed=2", "head.dropout=0, train.lr=0.01 seed=2",
	}
	if diff := cmp.Diff(wantOrder, got); diff != "" {
		t.Errorf("trial order (-want +got):\n%s", diff)
	}
	// Settle is not part of a trial's identity: the same sweep without it
	// has the same configs.
	plain := *e
	plain.Settle = Settle{}
	a, _ := trials[0].Config.CanonicalJSON()
	plain.Seeds = []int64{7}
	pt, err := plain.Trials()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pt[0].Config.CanonicalJSON()
	if string(a) != string(b) {
		t.Errorf("settle changes the trial config:\n%s\n%s", a, b)
	}
	// Without settle, a file without seeds is refused as before.
	if err := plain.Validate(); err != nil {
		t.Errorf("plain sweep: %v", err)
	}
	plain.Seeds = nil
	if errs := Errors(plain.Validate()); len(errs) != 1 || errs[0].Field != "seeds" {
		t.Errorf("no seeds and no settle: %v", errs)
	}
}
