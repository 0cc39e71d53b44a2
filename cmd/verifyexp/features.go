package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
)

// features returns each photo's vector (the photo itself, no augmentation) of
// the named backbone at its default cut, extracting and caching the missing
// ones first with progress on log.
func features(ctx context.Context, cacheDir, name string, photos []dataset.Photo, threads int, log io.Writer) ([][]float32, error) {
	spec, err := backbone.Lookup(name)
	if err != nil {
		return nil, err
	}
	cut, err := spec.Cut("")
	if err != nil {
		return nil, err
	}
	cache, err := backbone.OpenCache(cacheDir, spec, cut)
	if err != nil {
		return nil, err
	}
	reqs := make([]backbone.Request, len(photos))
	for i, ph := range photos {
		reqs[i] = backbone.Request{Path: ph.Path, Key: backbone.ViewKey(ph.SHA256, "", 0)}
	}
	if missing := backbone.Missing(cache, reqs); len(missing) > 0 {
		fmt.Fprintf(log, "%s: extracting %d of %d photos' features into %s\n", name, len(missing), len(reqs), cache.Path)
		model, err := backbone.Open(ctx, cacheDir, spec, cut.Name, threads)
		if err != nil {
			return nil, err
		}
		defer model.Close()
		start, last := time.Now(), time.Time{}
		_, err = backbone.Extract(ctx, model, cache, missing, 8, func(done, total int) {
			if time.Since(last) < 10*time.Second && done < total {
				return
			}
			last = time.Now()
			fmt.Fprintf(log, "%s: %d/%d (%.0f img/s)\n", name, done, total, float64(done)/time.Since(start).Seconds())
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([][]float32, len(photos))
	for i, r := range reqs {
		f, ok := cache.Get(r.Key)
		if !ok {
			return nil, fmt.Errorf("%s: features of %s missing from %s after extraction", name, photos[i].Rel, cache.Path)
		}
		out[i] = f
	}
	return out, nil
}
