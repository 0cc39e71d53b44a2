package backbone

import (
	"context"
	"fmt"
	"image"
	"sort"

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
	seen := map[Key]bool{}
	var out []Request
	for _, r := range reqs {
		if _, ok := c.Get(r.Key); ok || seen[r.Key] {
			continue
		}
		seen[r.Key] = true
		out = append(out, r)
	}
	return out
}

type filledBatch struct {
	keys  []Key
	input []float32
	err   error
}

// Extract computes and caches the features of every request not in the cache, batch
// images per ONNX Runtime call. Decoding and rendering run in a goroutine beside the
// session so the CPU is not idle between batches. progress, if not nil, is called
// after each batch with the number of images done and to do.
func Extract(ctx context.Context, m *Model, c *Cache, reqs []Request, batch int, progress func(done, total int)) (int, error) {
	todo := Missing(c, reqs)
	if len(todo) == 0 {
		return 0, nil
	}
	if batch < 1 {
		batch = 1
	}
	// Views of one photo next to each other: each photo is decoded once.
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].Path < todo[j].Path })
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan filledBatch, 1)
	go func() {
		defer close(batches)
		var (
			cur     filledBatch
			srcPath string
			src     image.Image
		)
		send := func(b filledBatch) bool {
			select {
			case batches <- b:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, r := range todo {
			if r.Path != srcPath {
				img, err := dataset.Decode(r.Path)
				if err != nil {
					send(filledBatch{err: err})
					return
				}
				src, srcPath = img, r.Path
			}
			if cur.input == nil {
				cur.input = make([]float32, 0, batch*m.InputLen())
			}
			n := len(cur.input)
			cur.input = cur.input[:n+m.InputLen()]
			m.Fill(cur.input[n:], dataset.Render(src, r.Params, m.Spec.InputSize))
			cur.keys = append(cur.keys, r.Key)
			if len(cur.keys) == batch {
				if !send(cur) {
					return
				}
				cur = filledBatch{}
			}
		}
		if len(cur.keys) > 0 {
			send(cur)
		}
	}()
	done := 0
	for b := range batches {
		if b.err != nil {
			return done, b.err
		}
		if err := ctx.Err(); err != nil {
			return done, err
		}
		feats, err := m.Forward(b.input, len(b.keys))
		if err != nil {
			return done, err
		}
		if err := c.Put(b.keys, feats); err != nil {
			return done, err
		}
		done += len(b.keys)
		if progress != nil {
			progress(done, len(todo))
		}
	}
	if done != len(todo) {
		return done, fmt.Errorf("feature extraction stopped after %d of %d images: %w", done, len(todo), ctx.Err())
	}
	return done, nil
}
