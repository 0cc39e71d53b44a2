package gradcam

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/train"
)

// TestRealBackbones explains a DogFaceNet photo through every fetched
// backbone and cut: each must find its last feature map, and the GoMLX
// replay of the layers after it must give ONNX Runtime's features (Explain
// fails otherwise).
func TestRealBackbones(t *testing.T) {
	if testing.Short() {
		t.Skip("opens every backbone")
	}
	photos, err := filepath.Glob(filepath.Join(needs.Photos(t), "*", "*.jpg"))
	if err == nil && len(photos) == 0 {
		err = errors.New("no .jpg in the shared photos' dog folders")
	}
	if err != nil {
		t.Fatal(err)
	}
	img, err := dataset.Decode(photos[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		backbone, cut, featureMap string
		side                      int
	}{
		{"mobilefacenet", "embedding", "507", 7},
		{"vggface2-mobilenet", "global_pooling", "conv_pw_13_relu/clip_by_value", 7},
		{"mobilenetv2-imagenet", "avg_pool", "out_relu", 7},
		{"mobilenetv2-imagenet", "dense_1", "out_relu", 7}, // the backbone's own top
		{"inceptionv3", "avg_pool", "mixed10", 8},
		{"dlib-resnet34", "descriptor", "conv256_down_out/out", 2}, // 150 px in, stride 64
	} {
		t.Run(tc.backbone+"/"+tc.cut, func(t *testing.T) {
			spec, err := backbone.Lookup(tc.backbone)
			if err != nil {
				t.Fatal(err)
			}
			cut, err := spec.Cut(tc.cut)
			if err != nil {
				t.Fatal(err)
			}
			d := train.Data{X: make([]float32, 2*cut.Dim), Y: []int32{0, 1}, Dim: cut.Dim}
			d.X[0] = 1
			h := fit(t, train.Config{Hidden: []int{8}, LR: 0.01, BatchSize: 2, Epochs: 1, Seed: 1}, d, 2)
			e := open(t, spec, cut, h, "a", "b")
			if e.Map != tc.featureMap {
				t.Errorf("feature map %q, want %q", e.Map, tc.featureMap)
			}
			// Grad-CAM's own map: whether it is empty for this random head
			// (and Explain would fall back to occlusion) is beside the point.
			r, _, err := e.gradCAM(img, 0)
			if err != nil {
				t.Fatal(err)
			}
			if r.W != tc.side || r.H != tc.side {
				t.Errorf("heatmap %dx%d, want %dx%d", r.W, r.H, tc.side, tc.side)
			}
		})
	}
}
