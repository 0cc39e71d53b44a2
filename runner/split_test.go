package runner

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/dedupe"
	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
)

func planWith(t *testing.T, dataDir, split, sweep string) *Plan {
	t.Helper()
	exp := writeExperiment(t, `
name: folds
dataset: {path: `+dataDir+`, min_images_per_class: 4, seed: 1, test: 0.25, val: 0.2}
split: `+split+`
backbone: {name: mobilefacenet}
head: {hidden: [8]}
augmentation: {views: 2, hflip: true}
train: {epochs: 2}
sweep: {`+sweep+`}
seeds: [1, 2]
`)
	p, err := NewPlan(exp, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKFoldTrialsAndStoredSplit(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dogs")
	makeDogs(t, data, 3, 7)
	p := planWith(t, data, "{kfold: 3}", "head.dropout: [0.0, 0.5]")
	if len(p.Trials) != 2*2*3 {
		t.Fatalf("%d trials, want 2 variants x 2 seeds x 3 folds", len(p.Trials))
	}
	seen := map[string]bool{}
	for i, tr := range p.Trials {
		if want := i%3 + 1; tr.Fold != want || tr.Index != i {
			t.Errorf("trial %d: fold %d index %d, want fold %d", i, tr.Fold, tr.Index, want)
		}
		if seen[tr.Hash] {
			t.Errorf("trial %d repeats a hash", i)
		}
		seen[tr.Hash] = true
	}
	splits, err := p.StoredSplits()
	if err != nil {
		t.Fatal(err)
	}
	if len(splits) != 1 || splits[0].Leaky || splits[0].KFold != 3 || splits[0].Views != 2 {
		t.Fatalf("stored splits: %+v", splits)
	}
	tested := map[string]int{}
	for _, u := range splits[0].Units {
		if u.Part == results.PartTest {
			tested[u.Photo]++
		}
	}
	if len(tested) != len(p.Data.Photos) {
		t.Errorf("%d of %d photos tested", len(tested), len(p.Data.Photos))
	}
	for photo, n := range tested {
		if n != 1 {
			t.Errorf("%s tested in %d folds", photo, n)
		}
	}
	// A fold's units: training photos with their 2 views, the rest as is.
	u, err := p.Units(p.Trials[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Train) != 3*len(p.Folds[1].Train) || len(u.Test) != len(p.Folds[1].Test) {
		t.Errorf("fold 2 units: %d train, %d test", len(u.Train), len(u.Test))
	}
}

func TestLeakySweepTestsCopiesOfTrainingPhotos(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dogs")
	makeDogs(t, data, 3, 8)
	p := planWith(t, data, "{group: none}", "split.leaky: [false, true]")
	var honest, leaky Trial
	for _, tr := range p.Trials {
		if tr.Config.Split.Leaky {
			leaky = tr
		} else {
			honest = tr
		}
	}
	if honest.Hash == "" || leaky.Hash == "" {
		t.Fatal("the sweep did not make both protocols")
	}
	// With group: none the honest split is the seed's stratified split.
	want, err := dataset.StratifiedSplit(p.Data, 0.25, 0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p.Split.Test[0] != want.Test[0] || len(p.Split.Test) != len(want.Test) || len(p.Split.Train) != len(want.Train) {
		t.Errorf("group none split %v, want %v", p.Split, want)
	}
	u, err := p.Units(leaky)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Train)+len(u.Val)+len(u.Test) != 3*len(p.Data.Photos) {
		t.Errorf("leaky split has %d units, want 3 per photo", len(u.Train)+len(u.Val)+len(u.Test))
	}
	inTrain := map[int]bool{}
	for _, x := range u.Train {
		inTrain[x.Photo] = true
	}
	copies, leaked := 0, 0
	for _, x := range u.Test {
		if x.View > 0 {
			copies++
		}
		if inTrain[x.Photo] {
			leaked++
		}
	}
	if copies == 0 || leaked == 0 {
		t.Errorf("leaky test set: %d augmented copies, %d with the photo in training", copies, leaked)
	}
	// Features are requested for the tested copies too.
	reqs := requests(p, u, augmentOf(leaky.Config), "")
	if len(reqs) != len(p.Data.Photos)+2*len(p.Data.Photos) {
		t.Errorf("%d requests, want every photo and both views of each", len(reqs))
	}
	splits, err := p.StoredSplits()
	if err != nil {
		t.Fatal(err)
	}
	if len(splits) != 2 || splits[0].Leaky || !splits[1].Leaky || len(splits[1].Units) != 3*len(p.Data.Photos) {
		t.Errorf("stored splits: %d, leaky units %d", len(splits), len(splits[len(splits)-1].Units))
	}
}

func TestFindGroupsCache(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dogs")
	makeDogs(t, data, 2, 5)
	d, err := dataset.Load(data, dataset.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	opt := dedupe.Options{Method: dedupe.MethodPHash, Threshold: 8}
	first, err := findGroups(d, opt, cache)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(cache, "dedupe", "*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files %v", files)
	}
	// A doctored cache entry is what a second call returns: it read the cache.
	var c cachedGroups
	b, _ := os.ReadFile(files[0])
	json.Unmarshal(b, &c)
	c.Result.Threshold = 99
	b, _ = json.Marshal(c)
	os.WriteFile(files[0], b, 0o644)
	again, err := findGroups(d, opt, cache)
	if err != nil {
		t.Fatal(err)
	}
	if again.Threshold != 99 || !slices.Equal(again.Group, first.Group) {
		t.Errorf("second call did not read the cache: %+v", again)
	}
	// Another threshold is another entry.
	if r, _ := findGroups(d, dedupe.Options{Method: dedupe.MethodPHash, Threshold: 4}, cache); r.Threshold != 4 {
		t.Errorf("threshold 4 read threshold %v", r.Threshold)
	}
}

func TestIsCopyReadsUnitNames(t *testing.T) {
	ph := dataset.Photo{Rel: "100/100.0.jpg"}
	for view, want := range map[int]bool{0: false, 3: true, 12: true} {
		if got := IsCopy(UnitName(ph, view)); got != want {
			t.Errorf("IsCopy(%q) = %v, want %v", UnitName(ph, view), got, want)
		}
	}
	if IsCopy("dog#1/a.jpg") {
		t.Error(`IsCopy("dog#1/a.jpg") = true for a path with '#' in a folder name`)
	}
}

// TestAlignSplitKeepsBurstsTogether: split.group align groups re-aligned
// burst shots that the labelled pairs call one shot and phash misses, so
// each pair lands on one side of the split.
func TestAlignSplitKeepsBurstsTogether(t *testing.T) {
	photos := needs.Photos(t)
	data := filepath.Join(t.TempDir(), "dogs")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dog := range []string{"39", "646", "909", "519"} {
		if err := os.Symlink(filepath.Join(photos, dog), filepath.Join(data, dog)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("DOGRUN_CACHE", t.TempDir())
	bursts := [][2]string{{"39/39.1.jpg", "39/39.4.jpg"}, {"646/646.0.jpg", "646/646.1.jpg"}, {"909/909.0.jpg", "909/909.4.jpg"}}
	together := func(p *Plan, a, b string) (group, part bool) {
		ia := slices.IndexFunc(p.Data.Photos, func(ph dataset.Photo) bool { return ph.Rel == a })
		ib := slices.IndexFunc(p.Data.Photos, func(ph dataset.Photo) bool { return ph.Rel == b })
		if ia < 0 || ib < 0 {
			t.Fatalf("%s or %s not in the plan", a, b)
		}
		side := map[int]int{}
		for k, part := range [][]int{p.Split.Train, p.Split.Val, p.Split.Test} {
			for _, i := range part {
				side[i] = k
			}
		}
		return p.Groups[ia] == p.Groups[ib], side[ia] == side[ib]
	}
	aligned := planWith(t, data, "{group: align}", "head.dropout: [0.0]")
	if aligned.Experiment.Split.Threshold != dedupe.AlignThreshold || schemas.AlignThreshold != dedupe.AlignThreshold {
		t.Fatalf("align threshold %v, schemas' default %v, dedupe's %v", aligned.Experiment.Split.Threshold, schemas.AlignThreshold, dedupe.AlignThreshold)
	}
	// Every photo of 519 is one burst: no honest split can test it.
	if slices.Contains(aligned.Data.Classes, "519") {
		t.Errorf("dog 519, one group under align, was kept: %v", aligned.Data.Classes)
	}
	hashed := planWith(t, data, "{group: phash}", "head.dropout: [0.0]")
	for _, b := range bursts {
		if g, side := together(aligned, b[0], b[1]); !g || !side {
			t.Errorf("align: %s and %s: same group %v, same side %v", b[0], b[1], g, side)
		}
		if g, _ := together(hashed, b[0], b[1]); g {
			t.Errorf("phash grouped %s and %s: the test no longer shows what align adds", b[0], b[1])
		}
	}
}
