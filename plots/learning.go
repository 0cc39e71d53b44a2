package plots

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// EpochPoint is one epoch of a training history.
type EpochPoint struct {
	Epoch                      int
	TrainLoss, ValLoss         float64
	TrainAccuracy, ValAccuracy float64
}

// maxGlyphEpochs: above this many epochs point glyphs would merge into a
// thick smear, so only the lines are drawn.
const maxGlyphEpochs = 40

// LearningCurve draws a loss panel and an accuracy panel (train and val in
// each), side by side when the figure is at least as wide as tall, stacked
// otherwise. A vertical marker shows bestEpoch ("best") and, when
// stoppedEpoch > 0, the early-stopping epoch ("early stop"); pass 0 for either
// to omit it. Non-finite metric values (a diverged run, a missing val split)
// are left out of their series instead of failing the figure.
func LearningCurve(title string, epochs []EpochPoint, bestEpoch, stoppedEpoch int, f Format, widthPx, heightPx int) ([]byte, error) {
	if len(epochs) == 0 {
		return nil, errors.New("plots: learning curve needs at least one epoch")
	}
	eps := slices.Clone(epochs)
	slices.SortStableFunc(eps, func(a, b EpochPoint) int { return a.Epoch - b.Epoch })
	for i := 1; i < len(eps); i++ {
		if eps[i].Epoch == eps[i-1].Epoch {
			return nil, fmt.Errorf("plots: learning curve has epoch %d twice", eps[i].Epoch)
		}
	}
	first, last := eps[0].Epoch, eps[len(eps)-1].Epoch
	for _, m := range []struct {
		name string
		v    int
	}{{"bestEpoch", bestEpoch}, {"stoppedEpoch", stoppedEpoch}} {
		if m.v != 0 && (m.v < first || m.v > last) {
			return nil, fmt.Errorf("plots: %s %d outside the plotted epochs [%d, %d]", m.name, m.v, first, last)
		}
	}

	return render(f, widthPx, heightPx, func(c draw.Canvas) error {
		scale := fontScale(c)
		styles := curveStyles(scale)
		var markers []vline
		var items []legendItem

		lossTrain := series(eps, func(e EpochPoint) float64 { return e.TrainLoss })
		lossVal := series(eps, func(e EpochPoint) float64 { return e.ValLoss })
		accTrain := series(eps, func(e EpochPoint) float64 { return e.TrainAccuracy })
		accVal := series(eps, func(e EpochPoint) float64 { return e.ValAccuracy })

		if len(lossTrain)+len(accTrain) > 0 {
			items = append(items, legendItem{"train", styles.thumbs(0)})
		}
		if len(lossVal)+len(accVal) > 0 {
			items = append(items, legendItem{"val", styles.thumbs(1)})
		}
		if bestEpoch != 0 {
			m := vline{x: float64(bestEpoch), style: draw.LineStyle{
				Color: colBest, Width: vg.Length(1.5 * scale),
				Dashes: []vg.Length{vg.Length(2 * scale), vg.Length(2 * scale)},
			}}
			markers = append(markers, m)
			items = append(items, legendItem{"best: epoch " + strconv.Itoa(bestEpoch), []plot.Thumbnailer{m}})
		}
		if stoppedEpoch != 0 {
			m := vline{x: float64(stoppedEpoch), style: draw.LineStyle{
				Color: colStop, Width: vg.Length(1.2 * scale),
				Dashes: []vg.Length{vg.Length(6 * scale), vg.Length(3 * scale)},
			}}
			markers = append(markers, m)
			items = append(items, legendItem{"early stop: epoch " + strconv.Itoa(stoppedEpoch), []plot.Thumbnailer{m}})
		}

		loss, err := curvePanel("loss", lossTrain, lossVal, markers, styles, len(eps), first, last, scale)
		if err != nil {
			return err
		}
		acc, err := curvePanel("accuracy", accTrain, accVal, markers, styles, len(eps), first, last, scale)
		if err != nil {
			return err
		}

		drawLossAndAccuracy(c, title, scale, items, loss, acc)
		return nil
	})
}

// series collects the finite values of one metric.
func series(eps []EpochPoint, get func(EpochPoint) float64) plotter.XYs {
	var xys plotter.XYs
	for _, e := range eps {
		if v := get(e); finite(v) {
			xys = append(xys, plotter.XY{X: float64(e.Epoch), Y: v})
		}
	}
	return xys
}

