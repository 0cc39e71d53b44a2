package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/adapter"
	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/backbone/backbonetest"
	"github.com/dogrun/dogrun/results"
)

// adapterFixture is 4 experiment dogs (a-d, 6 photos) and 24 candidate pool
// dogs (pool-a.., 3 photos, fewer than min_images_per_class 4), a plan of
// base and adapter trials, and a private cache filled with made-up features,
// so nothing runs a real backbone. makeDogs draws a photo from its folder
// and file number, so pool-a..pool-d hold the very files of a..d: they must
// be left out of the pool.
func adapterFixture(t *testing.T) (*Plan, string) {
	t.Helper()
	data := dogsWithPool(t)
	exp := writeExperiment(t, `
name: adapt
dataset: {path: `+data+`, min_images_per_class: 4, seed: 1, test: 0.25, val: 0.25}
backbone: {name: mobilefacenet}
head: {hidden: []}
train: {epochs: 3}
sweep: {backbone.name: [mobilefacenet, mobilefacenet+arcface]}
seeds: [1]
`)
	p, err := NewPlan(exp, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := backbonetest.FreshCache(t) // features are written below; the run checks the models are fetched
	tr := p.Trials[1]
	cache, err := backbone.OpenCache(cacheDir, tr.Backbone, tr.Cut)
	if err != nil {
		t.Fatal(err)
	}
	reqs := append(requests(p, p.mustUnits(tr), augmentOf(tr.Config), ""), tr.Adapter.Requests()...)
	rng := rand.New(rand.NewPCG(1, 1))
	keys := make([]backbone.Key, len(reqs))
	feats := make([]float32, len(reqs)*tr.Cut.Dim)
	for i, r := range reqs {
		keys[i] = r.Key
	}
	for i := range feats {
		feats[i] = float32(rng.NormFloat64())
	}
	if err := cache.Put(keys, feats); err != nil {
		t.Fatal(err)
	}
	return p, cacheDir
}

// TestAdapterTrialIdentityAndPool checks that an adapter backbone is its own
// trial, keyed by the adapter, and trains on the dogs below the minimum only,
// without any file an experiment dog has.
func TestAdapterTrialIdentityAndPool(t *testing.T) {
	p, _ := adapterFixture(t)
	base, adapted := p.Trials[0], p.Trials[1]
	if base.Adapter != nil || adapted.Adapter == nil {
		t.Fatalf("adapters: base %v, +arcface %v", base.Adapter, adapted.Adapter)
	}
	if adapted.Backbone.Name != "mobilefacenet" || base.Hash == adapted.Hash {
		t.Errorf("+arcface resolved to %s with hash %.12s (base %.12s)", adapted.Backbone.Name, adapted.Hash, base.Hash)
	}
	pool := adapted.Adapter.Pool
	if len(pool.Data.Classes) != 20 || pool.Excluded != 12 {
		t.Errorf("pool of %d dogs, %d photos excluded; want the 20 dogs pool-e..pool-x, and the 12 files of pool-a..pool-d excluded",
			len(pool.Data.Classes), pool.Excluded)
	}
	for _, c := range pool.Data.Classes {
		if !strings.HasPrefix(c, "pool-") || c <= "pool-d" {
			t.Errorf("dog %s in the adapter's pool", c)
		}
	}
}

// TestAdapterTrials runs a base and an adapter trial on made-up features: the
// adapter is trained, stored and used; then, with a stored adapter that claims
// one of the experiment's dogs, the adapter trial must fail and say why.
func TestAdapterTrials(t *testing.T) {
	p, cacheDir := adapterFixture(t)
	runs := t.TempDir()
	st, err := results.Open(filepath.Join(runs, "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var log bytes.Buffer
	opt := Options{Store: st, RunsDir: runs, CacheDir: cacheDir, Log: &log}
	sum, err := Run(context.Background(), p.Experiment, opt)
	if err != nil || sum.Trained != 2 || sum.Failed != 0 {
		t.Fatalf("summary %+v, err %v\n%s", sum, err, log.String())
	}
	sp := p.Trials[1].Adapter
	a, err := sp.Load(cacheDir)
	if err != nil || a == nil {
		t.Fatalf("stored adapter: %v, %v", a, err)
	}
	for _, want := range []string{"training adapter " + adapter.ArcFace.Version + " on 18 dogs", "adapter " + a.Key[:12] + ": its 20 dogs and this trial's 4 are disjoint"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	card, err := os.ReadFile(filepath.Join(runs, "adapt", "adapter-"+a.Key[:12]+".md"))
	if err != nil || !strings.Contains(string(card), "Trained on 18 dogs and early-stopped on 2 others") {
		t.Errorf("adapter card: %v\n%s", err, card)
	}

	// The same adapter, but claiming experiment dog b: a fresh run must refuse it.
	a.TrainDogs = append(a.TrainDogs, "b")
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sp.Path(cacheDir), data, 0o644); err != nil {
		t.Fatal(err)
	}
	st2, err := results.Open(filepath.Join(t.TempDir(), "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	log.Reset()
	opt.Store = st2
	sum, err = Run(context.Background(), p.Experiment, opt)
	if err != nil || sum.Trained != 1 || sum.Failed != 1 {
		t.Fatalf("summary %+v, err %v, want the base trial done and the adapter trial failed\n%s", sum, err, log.String())
	}
	if want := "1 of the experiment's dogs trained the adapter (b)"; !strings.Contains(log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, log.String())
	}
}

// dogsWithPool is a folder of 4 experiment dogs (a-d, 6 photos) and 24 other
// dogs (pool-a.., 3 photos, fewer than a min_images_per_class of 4). makeDogs
// draws a photo from its folder and file number, so pool-a..pool-d hold the
// very files of a..d, which a pool must leave out.
func dogsWithPool(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	makeDogs(t, data, 4, 6)
	pool := t.TempDir()
	makeDogs(t, pool, 24, 3)
	entries, err := os.ReadDir(pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(pool, e.Name()), filepath.Join(data, "pool-"+e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return data
}
