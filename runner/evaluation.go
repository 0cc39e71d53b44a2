package runner

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"time"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/train"
	"github.com/dogrun/dogrun/verify"
)

// rocPoints is the grid verify.ThinROC keeps a stored ROC curve at: steps of
// 0.01 in FAR, and 100 steps from the smallest FAR to 1 on a log axis.
const rocPoints = 101

// checkEvaluation refuses, per trial, what an evaluation experiment
// cannot do, so that a plan fails before any trial runs: too few dogs to
// draw from, or a sweep onto a setting it cannot take.
func (p *Plan) checkEvaluation(exp *schemas.Experiment, cfg schemas.Experiment) error {
	ev := cfg.Evaluation
	if ev.Dogs == 0 {
		return nil
	}
	if strings.Contains(cfg.Features.Normalize, "standardize") {
		return exp.ErrorAt("features.normalize", "standardize is fitted on training photos, and an evaluation has none (each backbone's vector is at unit length already)")
	}
	if n := len(p.Data.Classes); n < 2*ev.Dogs {
		return exp.ErrorAt("evaluation.dogs", fmt.Sprintf("%d measured and %d choosing the threshold need %d dogs with at least %d photos; the folder has %d",
			ev.Dogs, ev.Dogs, 2*ev.Dogs, exp.Dataset.MinImagesPerClass, n))
	}
	return nil
}

// evaluationDraw is seed's dogs of an evaluation: evaluation.dogs measured
// and as many others whose pairs choose the threshold, drawn from the
// plan's dogs by dataset.DrawClasses (nested: the measured dogs are the
// draw of their number, the threshold dogs those the draw of twice as many
// adds), as photo indexes. A threshold dog's photo whose content a measured
// dog holds too (one file filed under two dogs) is left out.
func (p *Plan) evaluationDraw(seed int64) (measured, threshold []int) {
	n := p.Experiment.Evaluation.Dogs
	first, both := p.Data.DrawClasses(n, seed), p.Data.DrawClasses(2*n, seed)
	held := map[string]bool{}
	for i, ph := range p.Data.Photos {
		if first[ph.Class] {
			measured = append(measured, i)
			held[ph.SHA256] = true
		}
	}
	for i, ph := range p.Data.Photos {
		if both[ph.Class] && !first[ph.Class] && !held[ph.SHA256] {
			threshold = append(threshold, i)
		}
	}
	return measured, threshold
}

// related says which of the plan's photos (indexes) must not be paired:
// near-duplicates of one dog, and the same photo filed under two dogs.
func (p *Plan) related(idx []int) verify.Related {
	cross := map[[2]string]bool{}
	for _, c := range p.CrossClass {
		cross[[2]string{min(c.A, c.B), max(c.A, c.B)}] = true
	}
	return func(a, b int) bool {
		x, y := p.Data.Photos[idx[a]], p.Data.Photos[idx[b]]
		return p.Groups[idx[a]] == p.Groups[idx[b]] || x.SHA256 == y.SHA256 || cross[[2]string{min(x.Rel, y.Rel), max(x.Rel, y.Rel)}]
	}
}

// part is the verify.Part of some of the plan's photos.
func (p *Plan) part(name string, idx []int) verify.Part {
	return verify.PartOfPhotos(name, p.Data, idx)
}

