package dedupe

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/dogrun/dogrun/dataset"
)

// Pair is a labelled pair of images for calibration: a photo and an edited
// copy of it (Positive), or two different photos of one dog (not Positive).
type Pair struct {
	Kind     string // "shift", "recrop", "flip", "reencode", "brightness", "combo" or "same-dog"
	Positive bool
	A, B     image.Image
	RelA     string
	RelB     string
}

// Transforms names the edits Pairs applies to make positives, in order.
var Transforms = []string{"shift", "recrop", "flip", "reencode", "brightness", "combo"}

// Pairs builds a labelled set from d: for each of n photos drawn with seed,
// one positive per transform (an edited copy of the photo, the way re-crops,
// flips, re-saves and exposure changes of one shot look), and n negatives:
// two different photos of the same dog, also drawn with seed.
//
// The negatives are what a split must keep apart, and the hardest case for a
// detector, since every photo of a dog shows the same face. Some random
// same-dog pairs are real near-duplicates (bursts), so the false-merge rate
// measured on them is an upper bound.
func Pairs(d *dataset.Dataset, n int, seed uint64) ([]Pair, error) {
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
		return nil, fmt.Errorf("dedupe: calibration needs a class with at least 2 photos")
	}
	cache := map[int]image.Image{}
	load := func(i int) (image.Image, error) {
		if m, ok := cache[i]; ok {
			return m, nil
		}
		m, err := dataset.Decode(d.Photos[i].Path)
		if err != nil {
			return nil, err
		}
		cache[i] = m
		return m, nil
	}
	var out []Pair
	for range n {
		i := r.IntN(len(d.Photos))
		src, err := load(i)
		if err != nil {
			return nil, err
		}
		rel := d.Photos[i].Rel
		for _, kind := range Transforms {
			b, err := edit(src, kind, r)
			if err != nil {
				return nil, err
			}
			out = append(out, Pair{Kind: kind, Positive: true, A: src, B: b, RelA: rel, RelB: rel + " (" + kind + ")"})
		}
	}
	for len(out) < n*(len(Transforms)+1) {
		idx := byClass[multi[r.IntN(len(multi))]]
		a, b := idx[r.IntN(len(idx))], idx[r.IntN(len(idx))]
		if d.Photos[a].SHA256 == d.Photos[b].SHA256 {
			continue // the same file, or an identical copy: not a negative
		}
		ia, err := load(a)
		if err != nil {
			return nil, err
		}
		ib, err := load(b)
		if err != nil {
			return nil, err
		}
		out = append(out, Pair{Kind: "same-dog", A: ia, B: ib, RelA: d.Photos[a].Rel, RelB: d.Photos[b].Rel})
	}
	return out, nil
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

// Evaluate scores a labelled set: sim[i] is the similarity of pairs[i]
// (higher = more alike); a pair is detected when sim >= threshold.
func Evaluate(pairs []Pair, sim []float64, threshold float64) Rates {
	r := Rates{Threshold: threshold, RecallByKind: map[string]float64{}}
	kindN := map[string]int{}
	var fm int
	for i, p := range pairs {
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
func Choose(pairs []Pair, sim []float64, candidates []float64, maxFalseMerge float64) Rates {
	cs := slices.Clone(candidates)
	sort.Float64s(cs)
	best := Evaluate(pairs, sim, cs[len(cs)-1])
	for _, t := range cs {
		if r := Evaluate(pairs, sim, t); r.FalseMerge <= maxFalseMerge {
			return r
		}
	}
	return best
}
