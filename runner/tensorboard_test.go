package runner

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/tensorboard"
	"github.com/dogrun/dogrun/train"
)

// checkTensorBoard reads a trial folder's event files back and compares them
// with the stored epochs.
func checkTensorBoard(t *testing.T, dir string, epochs []results.Epoch) {
	t.Helper()
	for _, split := range []struct {
		sub       string
		loss, acc func(results.Epoch) float64
	}{
		{tensorboard.TrainDir, func(e results.Epoch) float64 { return e.TrainLoss }, func(e results.Epoch) float64 { return e.TrainAccuracy }},
		{tensorboard.ValidationDir, func(e results.Epoch) float64 { return e.ValLoss }, func(e results.Epoch) float64 { return e.ValAccuracy }},
	} {
		files, _ := filepath.Glob(filepath.Join(dir, split.sub, tensorboard.FilePrefix+"*"))
		if len(files) != 1 {
			t.Errorf("%s: %d event files in %s, want 1", dir, len(files), split.sub)
			continue
		}
		evs, err := tensorboard.ReadFile(files[0])
		if err != nil {
			t.Errorf("%s: %v", files[0], err)
			continue
		}
		if len(evs) != len(epochs)+1 || evs[0].FileVersion != tensorboard.FileVersion {
			t.Errorf("%s: %d events, want a version event and %d epochs", files[0], len(evs), len(epochs))
			continue
		}
		for i, e := range epochs {
			ev := evs[i+1]
			want := map[string]float32{tensorboard.TagLoss: float32(split.loss(e)), tensorboard.TagAccuracy: float32(split.acc(e))}
			if ev.Step != int64(e.Epoch) || len(ev.Scalars) != 2 {
				t.Errorf("%s: event %d is step %d with %d scalars, want epoch %d with 2", files[0], i+1, ev.Step, len(ev.Scalars), e.Epoch)
				continue
			}
			for _, s := range ev.Scalars {
				if s.Value != want[s.Tag] {
					t.Errorf("%s: epoch %d %s = %v, want %v", files[0], e.Epoch, s.Tag, s.Value, want[s.Tag])
				}
			}
		}
	}
}

func TestWriteTensorBoardMatchesEpochs(t *testing.T) {
	dir := t.TempDir()
	fit := []train.Epoch{
		{Epoch: 1, TrainLoss: 2, TrainAccuracy: 0.3, ValLoss: 2.2, ValAccuracy: 0.25, Seconds: 0.5},
		{Epoch: 2, TrainLoss: 1, TrainAccuracy: 0.6, ValLoss: 1.4, ValAccuracy: 0.5, Seconds: 0.5},
	}
	if err := writeTensorBoard(dir, time.Unix(1000, 0), fit); err != nil {
		t.Fatal(err)
	}
	stored := make([]results.Epoch, len(fit))
	for i, e := range fit {
		stored[i] = results.Epoch{Epoch: e.Epoch, TrainLoss: e.TrainLoss, TrainAccuracy: e.TrainAccuracy, ValLoss: e.ValLoss, ValAccuracy: e.ValAccuracy}
	}
	checkTensorBoard(t, dir, stored)
}
