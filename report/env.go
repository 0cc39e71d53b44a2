package report

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/results"
)

// EnvRow is one line of the environment block: what produced the results.
type EnvRow struct {
	Key   string
	Value string // printed as code
	Note  string // plain text after the value
	Warn  bool   // the note is a caution
}

// environment describes the code, data and machines behind the finished
// trials, so a reader can tell whether two reports are comparable.
func (d *Data) environment() []EnvRow {
	var done []results.Trial
	for _, t := range d.Trials {
		if t.Status == results.StatusDone {
			done = append(done, t)
		}
	}
	var rows []EnvRow
	add := func(key, value, note string, warn bool) {
		rows = append(rows, EnvRow{Key: key, Value: value, Note: note, Warn: warn})
	}

	add("Go", tally(done, func(t results.Trial) string { return t.GoVersion }), "", false)

	commits := tally(done, func(t results.Trial) string {
		if t.GitCommit == "" {
			return "unknown"
		}
		if t.GitDirty {
			return t.GitCommit + " (dirty)"
		}
		return t.GitCommit
	})
	dirty := 0
	for _, t := range done {
		if t.GitDirty {
			dirty++
		}
	}
	note, warn := "clean working tree", false
	if dirty > 0 {
		note, warn = fmt.Sprintf("%d of %s ran with uncommitted changes: the commit alone does not identify their code", dirty, english.Count(len(done), "trial")), true
	}
	add("Git commit", commits, note, warn)

	add("Backbone", tally(done, func(t results.Trial) string {
		name := "?"
		if cfg, ok := d.Configs[t.ID]; ok {
			name = cfg.Backbone.Name
			if cfg.Backbone.Cut != "" {
				name += " cut " + cfg.Backbone.Cut
			}
		}
		return name + " sha256 " + t.BackboneSHA256
	}), "", false)

	add("Data fingerprint", d.Experiment.DatasetFingerprint, "sha256 over the photos' content, not their paths", false)
	switch {
	case d.DatasetDir == "":
		add("Dataset folder", "unknown", "the stored experiment file no longer decodes; no photos in this report", true)
	default:
		if _, err := os.Stat(d.DatasetDir); err != nil {
			add("Dataset folder", d.DatasetDir, "not found from here: photos show as \"photo not found\"", true)
		} else {
			add("Dataset folder", d.DatasetDir, "", false)
		}
	}

	det, warn := d.determinism(done)
	add("Determinism", "", det, warn)

	add("Machines", tally(done, func(t results.Trial) string {
		host, _, _ := strings.Cut(t.Worker, ":")
		return host
	}), "", false)

	var first, last *time.Time
	var busy float64
	for _, t := range done {
		if t.StartedAt != nil && (first == nil || t.StartedAt.Before(*first)) {
			first = t.StartedAt
		}
		if t.FinishedAt != nil && (last == nil || t.FinishedAt.After(*last)) {
			last = t.FinishedAt
		}
		busy += t.DurationSeconds
	}
	if first != nil && last != nil {
		add("Ran", first.UTC().Format(time.RFC3339)+" to "+last.UTC().Format(time.RFC3339),
			fmt.Sprintf("%s of training and testing over %s", roundSeconds(busy), english.Count(len(done), "trial")), false)
	}
	return rows
}

// determinism states what the seeds make reproducible and whether every
// variant's seeds ran on one version of the code.
func (d *Data) determinism(done []results.Trial) (string, bool) {
	const base = "Training is deterministic per seed: the same config, photos, backbone and code give the same weights (train.TestFitIsDeterministic)."
	byVariant := map[string]map[string]bool{}
	var order []string
	for _, t := range done {
		if byVariant[t.VariantKey] == nil {
			byVariant[t.VariantKey] = map[string]bool{}
			order = append(order, t.VariantKey)
		}
		c := t.GitCommit
		if t.GitDirty {
			c += " (dirty)"
		}
		byVariant[t.VariantKey][c] = true
	}
	var mixed []string
	for _, v := range order {
		if len(byVariant[v]) > 1 {
			mixed = append(mixed, fmt.Sprintf("%s (%s)", v, english.Count(len(byVariant[v]), "commit")))
		}
	}
	if len(mixed) > 0 {
		return base + " Not every variant ran on one commit: " + strings.Join(mixed, "; ") + ", so its seeds may differ by more than the seed.", true
	}
	all := map[string]bool{}
	for _, cs := range byVariant {
		for c := range cs {
			all[c] = true
		}
	}
	if len(all) > 1 {
		return base + fmt.Sprintf(" Each variant's seeds ran on one commit, but the variants span %d commits.", len(all)), true
	}
	for c := range all {
		if strings.HasSuffix(c, " (dirty)") {
			return base + fmt.Sprintf(" %s on one commit, but with uncommitted changes, so their code may still have differed.", allFinished(len(done))), true
		}
	}
	return base + fmt.Sprintf(" %s on one commit.", allFinished(len(done))), false
}

// allFinished is "All 3 finished trials ran", or "The one finished trial ran".
func allFinished(n int) string {
	if n == 1 {
		return "The one finished trial ran"
	}
	return fmt.Sprintf("All %d finished trials ran", n)
}

// tally lists the distinct values of key over trials, with counts when
// there is more than one, most common first.
func tally(ts []results.Trial, key func(results.Trial) string) string {
	counts := map[string]int{}
	var order []string
	for _, t := range ts {
		k := key(t)
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	if len(order) == 0 {
		return "–"
	}
	if len(order) == 1 {
		return order[0]
	}
	slices.SortStableFunc(order, func(a, b string) int { return counts[b] - counts[a] })
	parts := make([]string, len(order))
	for i, k := range order {
		parts[i] = fmt.Sprintf("%s (%s)", k, english.Count(counts[k], "trial"))
	}
	return strings.Join(parts, "; ")
}

func roundSeconds(s float64) time.Duration {
	d := time.Duration(s * float64(time.Second))
	if d > time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