// curveStyleSet holds the train (0) and val (1) looks, shared by both panels
// and the legend so they always agree.
type curveStyleSet struct {
	lines  [2]draw.LineStyle
	glyphs [2]draw.GlyphStyle
}

func curveStyles(scale float64) curveStyleSet {
	w := vg.Length(1.5 * scale)
	return curveStyleSet{
		lines: [2]draw.LineStyle{
			{Color: colTrain, Width: w},
			{Color: colVal, Width: w, Dashes: []vg.Length{vg.Length(5 * scale), vg.Length(2 * scale)}},
		},
		glyphs: [2]draw.GlyphStyle{
			{Color: colTrain, Radius: vg.Length(2.2 * scale), Shape: draw.CircleGlyph{}},
			{Color: colVal, Radius: vg.Length(2.6 * scale), Shape: draw.TriangleGlyph{}},
		},
	}
}

func (s curveStyleSet) thumbs(i int) []plot.Thumbnailer {
	l := &plotter.Line{LineStyle: s.lines[i]}
	l.LineStyle.Dashes = nil // dashes are unreadable at thumbnail size
	return []plot.Thumbnailer{l, &plotter.Scatter{GlyphStyle: s.glyphs[i]}}
}

// curvePanel builds one metric's panel.
func curvePanel(metric string, train, val plotter.XYs, markers []vline, s curveStyleSet, nEpochs, first, last int, scale float64) (*plot.Plot, error) {
	p := newPlot(scale)
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = metric
	p.X.Tick.Marker = plot.TickerFunc(integerTicks)
	p.X.Min, p.X.Max = float64(first), float64(last)
	p.Add(gridLines{y: true})

	lo, hi := math.Inf(1), math.Inf(-1)
	for i, xys := range []plotter.XYs{train, val} {
		if len(xys) == 0 {
			continue
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("plots: %s curve: %w", metric, err)
		}
		line.LineStyle = s.lines[i]
		p.Add(line)
		if nEpochs <= maxGlyphEpochs || len(xys) == 1 {
			pts, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, fmt.Errorf("plots: %s points: %w", metric, err)
			}
			pts.GlyphStyle = s.glyphs[i]
			p.Add(pts)
		}
		for _, xy := range xys {
			lo, hi = math.Min(lo, xy.Y), math.Max(hi, xy.Y)
		}
	}
	if lo > hi { // no finite value at all: keep an empty, sane frame
		lo, hi = 0, 1
	}
	ylo, yhi := paddedRange(lo, hi)
	if lo >= 0 {
		ylo = math.Max(ylo, 0) // losses and accuracies are never negative
	}
	if metric == "accuracy" && hi <= 1 {
		yhi = math.Min(yhi, 1)
	}
	p.Y.Min, p.Y.Max = ylo, yhi
	for _, m := range markers {
		p.Add(m)
	}
	return p, nil
}

// integerTicks keeps only whole-epoch ticks from gonum's default choice;
// "epoch 2.5" means nothing.
func integerTicks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if t.Value != math.Trunc(t.Value) {
			continue
		}
		if !t.IsMinor() {
			t.Label = strconv.Itoa(int(t.Value))
		}
		out = append(out, t)
	}
	if len(out) == 0 { // very narrow range: label the ends
		out = []plot.Tick{{Value: math.Ceil(lo), Label: strconv.Itoa(int(math.Ceil(lo)))}}
	}
	return out
}

// drawLossAndAccuracy draws the title, the legend and the loss and accuracy
// panels: side by side on a wide canvas, stacked on a tall one.
func drawLossAndAccuracy(c draw.Canvas, title string, scale float64, items []legendItem, loss, acc *plot.Plot) {
	c = drawTitle(c, title, scale)
	c = newLegendStrip(scale, items...).draw(c)
	c = draw.Crop(c, vg.Length(4*scale), -vg.Length(8*scale), vg.Length(4*scale), 0)
	grid := [][]*plot.Plot{{loss, acc}}
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Length(18 * scale)}
	if c.Size().Y > c.Size().X {
		grid = [][]*plot.Plot{{loss}, {acc}}
		tiles = draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Length(12 * scale)}
	}
	canvases := plot.Align(grid, tiles, c)
	for i, row := range grid {
		for j, p := range row {
			p.Draw(canvases[i][j])
		}
	}
}
