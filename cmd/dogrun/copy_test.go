package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/internal/pgtest"
	"github.com/dogrun/dogrun/results"
)

// TestCopyCommandBothWays copies a laptop's sweep into PostgreSQL and from
// there into a new SQLite file, each twice: what copy says, and that
// status then says the same of all three.
func TestCopyCommandBothWays(t *testing.T) {
	dir := t.TempDir()
	laptop := filepath.Join(dir, "laptop.db")
	st, err := results.Open(laptop)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := st.PutExperiment(ctx, results.Experiment{Name: "dropout", File: "dropout.yaml", ConfigYAML: "name: dropout"})
	if err != nil {
		t.Fatal(err)
	}
	var trials []results.Trial
	for i := range 3 {
		trials = append(trials, results.Trial{Hash: strings.Repeat(string(rune('a'+i)), 64), Index: i, Seed: int64(i + 1), VariantKey: "head.dropout=0.5"})
	}
	if _, err := st.RegisterTrials(ctx, id, trials); err != nil {
		t.Fatal(err)
	}
	tr, err := st.Claim(ctx, id, "laptop:1", time.Minute, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Finish(ctx, tr.ID, "laptop:1", results.Outcome{Epochs: []results.Epoch{{Epoch: 1, TrainLoss: 0.5}}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	shared := pgtest.Database(t)
	back := filepath.Join(dir, "back.db")
	var got strings.Builder
	for _, args := range [][]string{
		{"copy", laptop, shared},
		{"copy", laptop, shared},
		{"copy", shared, back, "dropout"},
		{"copy", shared, back},
		{"copy", shared, back, "ghost"},
	} {
		got.WriteString(strings.ReplaceAll(attempt(t, dir, args...), shared, "$SHARED"))
	}
	golden(t, "copy_both_ways", got.String())

	var status []string
	for _, db := range []string{laptop, shared, back} {
		out, _, err := dogrun(t, "status", "dropout", "-db", db)
		if err != nil {
			t.Fatal(err)
		}
		status = append(status, out)
	}
	if status[0] != status[1] || status[1] != status[2] || !strings.Contains(status[0], " done ") {
		t.Errorf("status differs between the copies:\n%s", strings.Join(status, "\n"))
	}
}
