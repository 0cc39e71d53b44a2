package tensorboard

import (
	"math"
	"path/filepath"
	"time"
)

// Epoch is one epoch's metrics.
type Epoch struct {
	Epoch                int
	Loss, Accuracy       float64
	ValLoss, ValAccuracy float64
	Seconds              float64 // how long the epoch took; places it on TensorBoard's time axes
}

// Keras' TensorBoard callback layout: one run folder per split, the same
// tags in both, so TensorBoard overlays train and validation in one chart.
const (
	TrainDir      = "train"
	ValidationDir = "validation"
	TagLoss       = "epoch_loss"
	TagAccuracy   = "epoch_accuracy"
)

// WriteKeras writes the epochs as Keras does: dir/train and dir/validation
// each get an event file with epoch_loss and epoch_accuracy. The step is the
// epoch number as dogrun counts it (from 1), so TensorBoard and the report
// agree. Non-finite values (a diverged epoch, no validation split) are left
// out, and a split without any value gets no file. It returns the files
// written.
func WriteKeras(dir string, start time.Time, epochs []Epoch) ([]string, error) {
	var train, val []Event
	wall := start
	for _, e := range epochs {
		wall = wall.Add(time.Duration(e.Seconds * float64(time.Second)))
		if ev, ok := scalarEvent(wall, e.Epoch, e.Loss, e.Accuracy); ok {
			train = append(train, ev)
		}
		if ev, ok := scalarEvent(wall, e.Epoch, e.ValLoss, e.ValAccuracy); ok {
			val = append(val, ev)
		}
	}
	var paths []string
	for _, split := range []struct {
		dir    string
		events []Event
	}{{TrainDir, train}, {ValidationDir, val}} {
		if len(split.events) == 0 {
			continue
		}
		p, err := WriteFile(filepath.Join(dir, split.dir), start, split.events)
		if err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func scalarEvent(wall time.Time, epoch int, loss, acc float64) (Event, bool) {
	e := Event{WallTime: wallSeconds(wall), Step: int64(epoch)}
	for _, s := range []struct {
		tag string
		v   float64
	}{{TagLoss, loss}, {TagAccuracy, acc}} {
		if !math.IsNaN(s.v) && !math.IsInf(s.v, 0) {
			e.Scalars = append(e.Scalars, Scalar{Tag: s.tag, Value: float32(s.v)})
		}
	}
	return e, len(e.Scalars) > 0
}
