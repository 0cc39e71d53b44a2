package faceapi_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/convert/faceapi"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/internal/workspace"
)

// nodeRuntime returns the node binary for the reference runtime. Without node
// or tools/parity/node_modules the test skips, except in CI, where it fails.
func nodeRuntime(t *testing.T) string {
	t.Helper()
	return needs.Node(t, "@vladmandic/face-api")
}

// dogPhotos returns, for the first dogs (in ID order) with at least perDog
// photos, their first perDog photos, or skips without the real data.
func dogPhotos(t *testing.T, dogs, perDog int) [][]string {
	t.Helper()
	root := needs.Photos(t)
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.SortFunc(names, dataset.CompareClassNames)
	var out [][]string
	for _, name := range names {
		files, err := filepath.Glob(filepath.Join(root, name, "*.jpg"))
		if err != nil || len(files) < perDog {
			continue
		}
		slices.Sort(files)
		out = append(out, files[:perDog])
		if len(out) == dogs {
			return out
		}
	}
	t.Fatalf("%s: fewer than %d dogs with %d photos", root, dogs, perDog)
	return nil
}

func openDlib(t *testing.T, cut string) (*backbone.Model, []string) {
	t.Helper()
	cache, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := backbone.Lookup("dlib-resnet34")
	if err != nil {
		t.Fatal(err)
	}
	files, err := backbone.Fetch(context.Background(), cache, spec.Source)
	if err != nil {
		t.Fatal(err)
	}
	m, err := backbone.Open(context.Background(), cache, spec, cut, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, files
}

func render(t *testing.T, path string) *image.RGBA {
	t.Helper()
	src, err := dataset.Decode(path)
	if err != nil {
		t.Fatal(err)
	}
	return dataset.Render(src, dataset.ViewParams{}, faceapi.InputSize)
}

// descriptors runs the images through dogrun's input contract (Model.Fill) and
// the converted graph on ONNX Runtime, in one batch.
func descriptors(t *testing.T, m *backbone.Model, imgs []*image.RGBA) [][]float32 {
	t.Helper()
	in := make([]float32, len(imgs)*m.InputLen())
	for i, img := range imgs {
		m.Fill(in[i*m.InputLen():(i+1)*m.InputLen()], img)
	}
	out, err := m.Forward(in, len(imgs))
	if err != nil {
		t.Fatal(err)
	}
	d := make([][]float32, len(imgs))
	for i := range d {
		d[i] = out[i*m.Cut.Dim : (i+1)*m.Cut.Dim]
	}
	return d
}

func distance(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// TestDescriptorMatchesFaceAPI feeds the same 150x150 RGB pixels to face-api's
// computeFaceDescriptor (TF.js CPU backend, in Node, weights loaded by face-api
// from the same checksummed files) and to the converted ONNX graph after
// dogrun's own preprocessing, and compares the 128-d descriptors.
func TestDescriptorMatchesFaceAPI(t *testing.T) {
	node := nodeRuntime(t)
	m, files := openDlib(t, "descriptor")

	noise := image.NewRGBA(image.Rect(0, 0, faceapi.InputSize, faceapi.InputSize))
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(rng.IntN(256))
		if i%4 == 3 {
			noise.Pix[i] = 255
		}
	}
	dogs := dogPhotos(t, 2, 1)
	imgs := []*image.RGBA{noise, render(t, dogs[0][0]), render(t, dogs[1][0])}

	// face-api takes the raw pixels, HWC, and normalises them itself.
	var pixels bytes.Buffer
	for _, img := range imgs {
		for y := 0; y < faceapi.InputSize; y++ {
			for x := 0; x < faceapi.InputSize; x++ {
				p := img.Pix[y*img.Stride+4*x:]
				for c := 0; c < 3; c++ {
					binary.Write(&pixels, binary.LittleEndian, float32(p[c]))
				}
			}
		}
	}
	pixelFile := filepath.Join(t.TempDir(), "pixels.f32")
	if err := os.WriteFile(pixelFile, pixels.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join(needs.RepoRoot(t), "tools", "parity", "faceapi_descriptor.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script, filepath.Dir(files[0]), pixelFile, strconv.Itoa(len(imgs)))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	var ref struct {
		Backend, Tfjs, Faceapi string
		Descriptors            [][]float32
	}
	if err := json.Unmarshal(stdout, &ref); err != nil {
		t.Fatalf("node output: %v\n%s", err, stdout)
	}
	if len(ref.Descriptors) != len(imgs) {
		t.Fatalf("face-api returned %d descriptors for %d images", len(ref.Descriptors), len(imgs))
	}

	got := descriptors(t, m, imgs)
	// Float32 in another summation order, scale layers folded into the
	// convolutions: measured differences are about 3e-7 on entries of about 0.1.
	// Dividing by 256 instead of 255 moves descriptors by 4e-4, BGR by 7e-2.
	const tol = 1e-5
	for i := range imgs {
		var maxDiff float64
		for j, v := range got[i] {
			maxDiff = math.Max(maxDiff, math.Abs(float64(v-ref.Descriptors[i][j])))
		}
		t.Logf("image %d: max |onnx - face-api| = %.3g, distance %.3g, descriptor norm %.3g (face-api %s, tfjs %s %s backend)",
			i, maxDiff, distance(got[i], ref.Descriptors[i]), distance(got[i], make([]float32, len(got[i]))), ref.Faceapi, ref.Tfjs, ref.Backend)
		if maxDiff > tol {
			t.Errorf("image %d: descriptors differ by up to %.3g (tolerance %g)", i, maxDiff, tol)
		}
	}
}

// TestSameDogDescriptorsAreCloser is the dog-level check: on real DogFaceNet
// photos, descriptors of the same dog are closer on average than descriptors
// of different dogs. dlib's net was trained on human faces, so the gap is
// what matters here, not dlib's 0.6 same-person threshold.
func TestSameDogDescriptorsAreCloser(t *testing.T) {
	const dogs, perDog = 8, 4
	photos := dogPhotos(t, dogs, perDog)
	m, _ := openDlib(t, "descriptor")
	var imgs []*image.RGBA
	var dog []int
	for d, files := range photos {
		for _, f := range files {
			imgs = append(imgs, render(t, f))
			dog = append(dog, d)
		}
	}
	desc := descriptors(t, m, imgs)
	var same, diff []float64
	for i := range desc {
		for j := i + 1; j < len(desc); j++ {
			if d := distance(desc[i], desc[j]); dog[i] == dog[j] {
				same = append(same, d)
			} else {
				diff = append(diff, d)
			}
		}
	}
	ms, md := mean(same), mean(diff)
	// AUC: how often a same-dog pair is closer than a different-dog pair.
	var closer float64
	for _, s := range same {
		for _, d := range diff {
			switch {
			case s < d:
				closer++
			case s == d:
				closer += 0.5
			}
		}
	}
	t.Logf("%d dogs x %d photos: mean distance same dog %.4f (%d pairs, min %.3f), different dogs %.4f (%d pairs); AUC %.3f",
		dogs, perDog, ms, len(same), slices.Min(same), md, len(diff), closer/float64(len(same)*len(diff)))
	if !(ms < md) {
		t.Errorf("same-dog pairs are not closer: %.4f vs %.4f", ms, md)
	}
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// TestPooledCutFeedsDescriptor checks the second cut: the pooled features times
// face-api's fc matrix are the descriptor.
func TestPooledCutFeedsDescriptor(t *testing.T) {
	pooledModel, files := openDlib(t, "pooled")
	descModel, _ := openDlib(t, "descriptor")
	img := image.NewRGBA(image.Rect(0, 0, faceapi.InputSize, faceapi.InputSize))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7 % 251)
	}
	pooled := descriptors(t, pooledModel, []*image.RGBA{img})[0]
	desc := descriptors(t, descModel, []*image.RGBA{img})[0]
	if len(pooled) != 256 || len(desc) != 128 {
		t.Fatalf("pooled %d-d, descriptor %d-d; want 256 and 128", len(pooled), len(desc))
	}
	w, err := faceapi.LoadWeights(files[0], files[1:])
	if err != nil {
		t.Fatal(err)
	}
	fc := w["fc"].Data // [256, 128]
	for o := 0; o < 128; o++ {
		var want float64
		for i, p := range pooled {
			want += float64(p) * float64(fc[i*128+o])
		}
		if math.Abs(want-float64(desc[o])) > 1e-5 {
			t.Fatalf("descriptor[%d] = %g, pooled x fc = %g", o, desc[o], want)
		}
	}
}
