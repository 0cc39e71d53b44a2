package runner

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"

	"github.com/dogrun/dogrun/internal/english"

	"github.com/dogrun/dogrun/adapter"
	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/openset"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/train"
	"github.com/dogrun/dogrun/verify"
)

// Unknown is the open-set part of a plan: dogs no trial trains on. All photos
// of the ValDogs calibrate the rejection rule beside the known validation
// photos; all photos of the TestDogs measure it beside the known test photos.
// Splitting by dog, not by photo, is what makes the measurement honest: the
// rule never saw the dogs it is tested on.
type Unknown struct {
	Data              *dataset.Dataset // the held-out dogs only
	ValDogs, TestDogs []string
	Val, Test         []int // indexes into Data.Photos
	// Pool, with open_set.calibrate_on: pool, is the folder's dogs below
	// dataset.min_images_per_class, whose thirds (poolThirds) calibrate and
	// measure the rules and are the cohort; nil otherwise.
	Pool *dataset.Dataset
}

// holdOut draws open_set.unknown_dogs of the kept dogs, ranked by a hash of
// (dataset.seed, name) as max_classes draws, so the choice is the same for
// every trial and does not depend on the other dogs. The first half of the
// draw calibrates, the rest (the larger half when odd) measures. It returns
// the known dogs' data and their photos' groups.
func (p *Plan) holdOut(data *dataset.Dataset, groups []int, log io.Writer) (*dataset.Dataset, []int, error) {
	n := p.Experiment.OpenSet.UnknownDogs
	if n == 0 {
		return data, groups, nil
	}
	if len(data.Classes)-n < 2 {
		return nil, nil, fmt.Errorf("%s: open_set.unknown_dogs: %d of %d dogs leaves fewer than 2 to train on",
			p.Experiment.File, n, len(data.Classes))
	}
	seed := p.Experiment.Dataset.Seed
	order := make([]int, len(data.Classes))
	for i := range order {
		order[i] = i
	}
	rank := func(c int) [32]byte {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(seed))
		return sha256.Sum256([]byte("dogrun-unknown-v1\x00" + string(b[:]) + data.Classes[c]))
	}
	slices.SortFunc(order, func(a, b int) int {
		ra, rb := rank(a), rank(b)
		return strings.Compare(string(ra[:]), string(rb[:]))
	})
	unknown := make([]bool, len(data.Classes))
	valDog := map[string]bool{}
	for i, c := range order[:n] {
		unknown[c] = true
		valDog[data.Classes[c]] = i < n/2
	}
	known := make([]bool, len(unknown))
	for c, u := range unknown {
		known[c] = !u
	}
	u := &Unknown{}
	u.Data, _ = data.Subset(unknown)
	for _, name := range u.Data.Classes {
		if valDog[name] {
			u.ValDogs = append(u.ValDogs, name)
		} else {
			u.TestDogs = append(u.TestDogs, name)
		}
	}
	for i, ph := range u.Data.Photos {
		if valDog[u.Data.Classes[ph.Class]] {
			u.Val = append(u.Val, i)
		} else {
			u.Test = append(u.Test, i)
		}
	}
	p.Unknown = u
	if p.Experiment.OpenSet.CalibrateOn == results.CalibratedOnPool {
		return p.poolOut(data, groups, known, log)
	}
	fmt.Fprintf(log, "open set: %s held out of training: %d calibrate the rejection rule (%s), %d measure it (%s)\n",
		english.Count(n, "dog"), len(u.ValDogs), english.Count(len(u.Val), "photo"), len(u.TestDogs), english.Count(len(u.Test), "photo"))
	return knownPart(data, groups, known)
}

// poolOut loads the pool a rule is calibrated on (open_set.calibrate_on:
// pool), checked disjoint from the task's dogs, and returns the known dogs'
// data as holdOut does.
func (p *Plan) poolOut(data *dataset.Dataset, groups []int, known []bool, log io.Writer) (*dataset.Dataset, []int, error) {
	exp, u := p.Experiment, p.Unknown
	if p.pool == nil {
		pool, err := adapter.LoadPool(p.photos, exp.Dataset.MinImagesPerClass)
		if err != nil {
			return nil, nil, exp.ErrorAt("open_set.calibrate_on", err.Error())
		}
		p.pool = pool
	}
	u.Pool = p.pool.Data
	if len(u.Pool.Classes) < 3 {
		return nil, nil, exp.ErrorAt("open_set.calibrate_on", fmt.Sprintf("pool: %s with 2 to %d photos, need at least 3 (a third calibrates, a third measures, a third is the cohort)",
			english.Count(len(u.Pool.Classes), "dog"), exp.Dataset.MinImagesPerClass-1))
	}
	if err := verify.CheckDisjoint(verify.PartOf("the task's dogs", data), verify.PartOf("the pool's dogs", u.Pool)); err != nil {
		return nil, nil, exp.ErrorAt("open_set.calibrate_on", err.Error())
	}
	fmt.Fprintf(log, "open set: %s held out of training measure the rejection rule (%d: %s, %d: %s); it is calibrated on a third of the %s with 2 to %d photos (%s), drawn with each trial's seed, disjoint from the task's dogs by folder and sha256\n",
		english.Count(len(u.ValDogs)+len(u.TestDogs), "dog"), len(u.ValDogs), english.Count(len(u.Val), "photo"), len(u.TestDogs), english.Count(len(u.Test), "photo"),
		english.Count(len(u.Pool.Classes), "other dog"), exp.Dataset.MinImagesPerClass-1, english.Count(len(u.Pool.Photos), "photo"))
	return knownPart(data, groups, known)
}

