package main

import (
	"context"
	"fmt"
	"io"

	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/dedupe"
	"github.com/dogrun/dogrun/train"
	"github.com/dogrun/dogrun/verify"
	"github.com/dogrun/dogrun/whiten"
)

// backbones are the two the accuracy benchmark concatenates.
var backbones = []string{"mobilefacenet", "vggface2-mobilenet"}

// corpus is every photo of the folder's dogs with two or more, each with its
// backbones' features and its near-duplicate group.
type corpus struct {
	data  *dataset.Dataset
	index map[string]int         // photo Rel -> index in data.Photos
	feats map[string][][]float32 // backbone -> each photo's vector
	group []int                  // near-duplicate group (phash, within a dog)
	cross map[[2]int]bool        // the same photo filed under two dogs, lower index first
}

func loadCorpus(ctx context.Context, root, cacheDir string, threads int, log io.Writer) (*corpus, error) {
	d, err := dataset.Load(root, dataset.LoadOptions{MinImagesPerClass: 2})
	if err != nil {
		return nil, err
	}
	c := &corpus{data: d, index: map[string]int{}, feats: map[string][][]float32{}, cross: map[[2]int]bool{}}
	for i, ph := range d.Photos {
		c.index[ph.Rel] = i
	}
	for _, name := range backbones {
		if c.feats[name], err = features(ctx, cacheDir, name, d.Photos, threads, log); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(log, "near-duplicates of %d photos (phash, threshold %d)...\n", len(d.Photos), dedupe.PHashThreshold)
	res, err := dedupe.Find(d, dedupe.Options{Method: dedupe.MethodPHash})
	if err != nil {
		return nil, err
	}
	c.group = res.Group
	for _, m := range res.CrossClass {
		c.cross[[2]int{min(m.A, m.B), max(m.A, m.B)}] = true
	}
	fmt.Fprintf(log, "%d photos of %d dogs: %d near-duplicate groups of 2 or more, %d photos filed under two dogs\n",
		len(d.Photos), len(d.Classes), len(res.Multi()), len(res.CrossClass))
	return c, nil
}

// related marks photos never paired: near-duplicates of one dog, or one
// photo filed under two.
func (c *corpus) related(a, b int) bool {
	return c.group[a] == c.group[b] || c.cross[[2]int{min(a, b), max(a, b)}]
}

// relatedIn is related for photos given by their position in idx.
func (c *corpus) relatedIn(idx []int) verify.Related {
	return func(a, b int) bool { return c.related(idx[a], idx[b]) }
}

// indexes are the corpus positions of photos loaded elsewhere (an
// experiment's plan, the adapter's pool), found by their path in the folder.
func (c *corpus) indexes(photos []dataset.Photo) ([]int, error) {
	out := make([]int, len(photos))
	for i, ph := range photos {
		k, ok := c.index[ph.Rel]
		if !ok {
			return nil, fmt.Errorf("%s is not among the folder's photos", ph.Rel)
		}
		if c.data.Photos[k].SHA256 != ph.SHA256 {
			return nil, fmt.Errorf("%s changed while measuring (sha256 %s, was %s)", ph.Rel, ph.SHA256[:12], c.data.Photos[k].SHA256[:12])
		}
		out[i] = k
	}
	return out, nil
}

func (c *corpus) labels(idx []int) []int {
	out := make([]int, len(idx))
	for i, k := range idx {
		out[i] = c.data.Photos[k].Class
	}
	return out
}

// config is a feature configuration: backbones concatenated, each vector at
// unit length first, then optionally PCA-whitened to Whiten axes fitted on
// other dogs' photos.
type config struct {
	Name      string
	Backbones []string
	Whiten    int
}

// concatenated is the rows of idx under cfg before whitening: each
// backbone's vector at unit length, side by side.
func (c *corpus) concatenated(cfg config, idx []int) ([]float32, int) {
	dim := 0
	for _, b := range cfg.Backbones {
		dim += len(c.feats[b][0])
	}
	out := make([]float32, 0, len(idx)*dim)
	for _, k := range idx {
		for _, b := range cfg.Backbones {
			start := len(out)
			out = append(out, c.feats[b][k]...)
			train.UnitLength(out[start:])
		}
	}
	return out, dim
}

// whitenings fits, once for the largest Whiten among configs, the PCA of
// the fit photos' concatenated rows; each config takes its first axes.
func (c *corpus) whitenings(configs []config, fit []int) (map[string]*whiten.PCA, error) {
	keep, cfg := 0, config{}
	for _, k := range configs {
		if k.Whiten > keep {
			keep, cfg = k.Whiten, k
		}
	}
	out := map[string]*whiten.PCA{}
	if keep == 0 {
		return out, nil
	}
	x, dim := c.concatenated(cfg, fit)
	full, err := whiten.FitPCA(x, dim, keep)
	if err != nil {
		return nil, err
	}
	for _, k := range configs {
		if k.Whiten == 0 {
			continue
		}
		if fmt.Sprint(k.Backbones) != fmt.Sprint(cfg.Backbones) {
			return nil, fmt.Errorf("whitened configurations must share backbones: %v and %v", k.Backbones, cfg.Backbones)
		}
		if out[k.Name], err = full.First(k.Whiten); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// embed is the rows of idx under cfg, whitened by pca when not nil, each at
// unit length so that a dot product is a cosine.
func (c *corpus) embed(cfg config, pca *whiten.PCA, idx []int) ([][]float32, error) {
	x, dim := c.concatenated(cfg, idx)
	if pca != nil {
		var err error
		if x, err = pca.Apply(x); err != nil {
			return nil, err
		}
		dim = pca.Keep()
	}
	rows := make([][]float32, len(idx))
	for i := range rows {
		rows[i] = x[i*dim : (i+1)*dim]
		train.UnitLength(rows[i])
	}
	return rows, nil
}
