// Package gradcam explains a trial's predictions with Grad-CAM (Selvaraju et
// al., 2017): a heatmap of the photo regions that raise a class's score.
//
// ONNX Runtime runs the backbone up to its last convolutional feature map A
// (an extra graph output) and to the trial's features. GoMLX replays the few
// ops from A to the features (pooling, MobileFaceNet's whole-map depthwise
// convolution, dense layers), applies the trial's trained head and takes the
// gradient of the class logit with respect to A. Channel weights are the
// spatial means of that gradient, and the heatmap is ReLU(sum_k w_k A_k).
// Every explanation checks that the replayed features match ONNX Runtime's.
//
// When that map is zero everywhere (no location of the map raises the
// class's score), Explain falls back to occlusion sensitivity (Zeiler and
// Fergus, 2014): where covering the photo lowers the class's probability.
package gradcam

import (
	"context"
	"fmt"
	"image"
	"math"
	"slices"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/train"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads as math
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"
)

// Explainer computes Grad-CAM heatmaps for one backbone cut and trained head.
type Explainer struct {
	Spec    backbone.Spec
	Cut     backbone.Cut
	Map     string // the feature map's tensor name in the ONNX graph
	Classes []string

	probe *backbone.Probe
	tail  tail
	head  *train.Head
	exec  *mlctx.Exec
}

// What a Result's heatmap shows.
const (
	MethodGradCAM = "grad-cam"
	// MethodOcclusion: the Grad-CAM map was empty, and Heat is the drop of
	// the class's probability when a square of the photo is greyed out.
	MethodOcclusion = "occlusion"
)

// Result is one explanation.
type Result struct {
	Class int       // the explained class: the predicted one unless chosen
	Pred  int       // the predicted class
	Probs []float32 // class probabilities
	// Heat is the map Method names, H x W row-major, not normalised, >= 0:
	// the Grad-CAM map at the feature map's resolution, or the occlusion
	// map on an OcclusionGrid x OcclusionGrid grid.
	Heat   []float32
	W, H   int
	Method string
}

// Empty reports whether Heat is zero everywhere: nothing in the photo raises
// the class's score, by either method.
func (r *Result) Empty() bool {
	for _, v := range r.Heat {
		if v > 0 {
			return false
		}
	}
	return true
}

// Open prepares Grad-CAM for head, trained on spec's cut, whose class i is
// classes[i]. It finds the last feature map before the cut: the nearest
// tensor on the way back from the cut that still has a spatial extent.
func Open(ctx context.Context, cacheDir string, spec backbone.Spec, cut backbone.Cut, head *train.Head, classes []string, threads int) (*Explainer, error) {
	if head.Classes != len(classes) {
		return nil, fmt.Errorf("gradcam: head has %d classes, the trial names %d", head.Classes, len(classes))
	}
	if head.Dim != cut.Dim {
		return nil, fmt.Errorf("gradcam: head reads %d features, backbone %s cut %s gives %d", head.Dim, spec.Name, cut.Name, cut.Dim)
	}
	model, err := backbone.BatchedONNX(ctx, cacheDir, spec)
	if err != nil {
		return nil, err
	}
	g, err := backbone.ReadGraph(model)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", spec.Name, err)
	}
	nodes := chain(g, cut.Output)
	// The tensors the chain reads, nearest to the cut first; ONNX Runtime
	// tells their shapes.
	var candidates []string
	for _, n := range nodes {
		if acts := activations(g, n); len(acts) == 1 {
			candidates = append(candidates, acts[0])
		}
	}
	outputs := append([]string{cut.Output}, candidates...)
	probe, err := backbone.OpenProbe(ctx, cacheDir, spec, model, outputs, threads)
	if err != nil {
		return nil, err
	}
	e := &Explainer{Spec: spec, Cut: cut, Classes: classes, head: head, probe: probe}
	ts, err := probe.Run(make([]float32, 3*spec.InputSize*spec.InputSize), 1)
	if err != nil {
		probe.Close()
		return nil, err
	}
	for i, name := range candidates {
		// A transposed map (Keras' NHWC flatten order) is not laid out as
		// [N, C, H, W]: the map is the tensor before it.
		if p := g.Producer(name); p >= 0 && g.Nodes[p].Op == "Transpose" {
			continue
		}
		if s := ts[i+1].Shape; len(s) == 4 && s[2]*s[3] > 1 {
			e.Map = name
			e.tail = tail{nodes: reversed(nodes[:i+1]), consts: g.Constants}
			break
		}
	}
	probe.Close()
	if e.Map == "" {
		return nil, fmt.Errorf("gradcam: backbone %s has no feature map with a spatial extent within %d ops of cut %s", spec.Name, maxChain, cut.Name)
	}
	if e.probe, err = backbone.OpenProbe(ctx, cacheDir, spec, model, []string{e.Map, cut.Output}, threads); err != nil {
		return nil, err
	}
	e.exec, err = head.NewExec(func(logits func(*Node) *Node, in []*Node) []*Node {
		a, class := in[0], in[1]
		feats := e.tail.apply(a)
		l := logits(feats)
		pred := ArgMax(StopGradient(l), -1, dtypes.Int32)
		c := Where(GreaterOrEqual(class, ZerosLike(class)), class, pred)
		score := ReduceAllSum(Mul(l, OneHot(c, head.Classes, dtypes.Float32)))
		return []*Node{feats, l, c, Gradient(score, a)[0]}
	})
	if err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func reversed(ns []backbone.Node) []backbone.Node {
	out := make([]backbone.Node, len(ns))
	for i, n := range ns {
		out[len(ns)-1-i] = n
	}
	return out
}

