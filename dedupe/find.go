package dedupe

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/dogrun/dogrun/dataset"
)

// Methods of Find.
const (
	MethodAlign = "align"
	MethodPHash = "phash"
	MethodSSIM  = "ssim"
	MethodNone  = "none"
)

// Default thresholds. PHashThreshold is a Hamming distance in bits (a pair
// is a near-duplicate at or below it), calibrated on edited copies (docs/evaluation.md,
// "Near-duplicate detection"); SSIMThreshold is the seed's similarity (at or
// above it); AlignThreshold (align.go) a registered correlation.
const (
	PHashThreshold = 8
	SSIMThreshold  = 0.95
)

// DefaultThreshold returns the calibrated threshold of a method.
func DefaultThreshold(method string) float64 {
	switch method {
	case MethodSSIM:
		return SSIMThreshold
	case MethodAlign:
		return AlignThreshold
	}
	return PHashThreshold
}

// crossClassPHash is the base-hash distance at or below which two photos
// filed under different dogs are reported as the same photo: copies,
// re-encodes, flips and exposure changes score 0 to 4 bits, while no two
// different shots of one dog scored under 2 in calibration.
const crossClassPHash = 4

// Options configure Find.
type Options struct {
	Method    string  // MethodAlign (default), MethodPHash, MethodSSIM or MethodNone
	Threshold float64 // 0 = DefaultThreshold(Method)
	// Progress, if set, is called as photos are read (done of total).
	Progress func(done, total int)
}

// Match is a near-duplicate pair: indices into Dataset.Photos and the score
// that matched them (bits for phash, similarity for ssim, registered
// correlation for align, where copies found by their hash alone score 1).
type Match struct {
	A, B  int
	Score float64
}

// Result is what Find found.
type Result struct {
	Method    string
	Threshold float64
	// Group gives every photo its group, 0..len(Groups)-1. A group never spans
	// classes: near-identical photos filed under two dogs are reported in
	// CrossClass instead, since no split can keep both labels right.
	Group  []int
	Groups [][]int // members of each group, ascending; singletons included
	// Pairs are the within-class matches that formed the groups.
	Pairs []Match
	// CrossClass are identical or near-identical photos filed under two
	// different classes.
	CrossClass []Match
}

// Multi returns the groups of two or more photos.
func (r *Result) Multi() [][]int {
	var out [][]int
	for _, g := range r.Groups {
		if len(g) > 1 {
			out = append(out, g)
		}
	}
	return out
}

// Find groups the near-duplicate photos of d, class by class, and checks
// across classes for the same photo filed under two dogs. Groups are the
// connected components of the matched pairs (a chain of bursts is one group).
func Find(d *dataset.Dataset, opt Options) (*Result, error) {
	if opt.Method == "" {
		opt.Method = MethodAlign
	}
	if opt.Threshold == 0 {
		opt.Threshold = DefaultThreshold(opt.Method)
	}
	res := &Result{Method: opt.Method, Threshold: opt.Threshold}
	n := len(d.Photos)
	uf := newUnionFind(n)
	byClass := make([][]int, len(d.Classes))
	for i, p := range d.Photos {
		byClass[p.Class] = append(byClass[p.Class], i)
	}
	switch opt.Method {
	case MethodNone:
	case MethodAlign, MethodPHash, MethodSSIM:
		var err error
		var matches, cross []Match
		switch opt.Method {
		case MethodAlign:
			matches, cross, err = findAlign(d, byClass, opt)
		case MethodPHash:
			matches, cross, err = findPHash(d, byClass, opt)
		default:
			matches, cross, err = findSSIM(d, byClass, opt)
		}
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			uf.union(m.A, m.B)
		}
		res.Pairs, res.CrossClass = matches, cross
	default:
		return nil, fmt.Errorf("dedupe: unknown method %q (want %s, %s, %s or %s)", opt.Method, MethodAlign, MethodPHash, MethodSSIM, MethodNone)
	}
	// Number groups in photo order so ids are stable for a given result.
	res.Group = make([]int, n)
	id := map[int]int{}
	for i := range n {
		root := uf.find(i)
		g, ok := id[root]
		if !ok {
			g = len(res.Groups)
			id[root] = g
			res.Groups = append(res.Groups, nil)
		}
		res.Group[i] = g
		res.Groups[g] = append(res.Groups[g], i)
	}
	return res, nil
}

// findPHash signs every photo, then compares each pair within a class by
// SignatureDistance and every pair across classes by base hash, which is
// cheap enough (one XOR and popcount) for all 21 million pairs of DogFaceNet.
func findPHash(d *dataset.Dataset, byClass [][]int, opt Options) (within, cross []Match, err error) {
	sigs := make([]Signature, len(d.Photos))
	if err := forEach(len(d.Photos), opt.Progress, func(i int) error {
		img, err := dataset.Decode(d.Photos[i].Path)
		if err != nil {
			return err
		}
		sigs[i] = Sign(img)
		return nil
	}); err != nil {
		return nil, nil, err
	}
	for _, idx := range byClass {
		for x, a := range idx {
			for _, b := range idx[x+1:] {
				if dist := SignatureDistance(&sigs[a], &sigs[b]); float64(dist) <= opt.Threshold {
					within = append(within, Match{A: a, B: b, Score: float64(dist)})
				}
			}
		}
	}
	hashes := make([]Hash, len(sigs))
	for i := range sigs {
		hashes[i] = sigs[i].Base
	}
	return within, crossClassByHash(d, hashes), nil
}

// crossClassByHash reports the photos filed under different classes whose
// plain hashes are within crossClassPHash bits, scored in bits.
func crossClassByHash(d *dataset.Dataset, hashes []Hash) []Match {
	var cross []Match
	for a := range hashes {
		for b := a + 1; b < len(hashes); b++ {
			if d.Photos[a].Class == d.Photos[b].Class {
				continue
			}
			if dist := Distance(hashes[a], hashes[b]); dist <= crossClassPHash {
				cross = append(cross, Match{A: a, B: b, Score: float64(dist)})
			}
		}
	}
	return cross
}

// forEach runs f(0..n-1) on GOMAXPROCS goroutines and returns the first error.
func forEach(n int, progress func(done, total int), f func(i int) error) error {
	var next, done atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(n, 1)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					next.Store(int64(n)) // stop handing out work
					return
				}
				if progress != nil {
					k := int(done.Add(1))
					mu.Lock()
					progress(k, n)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return first
}

type unionFind struct{ parent []int }

func newUnionFind(n int) *unionFind {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return &unionFind{p}
}

func (u *unionFind) find(i int) int {
	for u.parent[i] != i {
		u.parent[i] = u.parent[u.parent[i]]
		i = u.parent[i]
	}
	return i
}

// union joins the sets of a and b under the smaller root, so roots do not
// depend on the order pairs are found in.
func (u *unionFind) union(a, b int) {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return
	}
	lo, hi := min(ra, rb), max(ra, rb)
	u.parent[hi] = lo
}

// sortMatches orders matches by (A, B) for stable output.
func sortMatches(ms []Match) {
	slices.SortFunc(ms, func(x, y Match) int {
		if x.A != y.A {
			return x.A - y.A
		}
		return x.B - y.B
	})
}
