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
}

func (s Source) String() string {
	paths := make([]string, len(s.Files))
	for i, f := range s.Files {
		paths[i] = f.Path
	}
	return s.Package + "@" + s.Version + " " + strings.Join(paths, ",")
}

// Cut is a named output a backbone offers as features.
type Cut struct {
	Name   string
	Output string // graph output name in the (converted) ONNX model
	Dim    int
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
		fmt.Fprintf(h, "%s %s\n", f.Path, f.SHA256)
	}
	fmt.Fprintf(h, "converter %s\n", s.ConverterVersion)
	return hex.EncodeToString(h.Sum(nil))
}

// PreprocessKey changes whenever anything that turns a photo into features
// changes, so cached features are never reused across preprocessing versions.
func (s Spec) PreprocessKey(cut Cut) string {
	return fmt.Sprintf("v1 size=%d layout=%s channels=%s mean=%v scale=%v out=%s",
		s.InputSize, s.Layout, s.Channels, s.Mean, s.Scale, cut.Output)
}

// ONNXRuntime is the shared library that runs every backbone. Version 1.24.x matches
// the C API headers of github.com/yalue/onnxruntime_go v1.27.0.
var ONNXRuntime = struct{ Source Source }{
	Source: Source{Package: "onnxruntime-node", Version: "1.24.3", Files: []File{
		{Path: "bin/napi-v6/linux/x64/libonnxruntime.so.1", SHA256: "92ba8e44d31b80a34f5e805076a044122c3be1fffe0d88ed790de7267b0b2682"},
	}},
}

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
		Cuts:  []Cut{{Name: "embedding", Output: "output", Dim: 512}},
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
