package runner

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/gradcam"
	"github.com/dogrun/dogrun/results"
)

// Explainer opens Grad-CAM on the predictor's trial: its backbone, cut and
// head, as Predict runs them. The caller closes it.
func (p *Predictor) Explainer(ctx context.Context) (*gradcam.Explainer, error) {
	return gradcam.Open(ctx, p.cacheDir, p.spec, p.cut, p.head, p.Classes, p.threads)
}

// TestCAM is the Grad-CAM tile of one of a trial's test photos.
type TestCAM struct {
	Prediction results.Prediction
	Key        gradcam.TileKey
	Tile       gradcam.Tile
	Drawn      bool // drawn now, not found in the store
}

// ExplainTests shows where done trial t of exp looks in n of its test
// photos, read from datasetDir: half it got right and half wrong where
// there are enough, one photo per dog first, so that the tiles show several
// dogs. Tiles found in store are reused; those drawn are put there. The
// backbone opens only for the first tile not stored.
func ExplainTests(ctx context.Context, st *results.Store, exp results.Experiment, t results.Trial,
	datasetDir string, store gradcam.TileStore, n int, cacheDir string, threads int) ([]TestCAM, error) {
	if datasetDir == "" {
		return nil, fmt.Errorf("the experiment file no longer names the photos")
	}
	classes, err := st.ClassNames(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	all, err := st.Predictions(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	var e *gradcam.Explainer // opened for the first tile not stored
	defer func() {
		if e != nil {
			e.Close()
		}
	}()
	var out []TestCAM
	for _, p := range chooseTests(all, n) {
		path := filepath.Join(datasetDir, filepath.FromSlash(p.Photo))
		raw, err := os.ReadFile(path)
		if err != nil {
			return out, err
		}
		key := gradcam.TileKey{Trial: t.Hash, Backbone: t.BackboneSHA256, Photo: fmt.Sprintf("%x", sha256.Sum256(raw)), Class: p.Pred}
		if f := t.FinishedAt; f != nil {
			key.Finished = f.UTC().Format(time.RFC3339Nano)
		}
		c := TestCAM{Prediction: p, Key: key}
		var ok bool
		if c.Tile, ok = store.Get(key); !ok || c.Tile.Pred < 0 || c.Tile.Pred >= len(classes) {
			if e == nil {
				if e, err = OpenExplainer(ctx, st, exp, t, cacheDir, threads); err != nil {
					return out, err
				}
			}
			img, err := dataset.DecodeBytes(path, raw)
			if err != nil {
				return out, err
			}
			if c.Tile, _, err = e.Draw(img, p.Pred, p.Photo, t.Hash); err != nil {
				return out, err
			}
			if err := store.Put(key, c.Tile); err != nil {
				return out, err
			}
			c.Drawn = true
		}
		out = append(out, c)
	}
	return out, nil
}

// OpenExplainer loads done trial t of exp for Grad-CAM, as NewPredictor
// loads it for Predict. The caller closes it.
func OpenExplainer(ctx context.Context, st *results.Store, exp results.Experiment, t results.Trial, cacheDir string, threads int) (*gradcam.Explainer, error) {
	p, err := NewPredictor(ctx, st, exp, t, cacheDir, threads)
	if err != nil {
		return nil, err
	}
	return p.Explainer(ctx)
}

// chooseTests picks n test photos to explain: half right and half wrong
// where there are enough, one per dog first. A leaky trial's augmented
// copies are not files, so they are left out.
func chooseTests(all []results.Prediction, n int) []results.Prediction {
	var preds []results.Prediction
	for _, p := range all {
		if !IsCopy(p.Photo) {
			preds = append(preds, p)
		}
	}
	pick := func(right bool) []results.Prediction {
		var first, more []results.Prediction
		seen := map[int]bool{}
		for _, p := range preds {
			switch {
			case (p.True == p.Pred) != right:
			case seen[p.True]:
				more = append(more, p)
			default:
				first = append(first, p)
				seen[p.True] = true
			}
		}
		return append(first, more...)
	}
	right, wrong := pick(true), pick(false)
	nWrong := min(len(wrong), max(n/2, n-len(right)))
	return append(right[:min(len(right), n-nWrong)], wrong[:nWrong]...)
}