// poolThirds draws the pool's dogs with seed into thirds (by
// dataset.DrawClasses, nested): the cohort, the calibration and the
// measuring dogs, as indexes into Pool.Photos. A photo whose content an
// earlier third holds already (one file filed under two dogs) is left out.
func (u *Unknown) poolThirds(seed int64) (cohort, calibration, measure []int) {
	n := len(u.Pool.Classes)
	first, both := u.Pool.DrawClasses(n/3, seed), u.Pool.DrawClasses(2*n/3, seed)
	held := map[string]bool{}
	parts := [3][]int{}
	for _, which := range []int{0, 1, 2} {
		for i, ph := range u.Pool.Photos {
			third := 2
			switch {
			case first[ph.Class]:
				third = 0
			case both[ph.Class]:
				third = 1
			}
			if third == which && !held[ph.SHA256] {
				parts[which] = append(parts[which], i)
			}
		}
		for _, i := range parts[which] {
			held[u.Pool.Photos[i].SHA256] = true
		}
	}
	return parts[0], parts[1], parts[2]
}

// knownPart is the known dogs' data and their photos' groups.
func knownPart(data *dataset.Dataset, groups []int, known []bool) (*dataset.Dataset, []int, error) {
	kept, from := data.Subset(known)
	keptGroups := make([]int, len(from))
	for k, i := range from {
		keptGroups[k] = groups[i]
	}
	return kept, keptGroups, nil
}

// digest adds the held-out photos (and the pool's, when it calibrates) to a
// split digest, so a trial's identity changes with them as it does with its
// own split.
func (u *Unknown) digest(h hash.Hash) {
	write := func(name string, photos []dataset.Photo, idx []int) {
		keys := make([]string, len(idx))
		for i, j := range idx {
			keys[i] = photos[j].SHA256
		}
		slices.Sort(keys)
		fmt.Fprintf(h, "%s %d\n%s\n", name, len(keys), strings.Join(keys, "\n"))
	}
	write("unknown-val", u.Data.Photos, u.Val)
	write("unknown-test", u.Data.Photos, u.Test)
	if u.Pool != nil { // absent before pools existed, so those trial hashes stay
		all := make([]int, len(u.Pool.Photos))
		for i := range all {
			all[i] = i
		}
		write("pool", u.Pool.Photos, all)
	}
}

// requests are the features of the held-out photos and the pool's, never
// augmented, with their test-time views.
func (u *Unknown) requests(tta string) []backbone.Request {
	var out []backbone.Request
	for _, d := range []*dataset.Dataset{u.Data, u.Pool} {
		if d == nil {
			continue
		}
		for _, ph := range d.Photos {
			out = append(out, backbone.Request{Path: ph.Path, Key: backbone.ViewKey(ph.SHA256, "", 0)})
			for _, v := range ttaSet(tta) {
				out = append(out, backbone.Request{Path: ph.Path, Key: backbone.ViewKey(ph.SHA256, ttaKey, v), Params: ttaViews[v-1]})
			}
		}
	}
	return out
}

// unknownRows are the feature rows of some held-out or pool photos, made as
// the trial's test rows are: each part's vector (with its TTA views)
// concatenated, from filled caches.
func unknownRows(caches []*backbone.Cache, photos []dataset.Photo, idx []int, tta []int) (train.Data, error) {
	var d train.Data
	for _, i := range idx {
		ph := photos[i]
		var blocks []int
		for _, c := range caches {
			f, err := photoVector(c, ph, 0, "", tta)
			if err != nil {
				return train.Data{}, fmt.Errorf("held-out photo: %w", err)
			}
			d.X = append(d.X, f...)
			blocks = append(blocks, len(f))
		}
		d.Dim = sumInts(blocks)
		if len(caches) > 1 {
			d.Blocks = blocks
		}
	}
	return d, nil
}

