package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/convert/keras"
	"github.com/dogrun/dogrun/convert/keras/kerastest"
	"github.com/dogrun/dogrun/convert/onnx"
	"github.com/dogrun/dogrun/internal/needs"
)

// writeWeights writes random keras-vggface weights of architecture a (width
// divided by div; 1 is the real network) as a Keras .h5 in dir.
func writeWeights(t *testing.T, dir string, a keras.Arch, div int, top bool) string {
	t.Helper()
	p, err := kerastest.Generate(a, div, top, 7)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, keras.WeightsFile(a, top))
	if err := kerastest.WriteH5(path, p, kerastest.Layout{}); err != nil {
		t.Fatal(err)
	}
	return path
}

// synthPhotos writes dir/photos: three dogs of 12 photos, as many as
// writeYAML's experiments need, which validate counts.
func synthPhotos(t *testing.T, dir string) string {
	t.Helper()
	root := filepath.Join(dir, "photos")
	for c, dog := range []string{"ace", "bo", "cy"} {
		for i := range 12 {
			writeFile(t, filepath.Join(root, dog, fmt.Sprintf("%d.jpg", i)), jpegOf(t, photo(uint64(100*c+i), c), 90))
		}
	}
	return root
}

func writeYAML(t *testing.T, dir, data, backbone string) string {
	t.Helper()
	path := filepath.Join(dir, "byo.yaml")
	yaml := "name: byo\ndataset: {path: " + data + ", min_images_per_class: 12, max_classes: 3, seed: 2, test: 0.3, val: 0.2}\n" +
		"backbone: " + backbone + "\nhead: {hidden: [16]}\ntrain: {lr: 0.003, batch_size: 16, epochs: 4}\nseeds: [1]\n"
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBringYourOwnH5 validates experiments that point vggface-resnet50 at a
// user's .h5 (missing, of another architecture, without the top), then runs
// one on real photos and checks that the file's content, not its path, is
// the backbone's identity.
func TestBringYourOwnH5(t *testing.T) {
	kerastest.Need(t)
	if testing.Short() {
		t.Skip("writes a full-size ResNet50")
	}
	dir := t.TempDir()
	resnet := writeWeights(t, dir, keras.ResNet50, 1, false)
	vgg := writeWeights(t, dir, keras.VGG16, 16, false)
	data := synthPhotos(t, dir)
	for _, tc := range []struct{ backbone, want string }{
		{"{name: vggface-resnet50}",
			"byo.yaml:3:1: backbone.file: is required: vggface-resnet50 is bring-your-own: set backbone.file to your keras-vggface .h5 (rcmalli_vggface_tf_notop_resnet50.h5;"},
		{"{name: vggface-resnet50, file: missing.h5}",
			"byo.yaml:3:42: backbone.file: " + filepath.Join(dir, "missing.h5") + " does not exist"},
		{"{name: vggface-resnet50, file: " + filepath.Base(vgg) + "}",
			`is not a keras-vggface resnet50 weights file (rcmalli_vggface_tf_notop_resnet50.h5 or rcmalli_vggface_tf_resnet50.h5): no layer "conv1/7x7_s2"`},
		{"{name: vggface-senet50, file: " + filepath.Base(resnet) + "}",
			`is not a keras-vggface senet50 weights file (rcmalli_vggface_tf_notop_senet50.h5 or rcmalli_vggface_tf_senet50.h5): no layer "conv2_1_1x1_down"`},
		{"{name: vggface-resnet50, file: " + filepath.Base(resnet) + ", cut: classifier}",
			"byo.yaml:3:85: backbone.cut: cut classifier needs layers that rcmalli_vggface_tf_notop_resnet50.h5 lacks"},
		{"{name: mobilefacenet, file: " + filepath.Base(resnet) + "}",
			"backbone.file: mobilefacenet comes from the npm package faceplugin-face-recognition-js"},
	} {
		_, _, err := dogrun(t, "validate", writeYAML(t, dir, data, tc.backbone))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("backbone %s:\n got %v\nwant it to contain %q", tc.backbone, err, tc.want)
		}
	}
	exp := writeYAML(t, dir, data, "{name: vggface-resnet50, file: "+filepath.Base(resnet)+"}")
	out, _, err := dogrun(t, "validate", exp)
	if err != nil || !strings.Contains(out, "1 variant x 1 seed = 1 trial") {
		t.Fatalf("validate: %v\n%s", err, out)
	}

	photos := needs.Photos(t)
	runs := t.TempDir()
	exp = writeYAML(t, dir, photos, "{name: vggface-resnet50, file: "+filepath.Base(resnet)+"}")
	out, _, err = dogrun(t, "run", exp, "-runs", runs)
	if err != nil || !strings.Contains(out, "done: 1 trained, 0 failed") {
		t.Fatalf("run: %v\n%s", err, out)
	}
	// The same weights elsewhere are the same backbone: nothing to redo.
	moved := filepath.Join(dir, "elsewhere.h5")
	if err := os.Rename(resnet, moved); err != nil {
		t.Fatal(err)
	}
	exp = writeYAML(t, dir, photos, "{name: vggface-resnet50, file: elsewhere.h5}")
	out, _, err = dogrun(t, "run", exp, "-runs", runs)
	if err != nil || !strings.Contains(out, "done: 0 trained, 0 failed, 1 already done, 0 features computed") {
		t.Fatalf("rerun with the file moved: %v\n%s", err, out)
	}
}

