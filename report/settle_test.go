package report

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dogrun/dogrun/results"
)

// TestSettleSection: an experiment with a settle design declared gets the
// section: a verdict row per comparison (the open one says which look is
// next), its path as a chart written beside report.md and embedded in
// report.html, and the warning that outcomes were stored before the design.
func TestSettleSection(t *testing.T) {
	f := newSweepFixture(t)
	ctx := context.Background()
	exp, err := f.store.Experiment(ctx, "sweep")
	if err != nil {
		t.Fatal(err)
	}
	design := results.SettleDesign{By: "head.dropout", Reference: "0", Metric: "top1", Margin: 0.05, Alpha: 0.05,
		Round: 2, MaxSeeds: 4, Spending: "pocock", Seeds: []int64{1, 2, 3, 4}, SeenBefore: 2}
	if _, err := f.store.DeclareSettle(ctx, exp.ID, design, false); err != nil {
		t.Fatal(err)
	}
	d, err := Gather(ctx, f.store, "sweep")
	if err != nil {
		t.Fatal(err)
	}
	if d.Settle == nil {
		t.Fatal("no settle section")
	}
	header, rows := d.Settle.Summary()
	if header[5] != "97.5% repeated interval" {
		t.Errorf("header %v", header)
	}
	// The fixture's dropout 0.5 gets the same photos wrong as dropout 0 on
	// both seeds with lr 0.001: no difference at all, equivalent at the first
	// look. With lr 0.01 its seed 2 failed: no look yet.
	want := [][]string{
		{"head.dropout=0.5 vs 0 (train.lr=0.001)", "equivalent", "1 of 2", "2", "+0.0000", "[+0.0000, +0.0000]", "[+0.0000, +0.0000]", "–"},
		{"head.dropout=0.5 vs 0 (train.lr=0.01)", "open (look 1 of 2 next, at 2 seeds)", "–", "1", "–", "–", "–", "–"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	dir := t.TempDir()
	md, html, err := Write(d, dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	mdText, htmlText := readFile(t, md), readFile(t, html)
	for _, s := range []string{
		"## Settled: head.dropout against 0",
		"in the order 1-4",
		"training randomness on one fixed split",
		"Warning: the design was declared with 2 paired seeds already stored",
		"![head.dropout=0.5 vs 0 (train.lr=0.001), look by look",
		"| 1 | 2 | +0.0000 | [+0.0000, +0.0000] | 0.0000 | 0.0500 | equivalent |",
		"No look yet: 1 seed paired, the first look is at 2.",
	} {
		if !strings.Contains(mdText, s) {
			t.Errorf("report.md lacks %q", s)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "settle_1.png")); err != nil {
		t.Error(err)
	}
	if !strings.Contains(htmlText, `<section id="settle"><h2>Settled: head.dropout against 0</h2>`) || !strings.Contains(htmlText, `<img class="chart" src="data:image/png;base64,`) {
		t.Error("report.html lacks the settle section with its chart")
	}
}