// Close frees the backbone session.
func (e *Explainer) Close() error { return e.probe.Close() }

// Explain computes the heatmap of class (-1 = the predicted class) for a
// photo, which is rendered as the backbone sees it (stretched to its square
// input, as feature extraction does).
func (e *Explainer) Explain(img image.Image, class int) (*Result, error) {
	if class >= len(e.Classes) {
		return nil, fmt.Errorf("gradcam: class %d of %d", class, len(e.Classes))
	}
	r, view, err := e.gradCAM(img, class)
	if err != nil || !r.Empty() {
		return r, err
	}
	if r.Heat, err = e.occlude(view, r.Class); err != nil {
		return nil, err
	}
	r.W, r.H, r.Method = OcclusionGrid, OcclusionGrid, MethodOcclusion
	return r, nil
}

// gradCAM is Explain without the occlusion fallback; it also returns the
// photo as the backbone saw it.
func (e *Explainer) gradCAM(img image.Image, class int) (*Result, *image.RGBA, error) {
	view := dataset.Render(img, dataset.ViewParams{}, e.Spec.InputSize)
	in := make([]float32, e.Spec.InputLen())
	e.Spec.Fill(in, view)
	ts, err := e.probe.Run(in, 1)
	if err != nil {
		return nil, nil, err
	}
	r, err := e.explainMap(ts[0], ts[1].Data, class)
	return r, view, err
}

// explainMap runs the GoMLX half on the map a and checks its features against
// ONNX Runtime's, want.
func (e *Explainer) explainMap(a backbone.Tensor, want []float32, class int) (*Result, error) {
	dims := make([]int, len(a.Shape))
	for i, d := range a.Shape {
		dims[i] = int(d)
	}
	out, err := e.exec.Exec(tensors.FromFlatDataAndDimensions(a.Data, dims...), []int32{int32(class)})
	if err != nil {
		return nil, fmt.Errorf("gradcam: %w", err)
	}
	feats := tensors.MustCopyFlatData[float32](out[0])
	if err := agree(feats, want); err != nil {
		return nil, fmt.Errorf("gradcam: backbone %s: the ops after %s, replayed in GoMLX, %w", e.Spec.Name, e.Map, err)
	}
	logits := tensors.MustCopyFlatData[float32](out[1])
	probs := slices.Clone(logits)
	train.Probabilities(probs)
	r := &Result{Class: int(tensors.MustCopyFlatData[int32](out[2])[0]), Probs: probs, H: dims[2], W: dims[3], Method: MethodGradCAM}
	r.Pred = metrics.Argmax(logits)
	r.Heat = heat(a.Data, tensors.MustCopyFlatData[float32](out[3]), dims[1], dims[2]*dims[3])
	return r, nil
}

// heat is ReLU(sum_k w_k A_k) with w_k the spatial mean of the gradient of
// channel k, for one image's map a and gradient grad, both [C, HW].
func heat(a, grad []float32, c, hw int) []float32 {
	out := make([]float32, hw)
	for k := 0; k < c; k++ {
		var w float64
		for _, g := range grad[k*hw : (k+1)*hw] {
			w += float64(g)
		}
		w /= float64(hw)
		for i, v := range a[k*hw : (k+1)*hw] {
			out[i] += float32(w) * v
		}
	}
	for i, v := range out {
		out[i] = max(v, 0)
	}
	return out
}

// agree checks replayed features against ONNX Runtime's, to 1e-3 of their
// largest magnitude (float32 sums in another order).
func agree(got, want []float32) error {
	if len(got) != len(want) {
		return fmt.Errorf("give %d features, ONNX Runtime %d", len(got), len(want))
	}
	var diff, scale float64
	for i := range got {
		diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	if diff > 1e-3*scale+1e-6 {
		return fmt.Errorf("differ from ONNX Runtime's features by %.3g (largest feature %.3g)", diff, scale)
	}
	return nil
}
