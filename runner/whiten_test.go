package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/results"
)

// whitenFixture is 4 experiment dogs (a-d, 6 photos) and 24 other dogs
// (pool-a.., 3 photos, fewer than min_images_per_class 4; pool-a..pool-d
// hold a..d's very files and are left out), a plan of two blocks of
// mobilefacenet (its embedding and an inner map), and each alone, with and
// without whitening, and a private cache of made-up features for every
// photo.
func whitenFixture(t *testing.T) (*Plan, string) {
	t.Helper()
	data := dogsWithPool(t)
	exp := writeExperiment(t, `
name: whitened
dataset: {path: `+data+`, min_images_per_class: 4, seed: 1, test: 0.25, val: 0.25}
backbone: {names: [mobilefacenet, "mobilefacenet:expand28"]}
features: {normalize: l2, pool: gem}
head: {hidden: [], type: prototype}
train: {epochs: 3}
sweep: {backbone.names: [[mobilefacenet, "mobilefacenet:expand28"], [mobilefacenet], ["mobilefacenet:expand28"]], features.whiten.pca: [0, 8]}
seeds: [1]
`)
	p, err := NewPlan(exp, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := t.TempDir()
	all, err := dataset.Load(data, dataset.LoadOptions{MinImagesPerClass: 2})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, part := range p.Trials[1].Parts {
		cache, err := backbone.OpenCache(cacheDir, part.Spec, part.Cut)
		if err != nil {
			t.Fatal(err)
		}
		var keys []backbone.Key
		var feats []float32
		for _, ph := range all.Photos {
			keys = append(keys, backbone.ViewKey(ph.SHA256, "", 0))
			for range part.Cut.Dim {
				feats = append(feats, float32(rng.NormFloat64()))
			}
		}
		if err := cache.Put(keys, feats); err != nil {
			t.Fatal(err)
		}
	}
	return p, cacheDir
}

// TestWhitenedTrials runs plain and whitened trials on made-up features:
// a whitened head reads 8 values fitted on the 20 other dogs, each set of
// blocks (a lone block too) whitened by its own fit. Then, with one of the
// experiment's dogs among the whitening's, the whitened trials must fail
// and say why, and the plain ones still train.
func TestWhitenedTrials(t *testing.T) {
	p, cacheDir := whitenFixture(t)
	plain, whitened := p.Trials[0], p.Trials[1]
	if got := []string{plain.Parts[1].Cut.Name, whitened.Parts[0].Cut.Name}; !slices.Equal(got, []string{"expand28.gem3", "embedding"}) {
		t.Fatalf("parts %v: want the inner map pooled by GeM beside the embedding", got)
	}
	if plain.Hash == whitened.Hash {
		t.Fatal("whitening does not change the trial's identity")
	}
	if n := len(p.pool.Data.Classes); n != 20 {
		t.Fatalf("%d other dogs, want pool-e..pool-x", n)
	}
	runs := t.TempDir()
	st, err := results.Open(filepath.Join(runs, "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var log bytes.Buffer
	opt := Options{Store: st, RunsDir: runs, CacheDir: cacheDir, Log: &log, Threads: 1}
	sum, err := Run(context.Background(), p.Experiment, opt)
	if err != nil || sum.Trained != 6 || sum.Failed != 0 {
		t.Fatalf("summary %+v, err %v\n%s", sum, err, log.String())
	}
	for _, dim := range []string{"768", "512", "256"} {
		if want := "whitening: 8 of " + dim + " axes fitted on 60 photos of 20 other dogs, disjoint from this trial's 4"; !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	for _, c := range []struct {
		tr  Trial
		dim int
	}{{plain, 768}, {whitened, 8}} {
		tr, dim := c.tr, c.dim
		js, err := os.ReadFile(filepath.Join(runs, "whitened", "trials", tr.Hash[:16], "checkpoint", "head.json"))
		if err != nil {
			t.Fatal(err)
		}
		var head struct{ Dim int }
		if err := json.Unmarshal(js, &head); err != nil || head.Dim != dim {
			t.Errorf("trial %s reads %d features (%v), want %d", tr.Hash[:12], head.Dim, err, dim)
		}
	}

	// Experiment dog b among the whitening's dogs: a fresh run must refuse it.
	p.pool.Data.Classes = append(p.pool.Data.Classes, "b")
	st2, err := results.Open(filepath.Join(t.TempDir(), "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	log.Reset()
	opt.Store = st2
	r := planned(p, opt)
	r.opt.defaults()
	sum, err = r.all(context.Background())
	if err != nil || sum.Trained != 3 || sum.Failed != 3 {
		t.Fatalf("summary %+v, err %v, want the plain trials done and the whitened ones failed\n%s", sum, err, log.String())
	}
	if want := "features.whiten: verify: the whitening's dogs and this trial's dogs share 1 dogs (b)"; !strings.Contains(log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, log.String())
	}
}

// TestCutsOfAPlan: every cut of a backbone any trial takes is extracted
// with the first, so a sweep over depths runs the backbone once.
func TestCutsOfAPlan(t *testing.T) {
	data := t.TempDir()
	makeDogs(t, data, 3, 4)
	exp := writeExperiment(t, `
name: depths
dataset: {path: `+data+`, seed: 1, test: 0.25, val: 0.25}
backbone: {names: [mobilefacenet]}
head: {hidden: []}
sweep: {backbone.names: [[mobilefacenet, "mobilefacenet:expand28"], ["mobilefacenet:conv7", vggface2-mobilenet]]}
seeds: [1]
`)
	p, err := NewPlan(exp, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range p.cutsOf(p.Trials[1].Parts[0].Spec, p.Trials[1].Parts[0].Cut) {
		names = append(names, c.Name)
	}
	if want := []string{"conv7.avg", "embedding", "expand28.avg"}; !slices.Equal(names, want) {
		t.Errorf("cuts %v, want %v", names, want)
	}
}
