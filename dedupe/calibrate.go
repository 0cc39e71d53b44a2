package dedupe

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"

	"github.com/dogrun/dogrun/dataset"
)

// Label says whether a calibration pair should be grouped (Positive) and
// what kind of pair it is.
type Label struct {
	Kind     string // a Transforms entry or "same-dog"; for real pairs "realigned", "burst" or "different"
	Positive bool
}

// Pair is a labelled pair of images for calibration: a photo and an edited
// copy of it (Positive), or two different photos of one dog (not Positive).
type Pair struct {
	Label
	A, B image.Image
	RelA string
	RelB string
}

// Transforms names the edits Pairs applies to make positives, in order.
// "realign" is what the dataset's eye alignment does to two crops of one
// shot: a rotation of 3 to 15 degrees either way with a zoom of 0.8 to 1.25
// and a small shift, leaving black corners where the rotated window leaves
// the photo.
var Transforms = []string{"shift", "recrop", "flip", "reencode", "brightness", "combo", "realign"}

// Pairs builds a labelled set from d: for each of n photos drawn with seed,
// one positive per transform (an edited copy of the photo, the way re-crops,
// flips, re-saves, exposure changes and re-alignments of one shot look), and
// n negatives: two different photos of the same dog, also drawn with seed.
//
// The negatives are what a split must keep apart, and the hardest case for a
// detector, since every photo of a dog shows the same face. Some random
// same-dog pairs are real near-duplicates (bursts), so the false-merge rate
// measured on them is an upper bound.
func Pairs(d *dataset.Dataset, n int, seed uint64) ([]Pair, error) {
	var out []Pair
	err := eachPair(d, n, seed, func(p Pair) error {
		out = append(out, p)
		return nil
	})
	return out, err
}

// eachPair hands Pairs' pairs to fn in order, one at a time, so that a large
// set need not be held in memory.
func eachPair(d *dataset.Dataset, n int, seed uint64, fn func(Pair) error) error {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	byClass := make([][]int, len(d.Classes))
	for i, p := range d.Photos {
		byClass[p.Class] = append(byClass[p.Class], i)
	}
	var multi []int // classes with two photos of different content
	for c, idx := range byClass {
		if len(idx) >= 2 {
			multi = append(multi, c)
		}
	}
	if len(d.Photos) == 0 || len(multi) == 0 {
		return fmt.Errorf("dedupe: calibration needs a class with at least 2 photos")
	}
	load := func(i int) (image.Image, error) { return dataset.Decode(d.Photos[i].Path) }
	for range n {
		i := r.IntN(len(d.Photos))
		src, err := load(i)
		if err != nil {
			return err
		}
		rel := d.Photos[i].Rel
		for _, kind := range Transforms {
			b, err := edit(src, kind, r)
			if err != nil {
				return err
			}
			if err := fn(Pair{Label: Label{Kind: kind, Positive: true}, A: src, B: b, RelA: rel, RelB: rel + " (" + kind + ")"}); err != nil {
				return err
			}
		}
	}
	for negatives := 0; negatives < n; {
		idx := byClass[multi[r.IntN(len(multi))]]
		a, b := idx[r.IntN(len(idx))], idx[r.IntN(len(idx))]
		if d.Photos[a].SHA256 == d.Photos[b].SHA256 {
			continue // the same file, or an identical copy: not a negative
		}
		ia, err := load(a)
		if err != nil {
			return err
		}
		ib, err := load(b)
		if err != nil {
			return err
		}
		if err := fn(Pair{Label: Label{Kind: "same-dog"}, A: ia, B: ib, RelA: d.Photos[a].Rel, RelB: d.Photos[b].Rel}); err != nil {
			return err
		}
		negatives++
	}
	return nil
}

// uniform draws from [lo, hi] with a random sign when signed.
func uniform(r *rand.Rand, lo, hi float64, signed bool) float64 {
	v := lo + r.Float64()*(hi-lo)
	if signed && r.IntN(2) == 0 {
		v = -v
	}
	return v
}

