package verify

import (
	"fmt"
	"math/rand/v2"
)

// Pair is two photos, by index, and whether they show the same dog.
type Pair struct {
	A, B int
	Same bool
}

// Related says whether two photos must not be paired: near-duplicates of one
// another (a genuine pair of a photo and its resized copy says nothing about
// telling dogs apart), or the same file filed under two dogs. nil relates
// nothing.
type Related func(a, b int) bool

// SamplePairs draws up to genuine genuine pairs and impostors impostor
// pairs of the photos whose dogs are labels (one label per photo),
// deterministically from seed. As in the DogFaceNet authors' evaluation, a
// genuine pair is a dog drawn uniformly and two of its photos, an impostor
// pair two different dogs drawn uniformly and one photo of each, so dogs
// with many photos do not dominate. Unlike it, the counts are fixed (more
// impostor pairs than genuine ones make a low false-accept rate
// measurable), no pair is drawn twice, and related photos are never paired.
// When the dogs have fewer than genuine distinct genuine pairs, all of them
// are drawn.
func SamplePairs(labels []int, genuine, impostors int, seed uint64, related Related) ([]Pair, error) {
	if related == nil {
		related = func(int, int) bool { return false }
	}
	byDog, dogs := photosByDog(labels)
	if len(dogs) < 2 {
		return nil, fmt.Errorf("verify: pairs need at least 2 dogs, have %d", len(dogs))
	}
	r := rand.New(rand.NewPCG(seed, 0x7061697273)) // "pairs"

	// Every dog's unrelated genuine pairs, shuffled; a dog leaves the draw
	// when it has none left.
	left := map[int][]Pair{}
	var open []int
	for _, d := range dogs {
		ph := byDog[d]
		var ps []Pair
		for i := range ph {
			for j := i + 1; j < len(ph); j++ {
				if !related(ph[i], ph[j]) {
					ps = append(ps, Pair{A: ph[i], B: ph[j], Same: true})
				}
			}
		}
		r.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		if len(ps) > 0 {
			left[d] = ps
			open = append(open, d)
		}
	}
	var out []Pair
	for len(out) < genuine && len(open) > 0 {
		k := r.IntN(len(open))
		d := open[k]
		ps := left[d]
		out = append(out, ps[len(ps)-1])
		left[d] = ps[:len(ps)-1]
		if len(left[d]) == 0 {
			open[k] = open[len(open)-1]
			open = open[:len(open)-1]
		}
	}
	drawn := len(out)

	type key struct{ a, b int }
	seen := map[key]bool{}
	// Bounded: a draw may fail (same photo twice, a related pair), but with
	// two dogs or more most succeed.
	for tries := 0; len(out) < drawn+impostors; tries++ {
		if tries > 100*impostors+1000 {
			return nil, fmt.Errorf("verify: only %d distinct unrelated impostor pairs found of %d asked for", len(out)-drawn, impostors)
		}
		i := r.IntN(len(dogs))
		j := r.IntN(len(dogs) - 1)
		if j >= i {
			j++
		}
		a, b := byDog[dogs[i]], byDog[dogs[j]]
		p := Pair{A: a[r.IntN(len(a))], B: b[r.IntN(len(b))]}
		k := key{min(p.A, p.B), max(p.A, p.B)}
		if seen[k] || related(p.A, p.B) {
			continue
		}
		seen[k] = true
		out = append(out, p)
	}
	return out, nil
}

// Scores splits the scores of pairs, scored by score, into genuine and
// impostor pairs' scores.
func Scores(pairs []Pair, score func(a, b int) float64) (genuine, impostor []float64) {
	for _, p := range pairs {
		s := score(p.A, p.B)
		if p.Same {
			genuine = append(genuine, s)
		} else {
			impostor = append(impostor, s)
		}
	}
	return genuine, impostor
}

// photosByDog lists each dog's photos (indexes, ascending) and the dogs in
// the order they first appear.
func photosByDog(labels []int) (map[int][]int, []int) {
	byDog := map[int][]int{}
	var dogs []int
	for i, l := range labels {
		if _, ok := byDog[l]; !ok {
			dogs = append(dogs, l)
		}
		byDog[l] = append(byDog[l], i)
	}
	return byDog, dogs
}
