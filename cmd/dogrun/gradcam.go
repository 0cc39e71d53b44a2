package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/gradcam"
	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/report"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/runner"
)

type gradcamCommand struct{ stdout, stderr io.Writer }

const gradcamUsage = `Usage: dogrun gradcam [flags] -trial ID IMAGE

Shows where a done trial looks in a photo, as the original Keras scripts did:
the Grad-CAM heatmap of the predicted dog (or of -class) over the photo, as
a PNG. ID is the trial's hash or a prefix of it, as dogrun status and the
report show it. Prints the predicted dog and the explained one with their
probabilities. When the Grad-CAM map is empty (nothing in the feature map
raises the dog's score) it says so and draws occlusion sensitivity instead:
where greying out a square of the photo lowers the dog's probability (49
backbone passes, a second or two).

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
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		return err
	}
	e, err := runner.NewExplainer(ctx, st, exp, trial, cacheDir, trialF.threads)
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
	b, err := gradcam.OverlayPNG(img, r)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "predicted %s (%.3f)\n%swrote %s\n", e.Classes[r.Pred], r.Probs[r.Pred], explained(e, r), path)
	return nil
}

// explained says what the overlay of r shows, and that Grad-CAM found
// nothing when it fell back to occlusion.
func explained(e *gradcam.Explainer, r *gradcam.Result) string {
	class := fmt.Sprintf("%s (%.3f)", e.Classes[r.Class], r.Probs[r.Class])
	if r.Method == gradcam.MethodGradCAM {
		return fmt.Sprintf("heatmap of %s, %dx%d map %s of %s\n", class, r.W, r.H, e.Map, e.Spec.Name)
	}
	s := fmt.Sprintf("grad-cam: the map of %s is empty: nothing in map %s of %s raises its score\n", class, e.Map, e.Spec.Name)
	if r.Empty() {
		return s + "occlusion: greying out no part of the photo lowers its probability either; the PNG is the photo, unmarked\n"
	}
	return s + fmt.Sprintf("shown instead: occlusion sensitivity, %dx%d grid: where greying out the photo lowers its probability\n", r.W, r.H)
}

func someNames(names []string) string {
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + ", ..."
	}
	return strings.Join(names, ", ")
}

// reportCAMs is how many test photos of the best trial the report explains:
// half right and half wrong where there are enough, one per dog.
const reportCAMs = 6

// addGradCAM puts Grad-CAM overlays of the best trial's test photos into the
// report, or, when they cannot be drawn, the reason, and says which on w.
// Overlays drawn for an earlier report in dir are reused.
func addGradCAM(ctx context.Context, w io.Writer, st *results.Store, d *report.Data, dir string) {
	if d.Best == nil {
		return
	}
	g := &report.GradCAM{Trial: *d.Best}
	d.GradCAM = g
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		g.Note = err.Error()
		fmt.Fprintf(w, "grad-cam: none: %v\n", err)
		return
	}
	tiles := &gradcam.Tiles{Dir: filepath.Join(dir, "gradcam")}
	tests, drawn, err := runner.ExplainTests(ctx, st, d.Experiment, *d.Best, d.DatasetDir, cacheDir, tiles, reportCAMs, 0)
	for _, c := range tests {
		g.CAMs = append(g.CAMs, report.CAM{Photo: c.Prediction.Photo, True: d.Classes[c.Prediction.True], Pred: d.Classes[c.Tile.Pred], Prob: c.Tile.Prob,
			File: tiles.Path(c.Key), PNG: c.Tile.PNG, Occluded: c.Tile.Method == gradcam.MethodOcclusion, Empty: c.Tile.Empty})
	}
	if err == nil {
		err = tiles.Prune() // the tiles no longer shown
	}
	if err != nil {
		g.CAMs, g.Note = nil, err.Error()
		fmt.Fprintf(w, "grad-cam: none: %v\n", err)
		return
	}
	occluded := 0
	for _, c := range g.CAMs {
		if c.Occluded {
			occluded++
		}
	}
	fmt.Fprintf(w, "grad-cam: %s of trial %d (%d drawn, %d reused)\n", english.Count(len(g.CAMs), "test photo"), d.Best.Index+1, drawn, len(g.CAMs)-drawn)
	if occluded > 0 {
		fmt.Fprintf(w, "grad-cam: empty Grad-CAM map (nothing in it raises the dog's score) on %s: shown by occlusion sensitivity instead\n", english.Count(occluded, "photo"))
	}
}