// edit makes the positive copy of src for one transform. Sizes are those a
// photographer's re-crop or a second shot of a burst typically differs by.
func edit(src image.Image, kind string, r *rand.Rand) (image.Image, error) {
	size := src.Bounds().Dx()
	p := dataset.ViewParams{Zoom: 1, Brightness: 1}
	quality := 0
	switch kind {
	case "shift":
		p.ShiftX = uniform(r, 0.04, 0.10, true)
		p.ShiftY = uniform(r, 0.0, 0.06, true)
	case "recrop":
		p.Zoom = uniform(r, 1.1, 1.3, false)
		p.ShiftX = uniform(r, 0, 0.05, true)
		p.ShiftY = uniform(r, 0, 0.05, true)
	case "flip":
		p.Flip = true
	case "reencode":
		quality = 30 + r.IntN(41) // 30..70
	case "brightness":
		p.Brightness = uniform(r, 0.7, 0.85, false)
		if r.IntN(2) == 0 {
			p.Brightness = uniform(r, 1.15, 1.3, false)
		}
	case "realign":
		p.AngleDeg = uniform(r, 3, 15, true)
		p.Zoom = math.Exp(uniform(r, math.Log(0.8), math.Log(1.25), false))
		p.ShiftX = uniform(r, 0, 0.05, true)
		p.ShiftY = uniform(r, 0, 0.05, true)
		return blackFill(src, p, size), nil
	case "combo":
		p.Zoom = uniform(r, 1.0, 1.15, false)
		p.ShiftX = uniform(r, 0.02, 0.06, true)
		p.ShiftY = uniform(r, 0.0, 0.04, true)
		p.AngleDeg = uniform(r, 1, 5, true)
		p.Brightness = uniform(r, 0.85, 1.15, false)
		p.Flip = r.IntN(2) == 0
		quality = 50 + r.IntN(41)
	default:
		return nil, fmt.Errorf("dedupe: unknown transform %q", kind)
	}
	out := image.Image(dataset.Render(src, p, size))
	if quality > 0 {
		var b bytes.Buffer
		if err := jpeg.Encode(&b, out, &jpeg.Options{Quality: quality}); err != nil {
			return nil, err
		}
		m, err := jpeg.Decode(&b)
		if err != nil {
			return nil, err
		}
		out = m
	}
	return out, nil
}

// blackFill renders src with p and paints black every output pixel whose
// source lies outside src, as aligned crops are filled. Where that is, is
// learnt by rendering a white frame with a black rim: dataset.Render fills
// outside points with the nearest edge pixel, which there is the rim.
func blackFill(src image.Image, p dataset.ViewParams, size int) image.Image {
	out := dataset.Render(src, p, size)
	b := src.Bounds()
	frame := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			if x > 0 && y > 0 && x < b.Dx()-1 && y < b.Dy()-1 {
				frame.Set(x, y, color.White)
			} else {
				frame.Set(x, y, color.Black)
			}
		}
	}
	mask := dataset.Render(frame, p, size)
	for i := 0; i < len(mask.Pix); i += 4 {
		if mask.Pix[i] < 128 {
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = 0, 0, 0
		}
	}
	return out
}

// Rates are a detector's scores on a labelled set at one threshold.
type Rates struct {
	Threshold float64
	// Recall is the fraction of positives detected, overall and per transform.
	Recall       float64
	RecallByKind map[string]float64
	// FalseMerge is the fraction of negatives (different photos of one dog)
	// that the detector would put in one group.
	FalseMerge           float64
	Positives, Negatives int
}

// Evaluate scores a labelled set: sim[i] is the similarity of the pair
// labelled labels[i] (higher = more alike); a pair is detected when
// sim >= threshold.
func Evaluate(labels []Label, sim []float64, threshold float64) Rates {
	r := Rates{Threshold: threshold, RecallByKind: map[string]float64{}}
	kindN := map[string]int{}
	var fm int
	for i, p := range labels {
		hit := sim[i] >= threshold
		if p.Positive {
			r.Positives++
			kindN[p.Kind]++
			if hit {
				r.Recall++
				r.RecallByKind[p.Kind]++
			}
			continue
		}
		r.Negatives++
		if hit {
			fm++
		}
	}
	if r.Positives > 0 {
		r.Recall /= float64(r.Positives)
	}
	for k, n := range kindN {
		r.RecallByKind[k] /= float64(n)
	}
	if r.Negatives > 0 {
		r.FalseMerge = float64(fm) / float64(r.Negatives)
	}
	return r
}

// Choose returns the loosest threshold among candidates whose false-merge
// rate on the negatives is at most maxFalseMerge (the one with the best
// recall), or the strictest candidate when none qualifies.
func Choose(labels []Label, sim []float64, candidates []float64, maxFalseMerge float64) Rates {
	cs := slices.Clone(candidates)
	sort.Float64s(cs)
	best := Evaluate(labels, sim, cs[len(cs)-1])
	for _, t := range cs {
		if r := Evaluate(labels, sim, t); r.FalseMerge <= maxFalseMerge {
			return r
		}
	}
	return best
}

// Scores are each method's similarity for one pair, higher = more alike:
// phash the negated signature distance in bits, ssim the seed's similarity,
// align AlignScore.Similarity.
type Scores struct{ PHash, SSIM, Align float64 }

// Similarity folds the align rule into one number that Threshold compares:
// 1 for hash copies, the registered correlation when enough features match,
// else -1.
func (s AlignScore) Similarity() float64 {
	switch {
	case s.HashBits <= alignCopyBits:
		return 1
	case s.Inliers >= alignMinInliers:
		return s.Correlation
	}
	return -1
}

