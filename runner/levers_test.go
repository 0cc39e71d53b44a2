package runner

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/results"
	"github.com/google/go-cmp/cmp"
)

// With dataset.resample each seed draws its own dogs, the ones Load would
// keep with that seed as dataset.seed, and its own split; the variants of
// one seed share them, so their test photos pair up.
func TestResampleDrawsPerSeed(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dogs")
	makeDogs(t, data, 6, 6)
	exp := writeExperiment(t, `
name: draws
dataset: {path: `+data+`, min_images_per_class: 4, max_classes: 3, resample: true, test: 0.34, val: 0.17}
backbone: {name: mobilefacenet}
head: {hidden: []}
train: {epochs: 2}
sweep: {head.dropout: [0.0, 0.5]}
seeds: [1, 2, 3]
`)
	p, err := NewPlan(exp, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Data.Classes) != 6 {
		t.Fatalf("plan holds %d dogs, want all 6 to draw from", len(p.Data.Classes))
	}
	bySeed := map[int64][]string{}
	for _, tr := range p.Trials {
		names, classOf := p.trialClasses(tr)
		want, err := dataset.Load(data, dataset.LoadOptions{MinImagesPerClass: 4, MaxClasses: 3, Seed: tr.Seed})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want.Classes, names); diff != "" {
			t.Errorf("seed %d draws (-Load with that seed +draw):\n%s", tr.Seed, diff)
		}
		bySeed[tr.Seed] = names
		u := p.mustUnits(tr)
		for _, part := range [][]dataset.Unit{u.Train, u.Val, u.Test} {
			for _, x := range part {
				if c := classOf[p.Data.Photos[x.Photo].Class]; c < 0 || names[c] != p.Data.Classes[p.Data.Photos[x.Photo].Class] {
					t.Errorf("seed %d uses %s of an undrawn dog", tr.Seed, p.Data.Photos[x.Photo].Rel)
				}
			}
		}
		// 6 photos per dog: round(6*0.34) = 2 test, round(6*0.17) = 1 validation.
		if len(u.Train) != 9 || len(u.Val) != 3 || len(u.Test) != 6 {
			t.Errorf("seed %d: %d/%d/%d train/val/test photos, want 9/3/6", tr.Seed, len(u.Train), len(u.Val), len(u.Test))
		}
	}
	if slices.Equal(bySeed[1], bySeed[2]) && slices.Equal(bySeed[2], bySeed[3]) {
		t.Errorf("every seed drew the same dogs %v", bySeed[1])
	}
	// Trials 0-2 are dropout 0 with seeds 1-3, trials 3-5 dropout 0.5.
	for i := range 3 {
		a, b := p.Trials[i], p.Trials[i+3]
		if a.Seed != b.Seed {
			t.Fatalf("trials %d and %d have seeds %d and %d", i, i+3, a.Seed, b.Seed)
		}
		if diff := cmp.Diff(p.mustUnits(a), p.mustUnits(b)); diff != "" {
			t.Errorf("seed %d: variants split differently:\n%s", a.Seed, diff)
		}
	}
	splits, err := p.StoredSplits()
	if err != nil {
		t.Fatal(err)
	}
	folds := map[int]int{}
	for _, u := range splits[0].Units {
		folds[u.Fold]++
	}
	if diff := cmp.Diff(map[int]int{1: 18, 2: 18, 3: 18}, folds); diff != "" {
		t.Errorf("stored photos per draw (-want +got):\n%s", diff)
	}
}

