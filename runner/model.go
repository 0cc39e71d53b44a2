package runner

import (
	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/train"
)

// Model returns the trial's backbone, cut and trained head, for tools that
// run them otherwise than Predict does (Grad-CAM differentiates through them).
func (p *Predictor) Model() (backbone.Spec, backbone.Cut, *train.Head) {
	return p.spec, p.cut, p.head
}
