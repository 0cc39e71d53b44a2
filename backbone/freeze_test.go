package backbone

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/train"
)

func freezeSpec(t *testing.T) (string, Spec, Cut) {
	t.Helper()
	dir, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := Lookup("mobilenetv2-imagenet")
	if err != nil {
		t.Fatal(err)
	}
	cut, err := spec.Cut("")
	if err != nil {
		t.Fatal(err)
	}
	return dir, spec, cut
}

// TestFreezeDepths checks the seed's nb_freeze counting over MobileNetV2's
// Keras layers (157 up to flatten_1, the avg_pool cut) and the errors.
func TestFreezeDepths(t *testing.T) {
	dir, spec, cut := freezeSpec(t)
	ctx := context.Background()
	f, err := spec.Freeze(ctx, dir, cut, -5)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Conv_1", "Conv_1_bn", "out_relu", "average_pooling2d_1", "flatten_1"}
	if !slices.Equal(f.Trainable, want) || f.Cut.Name != "block_16_project_BN" || f.Cut.Dim != 7*7*320 {
		t.Fatalf("freeze -5: trainable %v at cut %s (%d-d), want %v at block_16_project_BN (15680-d)", f.Trainable, f.Cut.Name, f.Cut.Dim, want)
	}
	if n, err := f.Trunk.OutputLen(); err != nil || n != cut.Dim {
		t.Fatalf("trunk output %d (%v), want the cut's %d", n, err, cut.Dim)
	}
	// +152 freezes the first 152 layers: the same split as -5.
	g, err := spec.Freeze(ctx, dir, cut, 152)
	if err != nil || !slices.Equal(g.Trainable, want) {
		t.Fatalf("freeze 152: %v, %v; want %v", g, err, want)
	}
	// Caches and converted models never mix: each cut is its own backbone identity.
	h, err := spec.Freeze(ctx, dir, cut, -7)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{spec.SHA256(), f.Prefix.SHA256(), h.Prefix.SHA256()}
	if ids[0] == ids[1] || ids[1] == ids[2] || ids[0] == ids[2] {
		t.Errorf("identities of the whole backbone, -5 and -7 prefixes are not distinct: %v", ids)
	}
	for _, depth := range []int{157, 400} {
		if f, err := spec.Freeze(ctx, dir, cut, depth); f != nil || err != nil {
			t.Errorf("freeze %d: %v, %v; want nil (every layer frozen)", depth, f, err)
		}
	}
	for depth, msg := range map[int]string{
		-10: "layer block_16_depthwise (DepthwiseConv2D) cannot train in GoMLX",
		0:   "the input layer input_1 would train",
		-14: "read 2 frozen layers (block_14_add, block_15_project_BN); only one can be the cached cut",
	} {
		_, err := spec.Freeze(ctx, dir, cut, depth)
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "depths that train here: all, -1, -2, -3, -4, -5, -6, -7, -8, -9") {
			t.Errorf("freeze %d: error %v, want %q and the depths that work", depth, err, msg)
		}
	}
	other, err := Lookup("mobilefacenet")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Freeze(ctx, dir, other.Cuts[0], -2); err == nil || !strings.Contains(err.Error(), "not a Keras model") {
		t.Errorf("freeze on an ONNX backbone: %v, want not a Keras model", err)
	}
}

// TestFreezeTrunkMatchesONNXRuntime runs real photos through the frozen
// prefix on ONNX Runtime and the trunk in GoMLX, and compares the result with
// ONNX Runtime's run of the whole backbone to the same cut.
func TestFreezeTrunkMatchesONNXRuntime(t *testing.T) {
	photos := needs.Photos(t)
	dir, spec, cut := freezeSpec(t)
	ctx := context.Background()
	for _, depth := range []int{-5, -8} {
		f, err := spec.Freeze(ctx, dir, cut, depth)
		if err != nil {
			t.Fatal(err)
		}
		whole, err := Open(ctx, dir, spec, cut.Name, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer whole.Close()
		prefix, err := Open(ctx, dir, f.Prefix, f.Cut.Name, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer prefix.Close()
		var input []float32
		paths := []string{"0/0.0.jpg", "1/1.1.jpg", "100/100.0.jpg"}
		for _, p := range paths {
			img, err := dataset.Decode(filepath.Join(photos, p))
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]float32, whole.InputLen())
			whole.Fill(buf, dataset.Render(img, dataset.ViewParams{}, spec.InputSize))
			input = append(input, buf...)
		}
		want, err := whole.Forward(input, len(paths))
		if err != nil {
			t.Fatal(err)
		}
		cached, err := prefix.Forward(input, len(paths))
		if err != nil {
			t.Fatal(err)
		}
		got, err := train.TrunkForward(f.Trunk, cached, len(paths))
		if err != nil {
			t.Fatal(err)
		}
		var scale, diff float64
		for i := range want {
			scale = math.Max(scale, math.Abs(float64(want[i])))
			diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
		}
		if len(got) != len(want) || scale == 0 || diff > 1e-4*scale {
			t.Fatalf("freeze %d: GoMLX trunk differs from ONNX Runtime by %g (largest magnitude %g, %d vs %d values)", depth, diff, scale, len(got), len(want))
		}
		t.Logf("freeze %d: largest difference %.2g of largest magnitude %.3g", depth, diff, scale)
	}
}
