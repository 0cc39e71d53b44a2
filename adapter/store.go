package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dogrun/dogrun/backbone"
)

// Path is where the adapter of s is stored under cacheDir.
func (s *Spec) Path(cacheDir string) string {
	return filepath.Join(cacheDir, "adapters", fmt.Sprintf("%s-%s-%s-%s.json", s.Base.Name, s.Cut.Name, s.Recipe.Version, s.Key[:16]))
}

// Load returns the stored adapter of s, or nil when none was trained yet.
func (s *Spec) Load(cacheDir string) (*Adapter, error) {
	data, err := os.ReadFile(s.Path(cacheDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var a Adapter
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("adapter %s: %w", s.Path(cacheDir), err)
	}
	if a.Key != s.Key || len(a.Layers) == 0 {
		return nil, fmt.Errorf("adapter %s: holds adapter %.12s, want %.12s", s.Path(cacheDir), a.Key, s.Key)
	}
	return &a, nil
}

// Train trains the adapter of s on the base features in feats, which must hold
// every vector of s.Requests(), and stores it under cacheDir. Training is
// deterministic, so two processes that race to train one adapter store the
// same file; the rename makes either's complete.
func (s *Spec) Train(ctx context.Context, cacheDir string, feats *backbone.Cache, log io.Writer) (*Adapter, error) {
	val := s.Pool.valDogs(s.Recipe)
	key := s.Recipe.Augment.Key()
	a := &Adapter{Key: s.Key, Base: s.Base.Name + "/" + s.Cut.Name, BaseSHA256: s.Base.SHA256(), Recipe: s.Recipe, BelowPhotos: s.Pool.Below}
	label := map[int]int32{} // pool class -> label among training or validation dogs
	for c, name := range s.Pool.Data.Classes {
		if val[c] {
			label[c] = int32(len(a.ValDogs))
			a.ValDogs = append(a.ValDogs, name)
		} else {
			label[c] = int32(len(a.TrainDogs))
			a.TrainDogs = append(a.TrainDogs, name)
		}
	}
	tr := rows{Dim: s.Cut.Dim, Classes: len(a.TrainDogs)}
	vr := rows{Dim: s.Cut.Dim, Classes: len(a.ValDogs)}
	for _, ph := range s.Pool.Data.Photos {
		a.PhotoSHA256 = append(a.PhotoSHA256, ph.SHA256)
		dst, views := &tr, s.Recipe.Views
		if val[ph.Class] {
			dst, views = &vr, 0
		}
		for v := 0; v <= views; v++ {
			f, ok := feats.Get(backbone.ViewKey(ph.SHA256, key, v))
			if !ok {
				return nil, fmt.Errorf("adapter: features of %s view %d are not cached", ph.Rel, v)
			}
			dst.X = append(dst.X, f...)
			dst.Y = append(dst.Y, label[ph.Class])
		}
	}
	if log != nil {
		fmt.Fprintf(log, "  training adapter %s on %d dogs (%d rows), choosing its epoch on %d held-out dogs (%d photos); all have fewer than %d photos\n",
			s.Recipe.Version, len(a.TrainDogs), tr.n(), len(a.ValDogs), vr.n(), s.Pool.Below)
	}
	layers, res, err := fit(ctx, s.Recipe, tr, vr, log)
	if err != nil {
		return nil, err
	}
	a.Layers, a.BestEpoch, a.Epochs, a.ValNNBase, a.ValNN = layers, res.BestEpoch, res.Epochs, res.ValNNBase, res.ValNN
	return a, a.save(s.Path(cacheDir))
}

func (a *Adapter) save(path string) error {
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".adapter-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	// CreateTemp makes the file private; the cache is shared like the feature files.
	err = tmp.Chmod(0o644)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
