package verify

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// OneShot splits photos (one dog label each) into a gallery of one photo per
// dog, drawn with seed, and queries: every other photo of a dog with at least
// two, except those related to their dog's gallery photo (a near-duplicate
// of the gallery photo would be found by its pixels, not its dog). Gallery
// and queries are photo indexes in ascending order.
func OneShot(labels []int, seed uint64, related Related) (gallery, queries []int) {
	byDog, dogs := photosByDog(labels)
	slices.Sort(dogs)
	r := rand.New(rand.NewPCG(seed, 0x6f6e6573686f74)) // "oneshot"
	for _, d := range dogs {
		ph := byDog[d]
		g := ph[r.IntN(len(ph))]
		gallery = append(gallery, g)
		for _, q := range ph {
			if q != g && (related == nil || !related(q, g)) {
				queries = append(queries, q)
			}
		}
	}
	slices.Sort(gallery)
	slices.Sort(queries)
	return gallery, queries
}

// CMC is the cumulative match characteristic of an identification: out[k-1]
// is the share of queries whose own dog's gallery entry is among the k most
// similar, k = 1..maxRank. sim[q][g] is query q's similarity to gallery entry
// g and truth[q] the entry of q's dog. A tie with another dog counts against
// the query (its rank is 1 + the entries scoring at least as high), so a
// constant score is not rank 1.
func CMC(sim [][]float64, truth []int, maxRank int) ([]float64, error) {
	if len(sim) == 0 {
		return nil, fmt.Errorf("verify: no queries")
	}
	if len(truth) != len(sim) || maxRank < 1 {
		return nil, fmt.Errorf("verify: %d queries, %d true entries, max rank %d", len(sim), len(truth), maxRank)
	}
	hits := make([]int, maxRank)
	for q, row := range sim {
		t := truth[q]
		if t < 0 || t >= len(row) {
			return nil, fmt.Errorf("verify: query %d's gallery entry %d is not among %d", q, t, len(row))
		}
		rank := 1
		for g, s := range row {
			if g != t && s >= row[t] {
				rank++
			}
		}
		if rank <= maxRank {
			hits[rank-1]++
		}
	}
	out := make([]float64, maxRank)
	sum := 0
	for k, h := range hits {
		sum += h
		out[k] = float64(sum) / float64(len(sim))
	}
	return out, nil
}
