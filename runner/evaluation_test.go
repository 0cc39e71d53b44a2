package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/backbone/backbonetest"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/verify"
)

// fillCache writes made-up features for reqs into a fresh cache of plan
// p's first backbone, so nothing runs a real backbone: each photo's vector
// is its dog's direction (drawn from the folder's name) plus noise, so
// photos of one dog are alike and verification has something to find.
func fillCache(t *testing.T, p *Plan, reqs []backbone.Request) string {
	t.Helper()
	cacheDir := backbonetest.FreshCache(t)
	tr := p.Trials[0]
	cache, err := backbone.OpenCache(cacheDir, tr.Backbone, tr.Cut)
	if err != nil {
		t.Fatal(err)
	}
	dim := tr.Cut.Dim
	keys := make([]backbone.Key, len(reqs))
	feats := make([]float32, 0, len(reqs)*dim)
	for i, r := range reqs {
		keys[i] = r.Key
		dog := sha256.Sum256([]byte(filepath.Base(filepath.Dir(r.Path))))
		centre := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(dog[:]), 1))
		noise := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(r.Key[:]), 2))
		for range dim {
			feats = append(feats, float32(centre.NormFloat64()+0.7*noise.NormFloat64()))
		}
	}
	if err := cache.Put(keys, feats); err != nil {
		t.Fatal(err)
	}
	return cacheDir
}

