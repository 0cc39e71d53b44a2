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

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/openset"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/train"
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
	fmt.Fprintf(log, "open set: %s held out of training: %d calibrate the rejection rule (%s), %d measure it (%s)\n",
		english.Count(n, "dog"), len(u.ValDogs), english.Count(len(u.Val), "photo"), len(u.TestDogs), english.Count(len(u.Test), "photo"))
	kept, from := data.Subset(known)
	keptGroups := make([]int, len(from))
	for k, i := range from {
		keptGroups[k] = groups[i]
	}
	return kept, keptGroups, nil
}

// digest adds the held-out photos to a split digest, so a trial's identity
// changes with them as it does with its own split.
func (u *Unknown) digest(h hash.Hash) {
	for _, part := range []struct {
		name string
		idx  []int
	}{{"unknown-val", u.Val}, {"unknown-test", u.Test}} {
		keys := make([]string, len(part.idx))
		for i, j := range part.idx {
			keys[i] = u.Data.Photos[j].SHA256
		}
		slices.Sort(keys)
		fmt.Fprintf(h, "%s %d\n%s\n", part.name, len(keys), strings.Join(keys, "\n"))
	}
}

// requests are the features of the held-out photos, never augmented.
func (u *Unknown) requests(augKey string) []backbone.Request {
	out := make([]backbone.Request, len(u.Data.Photos))
	for i, ph := range u.Data.Photos {
		out[i] = backbone.Request{Path: ph.Path, Key: backbone.ViewKey(ph.SHA256, augKey, 0)}
	}
	return out
}

// rows is the feature matrix of some held-out photos, from a filled cache.
func (u *Unknown) rows(cache *backbone.Cache, augKey string, idx []int) (train.Data, error) {
	var d train.Data
	for _, i := range idx {
		ph := u.Data.Photos[i]
		f, ok := cache.Get(backbone.ViewKey(ph.SHA256, augKey, 0))
		if !ok {
			return train.Data{}, fmt.Errorf("features of held-out %s are missing from %s after extraction", ph.Rel, cache.Path)
		}
		d.Dim = len(f)
		d.X = append(d.X, f...)
	}
	return d, nil
}

// openSet calibrates every rule kind on the validation photos (known and
// held-out) to the target false-accept rate, counts each on validation and
// test, and keeps the kind with the higher validation open-set accuracy. The
// test photos play no part in the choice.
func (p *Plan) openSet(head *train.Head, s sets, testProbs [][]float32, cache *backbone.Cache, augKey string) (*results.OpenSet, error) {
	u := p.Unknown
	classes := len(p.Data.Classes)
	cents := openset.NewCentroids(s.train.X, s.train.Dim, s.train.Y, classes)
	// part is one set of photos, scored both ways.
	type part struct {
		probs [][]float32
		x     train.Data
		y     []int32 // nil for held-out dogs
	}
	score := func(kind string, pt part) []float64 {
		out := make([]float64, len(pt.probs))
		for i, pr := range pt.probs {
			out[i] = openset.Score(kind, pr, pt.x.X[i*pt.x.Dim:(i+1)*pt.x.Dim], cents)
		}
		return out
	}
	right := func(pt part) []bool {
		out := make([]bool, len(pt.probs))
		for i, pr := range pt.probs {
			out[i] = metrics.TopK(pr, 1)[0] == int(pt.y[i])
		}
		return out
	}
	predict := func(x train.Data, y []int32) (part, error) {
		pr, err := head.Predict(x)
		return part{probs: pr, x: x, y: y}, err
	}
	heldOut := func(idx []int) (part, error) {
		x, err := u.rows(cache, augKey, idx)
		if err != nil {
			return part{}, err
		}
		return predict(x, nil)
	}
	knownVal, err := predict(s.val, s.val.Y)
	if err != nil {
		return nil, err
	}
	unknownVal, err := heldOut(u.Val)
	if err != nil {
		return nil, err
	}
	unknownTest, err := heldOut(u.Test)
	if err != nil {
		return nil, err
	}
	knownTest := part{probs: testProbs, x: s.test, y: s.test.Y}

	far := p.Experiment.OpenSet.TargetFAR
	out := &results.OpenSet{Centroids: cents, UnknownVal: u.ValDogs, UnknownTest: u.TestDogs}
	bestAcc := -1.0
	for _, kind := range openset.Kinds {
		thr, err := openset.Calibrate(score(kind, unknownVal), far)
		if err != nil {
			return nil, err
		}
		rule := openset.Rule{Kind: kind, Threshold: thr, TargetFAR: far}
		val := openset.Count(rule, score(kind, knownVal), right(knownVal), score(kind, unknownVal))
		test := openset.Count(rule, score(kind, knownTest), right(knownTest), score(kind, unknownTest))
		out.Results = append(out.Results,
			results.OpenSetResult{Kind: kind, Part: results.PartVal, Threshold: thr, Counts: val},
			results.OpenSetResult{Kind: kind, Part: results.PartTest, Threshold: thr, Counts: test})
		// NaN (no validation photo at all) never beats the first kind.
		if acc := val.OpenAccuracy(); acc > bestAcc || bestAcc < 0 {
			bestAcc, out.Rule = acc, rule
		}
	}
	return out, nil
}

// logOpenSet prints the chosen rule and what it did on the test photos.
func logOpenSet(w io.Writer, label string, o *results.OpenSet) {
	for _, r := range o.Results {
		if r.Part != results.PartTest {
			continue
		}
		chosen := ""
		if r.Kind == o.Rule.Kind {
			chosen = " (chosen on validation)"
		}
		fmt.Fprintf(w, "  %s open set %s > %.4f%s: test FAR %.3f (%d/%d unknown photos accepted), open-set accuracy %.3f, known rejected %.3f\n",
			label, r.Kind, r.Threshold, chosen, r.FAR(), r.FalseAccepts, r.Unknown, r.OpenAccuracy(), r.FRR())
	}
}
