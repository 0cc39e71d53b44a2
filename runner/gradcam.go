package runner

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dogrun/dogrun/gradcam"
	"github.com/dogrun/dogrun/results"
)

// NewExplainer loads trial t's backbone and checkpoint for Grad-CAM, as
// NewPredictor loads them for predict.
func NewExplainer(ctx context.Context, st *results.Store, exp results.Experiment, t results.Trial, cacheDir string, threads int) (*gradcam.Explainer, error) {
	p, err := NewPredictor(ctx, st, exp, t, cacheDir, threads)
	if err != nil {
		return nil, err
	}
	spec, cut, head := p.Model()
	return gradcam.Open(ctx, cacheDir, spec, cut, head, p.Classes, threads)
}

// TestCAM is the explanation of one test photo of a trial.
type TestCAM struct {
	Prediction results.Prediction
	Tile       gradcam.Tile
	Key        gradcam.TileKey // where tiles keeps it
}

// ExplainTests explains up to n test photos of trial t (of experiment exp,
// whose photos are under datasetDir): one per dog first, half right and
// half wrong where there are enough. Tiles whose inputs did not change are
// reused from tiles, others drawn and stored there; drawn says how many were
// drawn. The backbone runs on threads threads (0: one per CPU).
func ExplainTests(ctx context.Context, st *results.Store, exp results.Experiment, t results.Trial, datasetDir, cacheDir string,
	tiles gradcam.TileStore, n, threads int) (cams []TestCAM, drawn int, err error) {
	if datasetDir == "" {
		return nil, 0, errors.New("the experiment file no longer names the photos")
	}
	all, err := st.Predictions(ctx, t.ID)
	if err != nil {
		return nil, 0, err
	}
	var e *gradcam.Explainer // opened for the first tile not stored
	defer func() {
		if e != nil {
			e.Close()
		}
	}()
	for _, p := range chooseTestPhotos(all, n) {
		path := filepath.Join(datasetDir, filepath.FromSlash(p.Photo))
		raw, err := os.ReadFile(path)
		if err != nil {
			return cams, drawn, err
		}
		key := gradcam.TileKey{Trial: t.Hash, Backbone: t.BackboneSHA256, Photo: fmt.Sprintf("%x", sha256.Sum256(raw)), Class: p.Pred}
		if f := t.FinishedAt; f != nil {
			key.Finished = f.UTC().Format(time.RFC3339Nano)
		}
		tile, ok := tiles.Get(key)
		if !ok || tile.Class != p.Pred { // a tile that does not read back as written is drawn again

			if e == nil {
				if e, err = NewExplainer(ctx, st, exp, t, cacheDir, threads); err != nil {
					return cams, drawn, err
				}
			}
			if tile, err = e.DrawTile(path, p.Photo, t.Hash, p.Pred); err != nil {
				return cams, drawn, err
			}
			if err := tiles.Put(key, tile); err != nil {
				return cams, drawn, err
			}
			drawn++
		}
		cams = append(cams, TestCAM{Prediction: p, Tile: tile, Key: key})
	}
	return cams, drawn, nil
}

// chooseTestPhotos picks n of a trial's test predictions to explain: one per
// dog first, so that several dogs are shown, and half right and half wrong
// where there are enough. A leaky trial also tests augmented copies, which
// are not files: they are never chosen.
func chooseTestPhotos(all []results.Prediction, n int) []results.Prediction {
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