// evaluationTrial measures a trial of an evaluation experiment: its seed's
// dogs, their photos' features under the trial's settings, verification
// and one-shot identification (verify.Measure), stored with the one-shot
// answers as the trial's test report. It trains no head.
func (r *run) evaluationTrial(ctx context.Context, claimed *results.Trial, t Trial, label string) error {
	start := time.Now()
	p := r.plan
	ev := t.Config.Evaluation
	measured, threshold := p.evaluationDraw(t.Seed)
	if err := verify.CheckDisjoint(p.part("the measured dogs", measured), p.part("the threshold dogs", threshold)); err != nil {
		return fmt.Errorf("draw: %w", err)
	}
	rows, err := r.evaluationRows(ctx, t, append(append([]int(nil), measured...), threshold...), label)
	if err != nil {
		return fmt.Errorf("extract features: %w", err)
	}
	labels := func(idx []int) []int {
		out := make([]int, len(idx))
		for i, k := range idx {
			out[i] = p.Data.Photos[k].Class
		}
		return out
	}
	m, err := verify.Measure(
		verify.Dogs{Rows: rows[:len(measured)], Labels: labels(measured), Related: p.related(measured)},
		verify.Dogs{Rows: rows[len(measured):], Labels: labels(threshold), Related: p.related(threshold)},
		verify.Settings{Genuine: ev.GenuinePairs, Impostor: ev.ImpostorPairs, TargetFARs: ev.TargetFARs, MaxRank: ev.MaxRank, Seed: uint64(t.Seed)})
	if err != nil {
		return fmt.Errorf("measure: %w", err)
	}
	classes, report, preds, err := oneShotReport(p, measured, m)
	if err != nil {
		return fmt.Errorf("one-shot report: %w", err)
	}
	v := &results.Verification{
		Dogs: ev.Dogs, Photos: len(measured), ThresholdDogs: ev.Dogs,
		Genuine: len(m.Genuine), Impostor: len(m.Impostor), Threshold: m.Threshold,
		GenuineAccepted: m.GenuineAccepted, ImpostorRejected: m.ImpostorRejected,
		BestAccuracy: m.BestAccuracy, AUC: m.AUC, TARs: m.TARs, ROC: verify.ThinROC(m.ROC, rocPoints),
		Gallery: len(m.Gallery), Queries: len(m.Queries), CMC: m.Hits,
	}
	logVerification(r.opt.Log, label, v)
	err = r.opt.Store.Finish(ctx, claimed.ID, r.opt.Worker, results.Outcome{
		Classes: classes, Report: report, Predictions: preds, Verification: v,
		DurationSeconds: time.Since(start).Seconds(),
		GoVersion:       runtime.Version(), GitCommit: r.build.Commit, GitDirty: r.build.Dirty,
		BackboneSHA256: backboneID(t.Parts),
	})
	if err != nil {
		return fmt.Errorf("store results: %w", err)
	}
	return nil
}

// evaluationRows are the feature rows of the plan's photos idx under trial
// t, each at unit length so that a dot product is a cosine: each part's
// vector (with its TTA views) at unit length, concatenated; with an
// adapter backbone, its embedding of the base features, after checking
// that none of the photos' dogs trained it. Features missing from the cache
// are extracted first; one trial prepares at a time, as prepare does.
func (r *run) evaluationRows(ctx context.Context, t Trial, idx []int, label string) ([][]float32, error) {
	r.prep.Lock()
	defer r.prep.Unlock()
	p := r.plan
	views := ttaSet(t.Config.Features.TTA)
	var reqs []backbone.Request
	for _, i := range idx {
		ph := p.Data.Photos[i]
		reqs = append(reqs, backbone.Request{Path: ph.Path, Key: backbone.ViewKey(ph.SHA256, "", 0)})
		for _, v := range views {
			reqs = append(reqs, backbone.Request{Path: ph.Path, Key: backbone.ViewKey(ph.SHA256, ttaKey, v), Params: ttaViews[v-1]})
		}
	}
	var caches []*backbone.Cache
	for _, part := range t.featureParts() {
		c, err := r.cached(ctx, part.Spec, part.Cut, reqs, label)
		if err != nil {
			return nil, err
		}
		caches = append(caches, c)
	}
	photos := make([]dataset.Photo, len(idx))
	for k, i := range idx {
		photos[k] = p.Data.Photos[i]
	}
	x, err := unknownRows(caches, photos, seq(len(photos)), views)
	if err != nil {
		return nil, err
	}
	if t.Adapter != nil {
		a, err := r.obtainAdapter(ctx, t.Adapter, label)
		if err != nil {
			return nil, fmt.Errorf("adapter: %w", err)
		}
		if err := a.CheckDisjoint(p.part("", idx).Dogs, photos); err != nil {
			return nil, err
		}
		x = train.Data{X: a.Project(x.X, x.Dim), Dim: a.Dim()}
	}
	flat := unitBlocks(x.X, x.Dim, x.Blocks)
	rows := make([][]float32, len(idx))
	for k := range rows {
		rows[k] = flat[k*x.Dim : (k+1)*x.Dim]
		train.UnitLength(rows[k])
	}
	return rows, nil
}

