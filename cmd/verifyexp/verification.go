package main

import (
	"fmt"
	"io"

	"github.com/dogrun/dogrun/adapter"
	"github.com/dogrun/dogrun/openset"
	"github.com/dogrun/dogrun/verify"
	"github.com/dogrun/dogrun/whiten"
)

// verifyConfigs are the feature configurations measured: each backbone,
// their concatenation (the benchmark's best lever), and the concatenation
// PCA-whitened on the dogs with fewer photos.
var verifyConfigs = []config{
	{"mobilefacenet", backbones[:1], 0},
	{"vggface2-mobilenet", backbones[1:], 0},
	{"concatenation", backbones, 0},
	{"concatenation, PCA-whitened to 128", backbones, 128},
	{"concatenation, PCA-whitened to 256", backbones, 256},
	{"concatenation, PCA-whitened to 512", backbones, 512},
}

// verifySettings are the protocol's sizes.
type verifySettings struct {
	MinPhotos int // dogs measured and thresholded have at least this many photos
	Dogs      int // dogs measured per draw, as many again choose the threshold
	Pairs     int // genuine pairs asked for per draw (as many impostors)
}

// verifyResult is one configuration's measurement on one draw.
type verifyResult struct {
	Accuracy     float64 // at the threshold chosen on the threshold dogs
	AccuracySelf float64 // at the best threshold for these very pairs (the paper's figure)
	AUC          float64
	TAR          []verify.TAR // at tarFARs
	CMC          []float64    // ranks 1..5
	ROC          []verify.Point
	Genuine      int
	Impostor     int
	Queries      int
}

var tarFARs = []float64{0.01, 0.001}

// measureVerification runs both protocols of one draw: the evaluation dogs'
// pairs judged at the threshold chosen on the threshold dogs' pairs, and
// one-shot identification among the evaluation dogs.
func measureVerification(c *corpus, cfg config, pca *whiten.PCA, eval, thr []int, s verifySettings, seed int64) (verifyResult, error) {
	var out verifyResult
	scores := func(idx []int, salt uint64) ([]float64, []float64, [][]float32, error) {
		rows, err := c.embed(cfg, pca, idx)
		if err != nil {
			return nil, nil, nil, err
		}
		pairs, err := verify.SamplePairs(c.labels(idx), s.Pairs, s.Pairs, uint64(seed)*1000+salt, c.relatedIn(idx))
		if err != nil {
			return nil, nil, nil, err
		}
		g, i := verify.Scores(pairs, func(a, b int) float64 { return openset.Dot(rows[a], rows[b]) })
		return g, i, rows, nil
	}
	gT, iT, _, err := scores(thr, 1)
	if err != nil {
		return out, err
	}
	threshold, _, err := verify.BestThreshold(gT, iT)
	if err != nil {
		return out, err
	}
	g, i, rows, err := scores(eval, 0)
	if err != nil {
		return out, err
	}
	out.Genuine, out.Impostor = len(g), len(i)
	out.Accuracy = verify.Accuracy(g, i, threshold)
	if _, out.AccuracySelf, err = verify.BestThreshold(g, i); err != nil {
		return out, err
	}
	if out.AUC, err = verify.AUC(g, i); err != nil {
		return out, err
	}
	if out.ROC, err = verify.ROC(g, i); err != nil {
		return out, err
	}
	for _, far := range tarFARs {
		t, err := verify.TARAtFAR(g, i, far)
		if err != nil {
			return out, err
		}
		out.TAR = append(out.TAR, t)
	}

	labels := c.labels(eval)
	gallery, queries := verify.OneShot(labels, uint64(seed), c.relatedIn(eval))
	entry := map[int]int{} // dog -> its gallery entry
	for e, k := range gallery {
		entry[labels[k]] = e
	}
	sim := make([][]float64, len(queries))
	truth := make([]int, len(queries))
	for q, k := range queries {
		sim[q] = make([]float64, len(gallery))
		for e, gk := range gallery {
			sim[q][e] = openset.Dot(rows[k], rows[gk])
		}
		truth[q] = entry[labels[k]]
	}
	out.Queries = len(queries)
	out.CMC, err = verify.CMC(sim, truth, 5)
	return out, err
}

// verificationDraws measures every configuration on draws 1..n.
func verificationDraws(c *corpus, pool *adapter.Pool, s verifySettings, draws int, log io.Writer) (map[string][]verifyResult, error) {
	poolIdx, err := c.indexes(pool.Data.Photos)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "verification: PCA fitted on the %d photos of the %d dogs with 2 to %d photos\n", len(poolIdx), len(pool.Data.Classes), s.MinPhotos-1)
	pcas, err := c.whitenings(verifyConfigs, poolIdx)
	if err != nil {
		return nil, err
	}
	big, from := c.subset(func(_, photos int) bool { return photos >= s.MinPhotos })
	out := map[string][]verifyResult{}
	for seed := int64(1); seed <= int64(draws); seed++ {
		roles, err := drawDogs(big, from, seed, s.Dogs, s.Dogs)
		if err != nil {
			return nil, err
		}
		eval, thr := roles[0], roles[1]
		dropped := c.exclusive(&eval, &thr)
		if err := verify.CheckDisjoint(c.part("evaluation dogs", eval), c.part("threshold dogs", thr), c.part("whitening dogs", poolIdx)); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "draw %d: %d evaluation dogs (%d photos), %d threshold dogs (%d photos), disjoint from each other and from the whitening dogs by folder and sha256 (%d photos filed twice dropped)\n",
			seed, s.Dogs, len(eval), s.Dogs, len(thr), dropped)
		for _, cfg := range verifyConfigs {
			r, err := measureVerification(c, cfg, pcas[cfg.Name], eval, thr, s, seed)
			if err != nil {
				return nil, fmt.Errorf("draw %d, %s: %w", seed, cfg.Name, err)
			}
			out[cfg.Name] = append(out[cfg.Name], r)
		}
	}
	return out, nil
}
