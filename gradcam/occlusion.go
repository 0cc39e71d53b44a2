package gradcam

import (
	"image"
	"image/color"
	"image/draw"

	"github.com/dogrun/dogrun/train"
)

// OcclusionGrid is the side of the occlusion map in cells. A grey square of
// two cells is slid over the photo one cell at a time ((OcclusionGrid-1)^2
// views); a cell's heat is the mean probability drop over the squares that
// cover it.
const OcclusionGrid = 8

// occlusionGrey fills the covered square: the middle of the pixel range, the
// least information a pixel can carry.
var occlusionGrey = color.RGBA{128, 128, 128, 255}

// occlude returns the occlusion map of class on view, the photo as the
// backbone sees it, clipped at 0: only drops are evidence for the class.
func (e *Explainer) occlude(view *image.RGBA, class int) ([]float32, error) {
	side, steps := e.Spec.InputSize, OcclusionGrid-1
	n := 1 + steps*steps // the unoccluded view first, as the baseline
	in := make([]float32, n*e.Spec.InputLen())
	e.Spec.Fill(in, view)
	covered := image.NewRGBA(view.Rect)
	for i := 0; i < steps*steps; i++ {
		cx, cy := i%steps, i/steps
		copy(covered.Pix, view.Pix)
		square := image.Rect(cx*side/OcclusionGrid, cy*side/OcclusionGrid, (cx+2)*side/OcclusionGrid, (cy+2)*side/OcclusionGrid)
		draw.Draw(covered, square, image.NewUniform(occlusionGrey), image.Point{}, draw.Src)
		e.Spec.Fill(in[(i+1)*e.Spec.InputLen():(i+2)*e.Spec.InputLen()], covered)
	}
	ts, err := e.probe.Run(in, n)
	if err != nil {
		return nil, err
	}
	probs, err := e.head.Predict(train.Data{X: ts[1].Data, Dim: e.head.Dim})
	if err != nil {
		return nil, err
	}
	heat := make([]float32, OcclusionGrid*OcclusionGrid)
	var cover [OcclusionGrid * OcclusionGrid]int
	for i, p := range probs[1:] {
		drop := probs[0][class] - p[class]
		for _, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
			cell := (i/steps+d[1])*OcclusionGrid + i%steps + d[0]
			heat[cell] += drop
			cover[cell]++
		}
	}
	for i := range heat {
		heat[i] = max(heat[i]/float32(cover[i]), 0)
	}
	return heat, nil
}