// seq is 0, 1, ..., n-1.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// oneShotReport turns one-shot identification into a trial's test report,
// so that status, compare and the report's verdicts read it as they read a
// head's: the classes are the measured dogs (their gallery photos in
// order), each query a test photo scored by its cosine to every gallery
// photo; accuracy is rank-1 and top-5 is rank-5. A cosine is no
// probability, so there is no log loss.
func oneShotReport(p *Plan, measured []int, m verify.Measurement) ([]string, metrics.Report, []results.Prediction, error) {
	classes := make([]string, len(m.Gallery))
	for e, g := range m.Gallery {
		classes[e] = p.Data.Classes[p.Data.Photos[measured[g]].Class]
	}
	scores := make([][]float32, len(m.Queries))
	for q, row := range m.Similarity {
		scores[q] = make([]float32, len(row))
		for e, s := range row {
			scores[q][e] = float32(s)
		}
	}
	report, err := metrics.Evaluate(m.Truth, scores, classes)
	if err != nil {
		return nil, metrics.Report{}, nil, err
	}
	report.LogLoss = math.NaN()
	preds := make([]results.Prediction, len(m.Queries))
	for q, k := range m.Queries {
		ph := p.Data.Photos[measured[k]]
		top := metrics.TopK(scores[q], 5)
		ts := make([]results.ClassScore, len(top))
		for j, c := range top {
			ts[j] = results.ClassScore{Class: c, Score: m.Similarity[q][c]}
		}
		preds[q] = results.Prediction{Photo: ph.Rel, PhotoSHA256: ph.SHA256, True: m.Truth[q], Pred: top[0], TopK: ts}
	}
	return classes, report, preds, nil
}

// logVerification prints what a trial measured.
func logVerification(w io.Writer, label string, v *results.Verification) {
	var tars []string
	for _, t := range v.TARs {
		tars = append(tars, fmt.Sprintf("TAR %.3f at FAR %g (%d of %d impostor pairs let through)", t.TAR, t.TargetFAR, t.Allowed, t.Impostors))
	}
	fmt.Fprintf(w, "  %s verification of %s (%s): accuracy %.3f at threshold %.4f chosen on %d other dogs, AUC %.3f, %s\n",
		label, english.Count(v.Dogs, "dog"), english.Count(v.Genuine, "genuine pair")+" and "+english.Count(v.Impostor, "impostor pair"),
		v.Accuracy(), v.Threshold, v.ThresholdDogs, v.AUC, strings.Join(tars, ", "))
	fmt.Fprintf(w, "  %s one-shot: rank-1 %.3f, rank-%d %.3f (%s against a gallery of %d)\n",
		label, v.Rank(1), len(v.CMC), v.Rank(len(v.CMC)), english.Count(v.Queries, "query|queries"), v.Gallery)
}

// evaluationNote describes an evaluation's draws for the run's first line.
func (p *Plan) evaluationNote() string {
	ev := p.Experiment.Evaluation
	return fmt.Sprintf("evaluation: each seed draws %d of the %s with at least %d photos to measure and %d others to choose the threshold; no head is trained",
		ev.Dogs, english.Count(len(p.Data.Classes), "dog"), p.Experiment.Dataset.MinImagesPerClass, ev.Dogs)
}