// TestEvaluationTrials runs an evaluation experiment (no head) on made-up
// features of 12 dogs: each seed draws 4 dogs to measure and 4 others for
// the threshold; every trial stores its pairs, TAR, ROC and CMC, and its
// one-shot answers as its test report.
func TestEvaluationTrials(t *testing.T) {
	data := t.TempDir()
	makeDogs(t, data, 12, 6)
	exp := writeExperiment(t, `
name: eval
dataset: {path: `+data+`, min_images_per_class: 4}
backbone: {name: mobilefacenet}
evaluation: {dogs: 4, genuine_pairs: 20, impostor_pairs: 60, target_fars: [0.1, 0.02], max_rank: 3}
sweep: {features.tta: [none, flip]}
seeds: [1, 2]
`)
	p, err := NewPlan(exp, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var reqs []backbone.Request
	for _, ph := range p.Data.Photos {
		reqs = append(reqs, backbone.Request{Path: ph.Path, Key: backbone.ViewKey(ph.SHA256, "", 0)},
			backbone.Request{Path: ph.Path, Key: backbone.ViewKey(ph.SHA256, ttaKey, 1), Params: ttaViews[0]})
	}
	cacheDir := fillCache(t, p, reqs)
	runs := t.TempDir()
	st, err := results.Open(filepath.Join(runs, "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var log bytes.Buffer
	sum, err := Run(context.Background(), exp, Options{Store: st, RunsDir: runs, CacheDir: cacheDir, Log: &log, Threads: 1})
	if err != nil || sum.Trained != 4 || sum.Failed != 0 {
		t.Fatalf("summary %+v, err %v\n%s", sum, err, log.String())
	}
	for _, want := range []string{"each seed draws 4 of the 12 dogs with at least 4 photos", "verification of 4 dogs (20 genuine pairs and 60 impostor pairs)",
		"TAR", "(6 of 60 impostor pairs let through)", "one-shot: rank-1"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	ctx := context.Background()
	e, err := st.Experiment(ctx, "eval")
	if err != nil {
		t.Fatal(err)
	}
	trials, err := st.Trials(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := st.Verifications(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.TestMetrics(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	dogsOf := map[int64][]string{} // seed -> measured dogs
	for _, tr := range trials {
		v := vs[tr.ID]
		if v == nil {
			t.Fatalf("trial %d: no verification stored", tr.Index)
		}
		// 4 dogs of 6 photos have 60 genuine pairs: 20 are drawn.
		if v.Dogs != 4 || v.Photos != 24 || v.Genuine != 20 || v.Impostor != 60 || len(v.TARs) != 2 || len(v.CMC) != 3 || v.Gallery != 4 || v.Queries != 20 {
			t.Errorf("trial %d: %+v", tr.Index, v)
		}
		if v.TARs[0].TargetFAR != 0.02 || v.TARs[0].Allowed != 1 || v.TARs[1].Allowed != 6 {
			t.Errorf("trial %d: TARs %+v, want 1 of 60 allowed at 0.02 and 6 at 0.1", tr.Index, v.TARs)
		}
		// Photos of one dog share a direction: both protocols find it.
		if v.AUC < 0.9 || v.Accuracy() < 0.8 || v.Rank(1) < 0.8 {
			t.Errorf("trial %d: AUC %.3f, accuracy %.3f, rank-1 %.3f; the dogs are well apart", tr.Index, v.AUC, v.Accuracy(), v.Rank(1))
		}
		if n := len(v.ROC); n < 3 || v.ROC[0] != (verify.Point{}) || v.ROC[n-1].FAR != 1 {
			t.Errorf("trial %d: ROC %v", tr.Index, v.ROC)
		}
		if tm := m[tr.ID]; tm.Accuracy != v.Rank(1) || tm.N != v.Queries {
			t.Errorf("trial %d: test accuracy %v of %d photos, one-shot rank-1 %v of %d queries", tr.Index, tm.Accuracy, tm.N, v.Rank(1), v.Queries)
		}
		_, classes, err := st.TrialReport(ctx, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		if prev, ok := dogsOf[tr.Seed]; ok && !slices.Equal(prev, classes) {
			t.Errorf("seed %d measured %v and %v: variants of one seed must share their dogs", tr.Seed, prev, classes)
		}
		dogsOf[tr.Seed] = classes
	}
	if slices.Equal(dogsOf[1], dogsOf[2]) {
		t.Errorf("seeds 1 and 2 both measured %v", dogsOf[1])
	}
	measured, threshold := p.evaluationDraw(1)
	mDogs, tDogs := p.part("", measured).Dogs, p.part("", threshold).Dogs
	if len(mDogs) != 4 || len(tDogs) != 4 || !slices.Equal(mDogs, dogsOf[1]) {
		t.Errorf("draw of seed 1: measured %v (stored %v), threshold %v", mDogs, dogsOf[1], tDogs)
	}
	for _, d := range tDogs {
		if slices.Contains(mDogs, d) {
			t.Errorf("dog %s both measured and choosing the threshold", d)
		}
	}

	// Asking for more dogs than there are is refused at the setting's line.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	yaml, err := os.ReadFile(exp.File)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, bytes.Replace(yaml, []byte("dogs: 4"), []byte("dogs: 7"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	exp2, err := schemas.Load(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewPlan(exp2, io.Discard); err == nil || !strings.Contains(err.Error(), "bad.yaml:5:") || !strings.Contains(err.Error(), "7 measured and 7 choosing the threshold need 14 dogs") {
		t.Errorf("7 + 7 of 12 dogs: %v", err)
	}
}

// TestOpenSetCalibratedOnThePool runs open-set trials whose rules are
// calibrated on a third of the dogs below min_images_per_class, on made-up
// features: each stores whose photos calibrated it, every rule's false
// accepts on each set of unknown dogs (at most the target's share of the
// calibration photos), and the cohort; predict states the same.
func TestOpenSetCalibratedOnThePool(t *testing.T) {
	data := t.TempDir()
	makeDogs(t, data, 10, 6)
	makePoolDogs(t, data, 30, 3)
	exp := writeExperiment(t, `
name: openpool
dataset: {path: `+data+`, min_images_per_class: 4, seed: 1, test: 0.34, val: 0.34}
open_set: {unknown_dogs: 4, target_far: 0.1, calibrate_on: pool, scores: [max_softmax, max_logit, energy, centroid_cosine, centroid_cosine_minus_cohort]}
backbone: {name: mobilefacenet}
head: {hidden: []}
train: {epochs: 5}
seeds: [1, 2]
`)
	var log bytes.Buffer
	p, err := NewPlan(exp, &log)
	if err != nil {
		t.Fatal(err)
	}
	if want := "calibrated on a third of the 30 other dogs with 2 to 3 photos (90 photos)"; !strings.Contains(log.String(), want) {
		t.Errorf("plan log lacks %q:\n%s", want, log.String())
	}
	cacheDir := fillCache(t, p, requests(p, p.mustUnits(p.Trials[0]), augmentOf(p.Trials[0].Config), ""))
	runs := t.TempDir()
	st, err := results.Open(filepath.Join(runs, "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log.Reset()
	sum, err := Run(context.Background(), exp, Options{Store: st, RunsDir: runs, CacheDir: cacheDir, Log: &log, Threads: 1})
	if err != nil || sum.Trained != 2 || sum.Failed != 0 {
		t.Fatalf("summary %+v, err %v\n%s", sum, err, log.String())
	}
	if want := "open set calibrated on 30 photos of 10 dogs (pool)"; !strings.Contains(log.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, log.String())
	}
	ctx := context.Background()
	e, err := st.Experiment(ctx, "openpool")
	if err != nil {
		t.Fatal(err)
	}
	sets, err := st.OpenSets(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	trials, err := st.Trials(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range trials {
		o := sets[tr.ID]
		if o == nil {
			t.Fatalf("trial %d: no open set stored", tr.Index)
		}
		// 30 pool dogs: thirds of 10 (cohort, calibration, measuring).
		if o.Calibration != (results.Calibration{On: results.CalibratedOnPool, Dogs: 10, Photos: 30}) || o.Cohort.K != cohortSize || len(o.Cohort.Centroids.Vectors) != 10 {
			t.Errorf("trial %d: calibration %+v, cohort of %d dogs (k %d)", tr.Index, o.Calibration, len(o.Cohort.Centroids.Vectors), o.Cohort.K)
		}
		if len(o.Results) != 10 || len(o.Unknowns) != 20 {
			t.Errorf("trial %d: %d results and %d unknown counts, want 5 rules x 2 parts and x 4 sets", tr.Index, len(o.Results), len(o.Unknowns))
		}
		for _, u := range o.Unknowns {
			want := map[string][2]int{results.UnknownsCalibration: {10, 30}, results.UnknownsPool: {10, 30},
				results.UnknownsTaskVal: {2, 12}, results.UnknownsTaskTest: {2, 12}}[u.Set]
			if [2]int{u.Dogs, u.Photos} != want {
				t.Errorf("trial %d: %s on %s: %d dogs, %d photos; want %v", tr.Index, u.Kind, u.Set, u.Dogs, u.Photos, want)
			}
			if u.Set == results.UnknownsCalibration && u.FalseAccepts > 3 {
				t.Errorf("trial %d: %s let %d of 30 calibration photos through at a target of 0.1", tr.Index, u.Kind, u.FalseAccepts)
			}
		}
	}
	a, b := sets[trials[0].ID], sets[trials[1].ID]
	if slices.EqualFunc(a.Cohort.Centroids.Vectors, b.Cohort.Centroids.Vectors, slices.Equal) {
		t.Error("seeds 1 and 2 drew the same cohort dogs")
	}

	pr, err := NewPredictor(ctx, st, e, trials[0], cacheDir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Calibration != a.Calibration || len(pr.Measured) != 3 {
		t.Errorf("predictor: calibration %+v, measured %+v", pr.Calibration, pr.Measured)
	}
	for _, m := range pr.Measured {
		if m.Kind != a.Rule.Kind || m.Set == results.UnknownsCalibration {
			t.Errorf("predictor states %+v for rule %s", m, a.Rule.Kind)
		}
	}
	// The held-out test dogs' photos, answered as the run counted them.
	var photos []string
	for _, i := range p.Unknown.Test {
		photos = append(photos, p.Unknown.Data.Photos[i].Path)
	}
	got, err := pr.Predict(ctx, photos)
	if err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, g := range got {
		if g.Err != nil {
			t.Fatal(g.Err)
		}
		if !g.Unknown {
			named++
		}
	}
	if m, _ := a.Unknown(a.Rule.Kind, results.UnknownsTaskTest); named != m.FalseAccepts {
		t.Errorf("predict named %d of the held-out test dogs' %d photos; the run counted %d", named, len(photos), m.FalseAccepts)
	}
}

// makePoolDogs makes dogs pool-00, pool-01, ... of photos each under root,
// each photo its own noise.
func makePoolDogs(t *testing.T, root string, dogs, photos int) {
	t.Helper()
	for d := range dogs {
		dir := filepath.Join(root, fmt.Sprintf("pool-%02d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range photos {
			img := image.NewRGBA(image.Rect(0, 0, 8, 8))
			r := rand.New(rand.NewPCG(uint64(d), uint64(100+i)))
			for p := range 64 {
				img.Set(p%8, p/8, color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255})
			}
			var b bytes.Buffer
			if err := png.Encode(&b, img); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.png", i)), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestPoolLeavesOutCopiesOfTaskPhotos checks that a pool dog's copy of a
// task dog's photo is left out of the pool, as the adapter's pool leaves it
// out: calibrating on it would calibrate on a known dog's photo.
func TestPoolLeavesOutCopiesOfTaskPhotos(t *testing.T) {
	data := t.TempDir()
	makeDogs(t, data, 10, 6)
	makePoolDogs(t, data, 21, 2)
	b, err := os.ReadFile(filepath.Join(data, "a", "a.0.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "pool-03", "2.png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	exp := writeExperiment(t, `
name: openpool
dataset: {path: `+data+`, min_images_per_class: 4, seed: 1}
open_set: {unknown_dogs: 4, target_far: 0.1, calibrate_on: pool}
backbone: {name: mobilefacenet}
seeds: [1]
`)
	var log bytes.Buffer
	p, err := NewPlan(exp, &log)
	if err != nil {
		t.Fatal(err)
	}
	if want := "calibrated on a third of the 21 other dogs with 2 to 3 photos (42 photos)"; !strings.Contains(log.String(), want) {
		t.Errorf("plan log lacks %q:\n%s", want, log.String())
	}
	for _, ph := range p.Unknown.Pool.Photos {
		if ph.Rel == "pool-03/2.png" {
			t.Errorf("the copy of a/a.0.png is in the pool")
		}
	}
}