// ScorePair scores a pair of images with every method.
func ScorePair(a, b image.Image) (Scores, error) {
	sa, sb := Sign(a), Sign(b)
	ga, gb := ToGray(a), ToGray(b)
	if ga.W != gb.W || ga.H != gb.H {
		gb = gb.Resize(ga.W, ga.H)
	}
	ss, err := SSIM(ga, gb)
	if err != nil {
		return Scores{}, err
	}
	return Scores{PHash: -float64(SignatureDistance(&sa, &sb)), SSIM: ss, Align: AlignCompare(a, b).Similarity()}, nil
}

// Table is one calibration table: rates of each method at several
// thresholds on one labelled set.
type Table struct {
	Pairs, Positives, Negatives int
	Kinds                       []string // positive kinds, in column order
	Rows                        []Row
}

// Row is one method at one threshold.
type Row struct {
	Method  string
	Default bool // the method's default threshold
	Rates
}

// calibrationThresholds are the thresholds each method's rows show.
var calibrationThresholds = []struct {
	method string
	ts     []float64
}{
	{MethodAlign, []float64{0.65, 0.7, 0.75, 0.8, 0.85}},
	{MethodPHash, []float64{4, 6, 8, 10, 12}},
	{MethodSSIM, []float64{0.5, 0.7, 0.9, 0.95}},
}

// table evaluates every method's scores at its thresholds.
func table(labels []Label, scores []Scores, kinds []string) Table {
	t := Table{Pairs: len(labels), Kinds: kinds}
	for _, l := range labels {
		if l.Positive {
			t.Positives++
		} else {
			t.Negatives++
		}
	}
	for _, m := range calibrationThresholds {
		sim := make([]float64, len(scores))
		for i, s := range scores {
			switch m.method {
			case MethodAlign:
				sim[i] = s.Align
			case MethodPHash:
				sim[i] = s.PHash
			default:
				sim[i] = s.SSIM
			}
		}
		for _, th := range m.ts {
			at := th
			if m.method == MethodPHash {
				at = -th // distance <= th
			}
			r := Evaluate(labels, sim, at)
			r.Threshold = th
			t.Rows = append(t.Rows, Row{Method: m.method, Default: th == DefaultThreshold(m.method), Rates: r})
		}
	}
	return t
}

// Calibration is Calibrate's result.
type Calibration struct {
	Synthetic Table // edited copies of photos of the dataset
	Real      Table // the labelled real pairs found in the dataset
	// RealFound of RealTotal labelled same or different pairs have both
	// photos in the dataset.
	RealFound, RealTotal int
}

// Calibrate measures every method on two labelled sets: edited copies of n
// photos of d (Pairs with seed 1), and the labelled real pairs whose photos
// d holds. progress, if set, is told how many pairs of each set are scored.
func Calibrate(d *dataset.Dataset, n int, progress func(set string, done, total int)) (*Calibration, error) {
	report := func(set string, done, total int) {
		if progress != nil {
			progress(set, done, total)
		}
	}
	var labels []Label
	var scores []Scores
	var batch []Pair
	total := n * (len(Transforms) + 1)
	flush := func() error {
		s := make([]Scores, len(batch))
		if err := forEach(len(batch), nil, func(i int) error {
			var err error
			s[i], err = ScorePair(batch[i].A, batch[i].B)
			return err
		}); err != nil {
			return err
		}
		for _, p := range batch {
			labels = append(labels, p.Label)
		}
		scores = append(scores, s...)
		batch = batch[:0]
		report("edited copies", len(scores), total)
		return nil
	}
	if err := eachPair(d, n, 1, func(p Pair) error {
		if batch = append(batch, p); len(batch) == 32 {
			return flush()
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	c := &Calibration{Synthetic: table(labels, scores, Transforms)}

	lp, err := LabelledPairs()
	if err != nil {
		return nil, err
	}
	byRel := map[string]int{}
	for i, p := range d.Photos {
		byRel[p.Rel] = i
	}
	type real struct {
		a, b  int
		label Label
	}
	var found []real
	for _, p := range lp {
		l, ok := p.calibrationLabel()
		if !ok {
			continue
		}
		c.RealTotal++
		a, okA := byRel[p.A]
		b, okB := byRel[p.B]
		if okA && okB {
			found = append(found, real{a, b, l})
		}
	}
	c.RealFound = len(found)
	rs := make([]Scores, len(found))
	var mu sync.Mutex
	done := 0
	if err := forEach(len(found), nil, func(i int) error {
		a, err := dataset.Decode(d.Photos[found[i].a].Path)
		if err != nil {
			return err
		}
		b, err := dataset.Decode(d.Photos[found[i].b].Path)
		if err != nil {
			return err
		}
		if rs[i], err = ScorePair(a, b); err != nil {
			return err
		}
		mu.Lock()
		done++
		report("labelled real pairs", done, len(found))
		mu.Unlock()
		return nil
	}); err != nil {
		return nil, err
	}
	rl := make([]Label, len(found))
	for i, f := range found {
		rl[i] = f.label
	}
	c.Real = table(rl, rs, []string{"realigned", "burst"})
	return c, nil
}
