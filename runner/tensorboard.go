package runner

import (
	"path/filepath"
	"time"

	"github.com/dogrun/dogrun/tensorboard"
	"github.com/dogrun/dogrun/train"
)

// writeTensorBoard logs the epochs in the trial folder the way Keras'
// TensorBoard callback does (train/ and validation/ runs, epoch_loss and
// epoch_accuracy), for users who run `tensorboard --logdir runs/<experiment>`.
// Training ended at end; counting the epochs' durations back from it keeps
// feature extraction out of TensorBoard's time axis.
func writeTensorBoard(dir string, end time.Time, epochs []train.Epoch) error {
	eps := make([]tensorboard.Epoch, len(epochs))
	var total float64
	for i, e := range epochs {
		eps[i] = tensorboard.Epoch{Epoch: e.Epoch, Loss: e.TrainLoss, Accuracy: e.TrainAccuracy,
			ValLoss: e.ValLoss, ValAccuracy: e.ValAccuracy, Seconds: e.Seconds}
		total += e.Seconds
	}
	_, err := tensorboard.WriteKeras(dir, end.Add(-time.Duration(total*float64(time.Second))), eps)
	return err
}

// absPath stores the experiment file so that `dogrun report` finds it (and
// the photos relative to it) from any working directory.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
