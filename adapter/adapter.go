// Package adapter is dogrun's metric-learned adapter: a small projection of a
// frozen backbone's features, trained with an ArcFace loss (additive angular
// margin) on dogs that are not in the experiment, then frozen and used as a
// backbone of its own, written "<base>+arcface" (e.g. mobilefacenet+arcface).
//
// Which dogs train it. DogFaceNet's authors trained their embedding on other
// dogs than they tested on; here the adapter trains on the dogs of the same
// folder that the experiment cannot use: those with fewer photos than its
// dataset.min_images_per_class (Pool). No experiment dog can therefore be
// among them, whatever dogs a seed draws, and the runner still checks every
// trial's dogs by folder name and photo sha256 (CheckDisjoint) and fails when
// one trained the adapter.
//
// Why this design. The base features stay cached; the adapter is a few
// matmuls on top, trained once per (base backbone, cut, recipe, pool photos)
// and stored as a versioned artifact in the cache, so every trial and every
// experiment of that folder reuses it. A tenth of the pool's dogs is held out
// and the epoch whose embedding best tells those unseen dogs apart
// (leave-one-out nearest neighbour) is kept: that is the adapter's job on the
// experiment's dogs.
package adapter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/train"
)

// Suffix turns a backbone name into its adapter's: mobilefacenet+arcface.
const Suffix = "+arcface"

// Base splits an adapter backbone name into its base backbone; ok is false for
// a plain backbone name, returned unchanged.
func Base(name string) (base string, ok bool) {
	return strings.CutSuffix(name, Suffix)
}

// Recipe is how an adapter is trained. It is fixed in code and versioned:
// changing any field changes every adapter's key, so nothing trained under
// another recipe is reused.
type Recipe struct {
	Version string
	Hidden  []int   // hidden ReLU layers of the projection
	Dim     int     // embedding size; the output is L2-normalised
	Scale   float64 // ArcFace s: logits are s·cos
	Margin  float64 // ArcFace m, radians, added to the true class's angle
	LR      float64 // Adam
	Batch   int
	Epochs  int
	// Patience is how many epochs without a better validation score end training.
	Patience int
	// Views augmented copies of each training dog's photos are added (the
	// validation dogs are judged on their photos as they are).
	Views   int
	Augment dataset.Augment
	ValDogs float64 // fraction of the pool's dogs held out for early stopping
	Seed    int64
}

// ArcFace is the recipe of "+arcface". Scale 30 rather than ArcFace's 64,
// which was set for 85,000 identities; with about 850 dogs smaller logits
// already saturate the softmax. Margin 0.3, as DogFaceNet's triplet margin,
// rather than 0.5: dogs with 2-7 photos give few positives to pull together.
// A linear projection (v2): with a 512-unit ReLU layer (v1) the held-out
// dogs' nearest-neighbour accuracy peaked at 0.712 by epoch 3 and fell as the
// training dogs were memorised; the linear map reached 0.742 at epoch 9
// (docs/adapter.md). Epochs are capped at 30 to bound the
// first run's time (15-40 s an epoch on 2 busy cores).
var ArcFace = Recipe{
	Version:  "arcface-v2",
	Dim:      256,
	Scale:    30,
	Margin:   0.3,
	LR:       0.001,
	Batch:    128,
	Epochs:   30,
	Patience: 6,
	Views:    2,
	// experiments/dropout.yaml's augmentation.
	Augment: dataset.Augment{RotationDeg: 15, Shift: 0.05, Zoom: [2]float64{0.9, 1.25}, Brightness: [2]float64{0.8, 1.2}, HFlip: true},
	ValDogs: 0.1,
	Seed:    1,
}

// Spec is a planned adapter: everything it is trained from, known before it
// is trained, so a trial's identity can include it.
type Spec struct {
	Recipe Recipe
	Base   backbone.Spec
	Cut    backbone.Cut
	Pool   *Pool
	// Key identifies the adapter: recipe, base weights and preprocessing, and
	// the pool's photos (content, not paths).
	Key string
}

// NewSpec plans the adapter of base at cut trained on pool.
func NewSpec(r Recipe, base backbone.Spec, cut backbone.Cut, pool *Pool) (*Spec, error) {
	recipe, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	fmt.Fprintf(h, "dogrun-adapter-v1\nrecipe %s\nbase %s %s\npool %s\n", recipe, base.SHA256(), base.PreprocessKey(cut), pool.Data.Fingerprint())
	return &Spec{Recipe: r, Base: base, Cut: cut, Pool: pool, Key: hex.EncodeToString(h.Sum(nil))}, nil
}

// Requests lists the base features training needs: every pool photo as it is,
// and Views augmented copies of the training dogs' photos.
func (s *Spec) Requests() []backbone.Request {
	key := s.Recipe.Augment.Key()
	val := s.Pool.valDogs(s.Recipe)
	var out []backbone.Request
	for _, ph := range s.Pool.Data.Photos {
		out = append(out, backbone.Request{Path: ph.Path, Key: backbone.ViewKey(ph.SHA256, key, 0)})
		if val[ph.Class] {
			continue
		}
		for v := 1; v <= s.Recipe.Views; v++ {
			out = append(out, backbone.Request{Path: ph.Path, Key: backbone.ViewKey(ph.SHA256, key, v), Params: s.Recipe.Augment.Params(ph.SHA256, v)})
		}
	}
	return out
}

// Layer is one dense layer: W row-major [in][out], then B.
type Layer struct {
	In, Out int
	W, B    []float32
}

// Adapter is a trained adapter, as stored in the cache.
type Adapter struct {
	Key        string
	Base       string // backbone name and cut, for people reading the artifact
	BaseSHA256 string
	Recipe     Recipe
	Layers     []Layer // ReLU after all but the last; the output is L2-normalised
	// The pool: every dog and photo that shaped the adapter, validation dogs
	// included (they chose its epoch).
	TrainDogs, ValDogs []string
	PhotoSHA256        []string
	BelowPhotos        int // the pool's dogs have fewer photos than this
	BestEpoch, Epochs  int
	// Leave-one-out nearest-neighbour accuracy among the validation dogs'
	// photos: on the base features and on the adapter's embedding.
	ValNNBase, ValNN float64
}

// Dim is the size of the adapter's embedding.
func (a *Adapter) Dim() int { return a.Layers[len(a.Layers)-1].Out }

// Project maps rows of base features (dim floats each) to the adapter's
// L2-normalised embeddings, exactly as the trained graph does.
func (a *Adapter) Project(x []float32, dim int) []float32 {
	if dim != a.Layers[0].In {
		panic(fmt.Sprintf("adapter: %d-d features for an adapter of %d-d input", dim, a.Layers[0].In))
	}
	rows := len(x) / dim
	out := make([]float32, 0, rows*a.Dim())
	h := make([]float32, 0, 1024)
	next := make([]float32, 0, 1024)
	for r := range rows {
		h = append(h[:0], x[r*dim:(r+1)*dim]...)
		train.UnitLength(h)
		for i, l := range a.Layers {
			next = next[:l.Out]
			copy(next, l.B)
			for k, v := range h {
				if v == 0 {
					continue
				}
				row := l.W[k*l.Out : (k+1)*l.Out]
				for j, w := range row {
					next[j] += v * w
				}
			}
			if i < len(a.Layers)-1 {
				for j, v := range next {
					next[j] = max(v, 0)
				}
			}
			h, next = next, h
		}
		train.UnitLength(h)
		out = append(out, h...)
	}
	return out
}
