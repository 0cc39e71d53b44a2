package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/gradcam"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/report"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/runner"
)

type gradcamCommand struct{ stdout, stderr io.Writer }

const gradcamUsage = `Usage: dogrun gradcam [flags] -trial ID IMAGE

Shows where a done trial looks in a photo, as the seed's grad_CAM.py did:
the Grad-CAM heatmap of the predicted dog (or of -class) over the photo, as
a PNG. ID is the trial's hash or a prefix of it, as dogrun status and the
report show it. Prints the predicted dog and the explained one with their
probabilities.

ONNX Runtime computes the backbone's last convolutional feature map; GoMLX
replays the few layers from there to the trial's features, applies its head
and takes the gradient. Every npm backbone and cut works (mobilefacenet,
vggface2-mobilenet, mobilenetv2-imagenet, inceptionv3, dlib-resnet34), as do
the vggface ones and your own ONNX models when the layers after their last
map are pooling, whole-map or 1x1 convolutions, dense layers, batch norms or
pointwise ops.

`

func (c *gradcamCommand) Run(ctx context.Context, args []string) error {
	ctx = backbone.WithProgress(ctx, c.stderr) // downloads and conversions say so on stderr
	fs := newFlagSet("gradcam", gradcamUsage, c.stderr)
	var store storeFlags
	store.register(fs)
	var trialF trialFlags
	trialF.register(fs)
	className := fs.String("class", "", "explain this dog instead of the predicted one")
	out := fs.String("o", "", "PNG to write (default IMAGE's name with _gradcam.png, in the current folder)")
	images, err := parse(fs, args)
	if err != nil {
		return err
	}
	if trialF.id == "" || len(images) != 1 {
		fs.Usage()
		return fmt.Errorf("%w: gradcam needs -trial ID and one IMAGE", errUsage)
	}
	img, err := dataset.Decode(images[0])
	if err != nil {
		return err
	}
	st, exp, trial, err := trialF.openTrial(ctx, store)
	if err != nil {
		return err
	}
	defer st.Close()
	e, err := openExplainer(ctx, st, exp, trial, trialF.threads)
	if err != nil {
		return err
	}
	defer e.Close()
	class := -1
	if *className != "" {
		if class = slices.Index(e.Classes, *className); class < 0 {
			return fmt.Errorf("%w: trial %s knows no dog %q (it knows %s)", errUsage, trial.Hash[:12], *className, someNames(e.Classes))
		}
	}
	r, err := e.Explain(img, class)
	if err != nil {
		return err
	}
	path := *out
	if path == "" {
		base := filepath.Base(images[0])
		path = strings.TrimSuffix(base, filepath.Ext(base)) + "_gradcam.png"
	}
	b, err := encodePNG(gradcam.Overlay(img, r))
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "predicted %s (%.3f)\nheatmap of %s (%.3f), %dx%d map %s of %s\nwrote %s\n",
		e.Classes[r.Pred], r.Probs[r.Pred], e.Classes[r.Class], r.Probs[r.Class], r.W, r.H, e.Map, e.Spec.Name, path)
	return nil
}

// openExplainer loads trial t's backbone and checkpoint for Grad-CAM, as
// predict loads them.
func openExplainer(ctx context.Context, st *results.Store, exp results.Experiment, t results.Trial, threads int) (*gradcam.Explainer, error) {
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		return nil, err
	}
	p, err := runner.NewPredictor(ctx, st, exp, t, cacheDir, threads)
	if err != nil {
		return nil, err
	}
	spec, cut, head := p.Model()
	return gradcam.Open(ctx, cacheDir, spec, cut, head, p.Classes, threads)
}

func someNames(names []string) string {
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + ", ..."
	}
	return strings.Join(names, ", ")
}

func encodePNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	err := png.Encode(&b, img)
	return b.Bytes(), err
}

// reportCAMs is how many test photos of the best trial the report explains:
// half right and half wrong where there are enough, one per dog.
const reportCAMs = 6

// addGradCAM puts Grad-CAM overlays of the best trial's test photos into the
// report, or, when they cannot be drawn, the reason, and says which on w.
func addGradCAM(ctx context.Context, w io.Writer, st *results.Store, d *report.Data) {
	if d.Best == nil {
		return
	}
	g := &report.GradCAM{Trial: *d.Best}
	d.GradCAM = g
	if err := explainTests(ctx, st, d, g); err != nil {
		g.CAMs, g.Note = nil, err.Error()
		fmt.Fprintf(w, "grad-cam: none: %v\n", err)
		return
	}
	fmt.Fprintf(w, "grad-cam: %d test photos of trial %d\n", len(g.CAMs), d.Best.Index)
}

func explainTests(ctx context.Context, st *results.Store, d *report.Data, g *report.GradCAM) error {
	if d.DatasetDir == "" {
		return fmt.Errorf("the experiment file no longer names the photos")
	}
	all, err := st.Predictions(ctx, d.Best.ID)
	if err != nil {
		return err
	}
	// A leaky trial also tests augmented copies, which are not files.
	var preds []results.Prediction
	for _, p := range all {
		if !runner.IsCopy(p.Photo) {
			preds = append(preds, p)
		}
	}
	// One photo per dog first, so that the overlays show several dogs.
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
	nWrong := min(len(wrong), max(reportCAMs/2, reportCAMs-len(right)))
	chosen := append(right[:min(len(right), reportCAMs-nWrong)], wrong[:nWrong]...)
	e, err := openExplainer(ctx, st, d.Experiment, *d.Best, 0)
	if err != nil {
		return err
	}
	defer e.Close()
	for _, p := range chosen {
		img, err := dataset.Decode(filepath.Join(d.DatasetDir, filepath.FromSlash(p.Photo)))
		if err != nil {
			return err
		}
		r, err := e.Explain(img, -1)
		if err != nil {
			return err
		}
		b, err := encodePNG(gradcam.Overlay(img, r))
		if err != nil {
			return err
		}
		g.CAMs = append(g.CAMs, report.CAM{Photo: p.Photo, True: d.Classes[p.True], Pred: e.Classes[r.Pred], Prob: float64(r.Probs[r.Pred]), PNG: b})
	}
	return nil
}