// With features.tta each photo's vector is the mean of its own and its TTA
// views', per backbone, and backbone.names concatenates the backbones'
// vectors in order.
func TestBuildSetsAveragesTTAAndConcatenates(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dogs")
	makeDogs(t, data, 2, 4)
	exp := writeExperiment(t, `
name: tta
dataset: {path: `+data+`, min_images_per_class: 4, test: 0.25, val: 0.25}
backbone: {names: [mobilefacenet, vggface2-mobilenet]}
features: {tta: flip}
head: {hidden: []}
train: {epochs: 2}
seeds: [1]
`)
	p, err := NewPlan(exp, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Trials[0]
	if len(tr.Parts) != 2 || tr.Parts[0].Spec.Name != "mobilefacenet" || tr.Parts[1].Spec.Name != "vggface2-mobilenet" {
		t.Fatalf("parts %+v", tr.Parts)
	}
	units := p.mustUnits(tr)
	reqs := requests(p, units, augmentOf(tr.Config), tr.Config.Features.TTA)
	flips := 0
	for _, r := range reqs {
		if r.Params.Flip {
			flips++
		}
	}
	if flips != len(p.Data.Photos) {
		t.Errorf("%d flipped views requested, want one per photo (%d)", flips, len(p.Data.Photos))
	}
	// Photo i: view 0 is (i, 0) and its mirror (i+2, 4) in the first
	// backbone, 10 and 20 in the second; so its row is (i+1, 2, 15).
	dir := t.TempDir()
	var caches []*backbone.Cache
	for k, part := range tr.Parts {
		c, err := backbone.OpenCache(dir, part.Spec, backbone.Cut{Name: "test", Dim: 2 - k})
		if err != nil {
			t.Fatal(err)
		}
		caches = append(caches, c)
	}
	key := augmentOf(tr.Config).Key()
	for i, ph := range p.Data.Photos {
		f := float32(i)
		if err := caches[0].Put([]backbone.Key{backbone.ViewKey(ph.SHA256, key, 0), backbone.ViewKey(ph.SHA256, ttaKey, 1)}, []float32{f, 0, f + 2, 4}); err != nil {
			t.Fatal(err)
		}
		if err := caches[1].Put([]backbone.Key{backbone.ViewKey(ph.SHA256, key, 0), backbone.ViewKey(ph.SHA256, ttaKey, 1)}, []float32{10, 20}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := buildSets(p, tr, caches, units)
	if err != nil {
		t.Fatal(err)
	}
	var want []float32
	for _, x := range units.Test {
		want = append(want, float32(x.Photo)+1, 2, 15)
	}
	if diff := cmp.Diff(want, s.test.X); diff != "" {
		t.Errorf("test rows (-want +got):\n%s", diff)
	}
	if s.test.Dim != 3 || !slices.Equal(s.test.Blocks, []int{2, 1}) {
		t.Errorf("dim %d blocks %v, want 3 and [2 1]", s.test.Dim, s.test.Blocks)
	}
	if len(s.train.Source) != len(units.Train) {
		t.Errorf("%d training sources for %d rows", len(s.train.Source), len(units.Train))
	}
	if backboneID(tr.Parts) == tr.Parts[0].Spec.SHA256() {
		t.Error("a concatenation has the identity of its first backbone")
	}
}

// A trial concatenating backbones is refused by predict by name, before
// anything is opened; one of a single name is not refused for its names.
func TestPredictorRefusesConcatenatedTrials(t *testing.T) {
	exp := results.Experiment{Name: "open", File: filepath.Join(t.TempDir(), "open.yaml")}
	trial := func(names string) results.Trial {
		return results.Trial{Hash: "abcdef0123456789", Status: results.StatusDone, ConfigJSON: `{"backbone": {"names": ` + names + `}}`}
	}
	_, err := NewPredictor(context.Background(), nil, exp, trial(`["mobilefacenet", "vggface2-mobilenet"]`), t.TempDir(), 1)
	if want := "trial abcdef012345 concatenates mobilefacenet and vggface2-mobilenet (backbone.names); predict runs a trial of one backbone"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	// One name resolves as backbone.name would; the trial's stored sha256
	// (none here) is what stops it.
	_, err = NewPredictor(context.Background(), nil, exp, trial(`["mobilefacenet"]`), t.TempDir(), 1)
	if err == nil || !strings.Contains(err.Error(), "ran on backbone mobilefacenet") {
		t.Errorf("err = %v, want the backbone's sha256 check", err)
	}
}
