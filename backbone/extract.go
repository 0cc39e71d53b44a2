package backbone

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dogrun/dogrun/dataset"
)

// Request asks for the features of one view of one photo.
type Request struct {
	Path   string
	Key    Key
	Params dataset.ViewParams // zero for the photo itself
}

// Missing returns the requests whose features are not cached yet, once per key.
func Missing(c *Cache, reqs []Request) []Request {
	return MissingAny([]*Cache{c}, reqs)
}

// MissingAny returns the requests whose features some of caches lack, once
// per key.
func MissingAny(caches []*Cache, reqs []Request) []Request {
	seen := map[Key]bool{}
	var out []Request
	for _, r := range reqs {
		if seen[r.Key] || inAll(caches, r.Key) {
			continue
		}
		seen[r.Key] = true
		out = append(out, r)
	}
	return out
}

func inAll(caches []*Cache, k Key) bool {
	for _, c := range caches {
		if _, ok := c.Get(k); !ok {
			return false
		}
	}
	return true
}

// Extract computes and caches the features of every request not in the cache,
// batch images per ONNX Runtime call. Each of the model's sessions gets a
// worker that decodes and renders a batch, runs it and stores it, so decoding
// one batch overlaps inference of another on the other cores. progress, if
// not nil, is called after each batch with the number of images done and to
// do.
func Extract(ctx context.Context, m *Model, c *Cache, reqs []Request, batch int, progress func(done, total int)) (int, error) {
	return ExtractCuts(ctx, m, []*Cache{c}, reqs, batch, progress)
}

// ExtractCuts is Extract for a model of several cuts, caches[i] holding
// m.Cuts[i]: a photo missing from any cache is computed once and stored in
// each cache that lacks it.
func ExtractCuts(ctx context.Context, m *Model, caches []*Cache, reqs []Request, batch int, progress func(done, total int)) (int, error) {
	if len(caches) != len(m.Cuts) {
		return 0, fmt.Errorf("backbone %s: %d caches for %d cuts", m.Spec.Name, len(caches), len(m.Cuts))
	}
	todo := MissingAny(caches, reqs)
	if len(todo) == 0 {
		return 0, nil
	}
	batch = max(batch, 1)
	// Views of one photo next to each other: each photo is decoded once per batch.
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].Path < todo[j].Path })
	var batches [][]Request
	for lo := 0; lo < len(todo); lo += batch {
		batches = append(batches, todo[lo:min(lo+batch, len(todo))])
	}
	inputs := make([][]float32, m.Sessions()) // one buffer per worker
	var (
		mu   sync.Mutex
		done int
	)
	stores := make([]*segmenter, len(caches))
	for i, c := range caches {
		stores[i] = &segmenter{c: c}
	}
	err := eachBatch(ctx, m, len(batches), func(worker, i int) error {
		if inputs[worker] == nil {
			inputs[worker] = make([]float32, batch*m.InputLen())
		}
		keys, feats, err := extractBatch(m, batches[i], inputs[worker])
		if err == nil {
			err = storeMissing(m, stores, keys, feats)
		}
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		done += len(batches[i])
		if progress != nil {
			progress(done, len(todo))
		}
		return nil
	})
	// What was extracted is kept, also when extraction stops early.
	for _, s := range stores {
		err = errors.Join(err, s.flush())
	}
	if err := ctx.Err(); err != nil && done < len(todo) {
		return done, fmt.Errorf("feature extraction stopped after %d of %d images: %w", done, len(todo), err)
	}
	return done, err
}

// segmenter gathers extracted features into segments of the cache: one is
// written when segmentVectors wait or the last was written a second ago or
// more (the first batch at once), so a killed extraction loses at most about
// a second of work, and a whole sweep's features make tens of segments, not
// one per batch.
type segmenter struct {
	c *Cache

	mu    sync.Mutex
	keys  []Key
	feats []float32
	last  time.Time
}

const segmentVectors = 512

func (s *segmenter) add(keys []Key, feats []float32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, keys...)
	s.feats = append(s.feats, feats...)
	if len(s.keys) < segmentVectors && time.Since(s.last) < time.Second {
		return nil
	}
	return s.flushLocked()
}

func (s *segmenter) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked()
}

func (s *segmenter) flushLocked() error {
	err := s.c.Put(s.keys, s.feats)
	s.keys, s.feats, s.last = s.keys[:0], s.feats[:0], time.Now()
	return err
}

// eachBatch calls run(worker, i) for every i in [0, n) from one worker per
// session, each taking the next i when its last one is done, until all are
// done, one fails or ctx ends; it returns the first failure or ctx's error.
func eachBatch(ctx context.Context, m *Model, n int, run func(worker, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for w := range m.Sessions() {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := run(w, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// extractBatch decodes, renders and runs one batch, and returns its keys
// and each cut's features.
func extractBatch(m *Model, reqs []Request, input []float32) ([]Key, [][]float32, error) {
	input = input[:len(reqs)*m.InputLen()]
	keys := make([]Key, len(reqs))
	var (
		srcPath string
		src     image.Image
	)
	for i, r := range reqs {
		if r.Path != srcPath {
			img, err := dataset.Decode(r.Path)
			if err != nil {
				return nil, nil, err
			}
			src, srcPath = img, r.Path
		}
		m.Fill(input[i*m.InputLen():(i+1)*m.InputLen()], dataset.Render(src, r.Params, m.Spec.InputSize))
		keys[i] = r.Key
	}
	feats, err := m.ForwardCuts(input, len(reqs))
	return keys, feats, err
}

// storeMissing hands each cut's features to its cache's segmenter, for the
// keys that cache lacks (a batch is computed when any cut's cache misses it).
func storeMissing(m *Model, stores []*segmenter, keys []Key, feats [][]float32) error {
	for i, s := range stores {
		var put []Key
		var vals []float32
		dim := m.Cuts[i].Dim
		for j, k := range keys {
			if _, ok := s.c.Get(k); !ok {
				put = append(put, k)
				vals = append(vals, feats[i][j*dim:(j+1)*dim]...)
			}
		}
		if len(put) > 0 {
			if err := s.add(put, vals); err != nil {
				return err
			}
		}
	}
	return nil
}

// ForwardAll runs inputs (whole batches of filled images) batch images per
// call on all sessions at once, as Extract does, and drops the features: bare
// ONNX Runtime, the reference the benchmarks hold Extract to.
func ForwardAll(m *Model, inputs []float32, batch int) error {
	batchLen := batch * m.InputLen()
	if batchLen == 0 || len(inputs)%batchLen != 0 {
		return fmt.Errorf("backbone %s: %d floats are not whole batches of %d images", m.Spec.Name, len(inputs), batch)
	}
	return eachBatch(context.Background(), m, len(inputs)/batchLen, func(_, i int) error {
		_, err := m.Forward(inputs[i*batchLen:(i+1)*batchLen], batch)
		return err
	})
}