// TestBringYourOwnONNX validates experiments that feed a model of one's own
// through the "onnx" backbone.
func TestBringYourOwnONNX(t *testing.T) {
	dir := t.TempDir()
	m := onnx.Model{Producer: "dogrun-test", Graph: onnx.Graph{
		Name:    "means",
		Inputs:  []onnx.Value{{Name: "img", Shape: []int64{-1, 3, 32, 32}}},
		Outputs: []onnx.Value{{Name: "feat", Shape: []int64{-1, 3}}, {Name: "map", Shape: []int64{-1, 3, 1, 1}}},
		Nodes: []onnx.Node{
			{Op: "GlobalAveragePool", Name: "gap", Inputs: []string{"img"}, Outputs: []string{"map"}},
			{Op: "Flatten", Name: "flat", Inputs: []string{"map"}, Outputs: []string{"feat"}},
		},
	}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "means.onnx"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	data := synthPhotos(t, dir)
	for _, tc := range []struct{ backbone, want string }{
		{"{name: onnx}", "byo.yaml:3:1: backbone.file: is required: onnx is bring-your-own: set backbone.file to your .onnx"},
		{"{name: onnx, file: means.onnx}", "byo.yaml:3:1: backbone.output: is required: the model has 2 outputs (feat [?, 3], map [?, 3, 1, 1])"},
		{"{name: onnx, file: means.onnx, output: feat, input_size: 31}", "byo.yaml:3:68: backbone.input_size: 31 does not fit input img, [?, 3, 32, 32]"},
		{"{name: mobilefacenet, input_size: 112}", "byo.yaml:3:45: backbone.input_size: is only for name: onnx (your own .onnx)"},
	} {
		_, _, err := dogrun(t, "validate", writeYAML(t, dir, data, tc.backbone))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("backbone %s:\n got %v\nwant it to contain %q", tc.backbone, err, tc.want)
		}
	}
	// input_size may be left out: the model's input is 32x32.
	exp := writeYAML(t, dir, data, "{name: onnx, file: means.onnx, output: feat, channels: BGR, mean: [1, 2, 3], scale: [0.5, 0.5, 0.5]}")
	if out, _, err := dogrun(t, "validate", exp); err != nil || !strings.Contains(out, "= 1 trial\n") {
		t.Fatalf("validate: %v\n%s", err, out)
	}
}