// unitBlocks is a copy of the rows of x (dim values each) with every block
// (nil: the whole row) scaled to unit length.
func unitBlocks(x []float32, dim int, blocks []int) []float32 {
	if blocks == nil {
		blocks = []int{dim}
	}
	out := append([]float32(nil), x...)
	for r := 0; r+dim <= len(out); r += dim {
		start := r
		for _, b := range blocks {
			train.UnitLength(out[start : start+b])
			start += b
		}
	}
	return out
}

// cohortSize is how many of its nearest cohort dogs a photo's
// centroid_cosine_minus_cohort score averages over.
const cohortSize = 10

// openSet calibrates every rule kind of open_set.scores to the target
// false-accept rate on the calibration photos (the held-out validation
// dogs', or a third of the pool's), counts each on validation (the known
// validation photos and the calibration photos) and test (the known test
// photos and the held-out test dogs'), and on every other set of unknown
// dogs, and keeps the kind that names the most known validation photos
// right (of equals, the one letting the fewest calibration photos
// through; then the simplest). The test photos and the measuring dogs play
// no part in the choice. The
// feature scores compare each backbone's vector at unit length.
func (p *Plan) openSet(head *train.Head, s sets, testProbs [][]float32, caches []*backbone.Cache, t Trial) (*results.OpenSet, error) {
	u := p.Unknown
	cfg := p.Experiment.OpenSet
	kinds := cfg.Scores
	if len(kinds) == 0 {
		kinds = openset.Kinds
	}
	// Every rule breaks ties in openset.AllKinds' order.
	kinds = slices.DeleteFunc(slices.Clone(openset.AllKinds), func(k string) bool { return !slices.Contains(kinds, k) })
	logits := slices.ContainsFunc(kinds, openset.NeedsLogits)
	unit := func(d train.Data) train.Data {
		return train.Data{X: unitBlocks(d.X, d.Dim, d.Blocks), Dim: d.Dim, Y: d.Y}
	}
	scorer := openset.Scorer{Centroids: openset.NewCentroids(unitBlocks(s.train.X, s.train.Dim, s.train.Blocks), s.train.Dim, s.train.Y, len(s.classes))}
	tta := ttaSet(t.Config.Features.TTA)

	// part is one set of photos with everything a score may read.
	type part struct {
		probs, logits [][]float32
		feats         train.Data // each block at unit length
		right         []bool     // the head's top class is the photo's dog; nil for unknown dogs
		dogs          int
	}
	score := func(kind string, pt part) []float64 {
		out := make([]float64, len(pt.probs))
		for i, pr := range pt.probs {
			var lg []float32
			if pt.logits != nil {
				lg = pt.logits[i]
			}
			out[i] = scorer.Score(kind, pr, lg, pt.feats.X[i*pt.feats.Dim:(i+1)*pt.feats.Dim])
		}
		return out
	}
	known := func(x train.Data, probs [][]float32) (part, error) {
		pt := part{probs: probs, feats: unit(x), right: make([]bool, len(probs))}
		var err error
		if probs == nil {
			if pt.probs, err = head.Predict(x); err != nil {
				return part{}, err
			}
			pt.right = make([]bool, len(pt.probs))
		}
		if logits {
			if pt.logits, err = head.Logits(x); err != nil {
				return part{}, err
			}
		}
		for i, pr := range pt.probs {
			pt.right[i] = metrics.TopK(pr, 1)[0] == int(x.Y[i])
		}
		return pt, nil
	}
	unknown := func(d *dataset.Dataset, idx []int) (part, error) {
		x, err := unknownRows(caches, d.Photos, idx, tta)
		if err != nil {
			return part{}, err
		}
		pt := part{feats: unit(x)}
		if pt.probs, err = head.Predict(x); err != nil {
			return part{}, err
		}
		if logits {
			if pt.logits, err = head.Logits(x); err != nil {
				return part{}, err
			}
		}
		dogs := map[int]bool{}
		for _, i := range idx {
			dogs[d.Photos[i].Class] = true
		}
		pt.dogs = len(dogs)
		return pt, nil
	}
	knownVal, err := known(s.val, nil)
	if err != nil {
		return nil, err
	}
	knownTest, err := known(s.test, testProbs)
	if err != nil {
		return nil, err
	}
	taskVal, err := unknown(u.Data, u.Val)
	if err != nil {
		return nil, err
	}
	taskTest, err := unknown(u.Data, u.Test)
	if err != nil {
		return nil, err
	}
	out := &results.OpenSet{Centroids: scorer.Centroids, UnknownVal: u.ValDogs, UnknownTest: u.TestDogs}
	calibration, on := taskVal, results.CalibratedOnTask
	others := map[string]part{results.UnknownsTaskTest: taskTest}
	if u.Pool != nil {
		cohort, cal, measure := u.poolThirds(t.Seed)
		x, err := unknownRows(caches, u.Pool.Photos, cohort, tta)
		if err != nil {
			return nil, err
		}
		y := make([]int32, len(cohort))
		dense := map[int]int32{} // pool class -> cohort index
		for i, k := range cohort {
			c := u.Pool.Photos[k].Class
			if _, ok := dense[c]; !ok {
				dense[c] = int32(len(dense))
			}
			y[i] = dense[c]
		}
		scorer.Cohort = openset.Cohort{K: cohortSize, Centroids: openset.NewCentroids(unitBlocks(x.X, x.Dim, x.Blocks), x.Dim, y, len(dense))}
		out.Cohort = scorer.Cohort
		if calibration, err = unknown(u.Pool, cal); err != nil {
			return nil, err
		}
		on = results.CalibratedOnPool
		if others[results.UnknownsPool], err = unknown(u.Pool, measure); err != nil {
			return nil, err
		}
		others[results.UnknownsTaskVal] = taskVal
	}
	out.Calibration = results.Calibration{On: on, Dogs: calibration.dogs, Photos: len(calibration.probs)}

	far := cfg.TargetFAR
	var best openset.Counts
	for _, kind := range kinds {
		calScores := score(kind, calibration)
		thr, err := openset.Calibrate(calScores, far)
		if err != nil {
			return nil, err
		}
		rule := openset.Rule{Kind: kind, Threshold: thr, TargetFAR: far}
		val := openset.Count(rule, score(kind, knownVal), knownVal.right, calScores)
		test := openset.Count(rule, score(kind, knownTest), knownTest.right, score(kind, taskTest))
		out.Results = append(out.Results,
			results.OpenSetResult{Kind: kind, Part: results.PartVal, Threshold: thr, Counts: val},
			results.OpenSetResult{Kind: kind, Part: results.PartTest, Threshold: thr, Counts: test})
		out.Unknowns = append(out.Unknowns, results.UnknownCount{Kind: kind, Set: results.UnknownsCalibration,
			Dogs: calibration.dogs, Photos: val.Unknown, FalseAccepts: val.FalseAccepts})
		for _, set := range []string{results.UnknownsTaskVal, results.UnknownsTaskTest, results.UnknownsPool} {
			pt, ok := others[set]
			if !ok {
				continue
			}
			c := openset.Count(rule, nil, nil, score(kind, pt))
			out.Unknowns = append(out.Unknowns, results.UnknownCount{Kind: kind, Set: set, Dogs: pt.dogs, Photos: c.Unknown, FalseAccepts: c.FalseAccepts})
		}
		// Every rule lets through at most the target's share of the
		// calibration photos; what tells them apart is the known dogs. The
		// open-set accuracy would weigh a false accept fewer (a tie at the
		// threshold) as much as a known photo named right, and with a pool
		// of 1,500 calibration photos against 50 known ones that is all it
		// would see.
		if val.KnownCorrect > best.KnownCorrect || val.KnownCorrect == best.KnownCorrect && val.FalseAccepts < best.FalseAccepts || out.Rule.Kind == "" {
			best, out.Rule = val, rule
		}
	}
	return out, nil
}

// logOpenSet prints where the rules were calibrated, and the chosen rule
// and what each did on the test photos and the measuring dogs.
func logOpenSet(w io.Writer, label string, o *results.OpenSet) {
	c := o.Calibration
	fmt.Fprintf(w, "  %s open set calibrated on %s of %s (%s)\n", label, english.Count(c.Photos, "photo"), english.Count(c.Dogs, "dog"), c.On)
	for _, r := range o.Results {
		if r.Part != results.PartTest {
			continue
		}
		chosen := ""
		if r.Kind == o.Rule.Kind {
			chosen = " (chosen on validation)"
		}
		pool := ""
		if m, ok := o.Unknown(r.Kind, results.UnknownsPool); ok {
			pool = fmt.Sprintf(", FAR %.3f on the pool's measuring dogs (%d/%d)", m.FAR(), m.FalseAccepts, m.Photos)
		}
		fmt.Fprintf(w, "  %s open set %s > %.4f%s: test FAR %.3f (%d/%d unknown photos accepted)%s, open-set accuracy %.3f, known rejected %.3f\n",
			label, r.Kind, r.Threshold, chosen, r.FAR(), r.FalseAccepts, r.Unknown, pool, r.OpenAccuracy(), r.FRR())
	}
}
