package backbone_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/internal/workspace"
)

// benchPhotos returns up to n DogFaceNet photos, or skips without the shared data.
func benchPhotos(b *testing.B, n int) []string {
	b.Helper()
	dir := needs.Photos(b)
	classes, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var photos []string
	for _, c := range classes {
		files, _ := filepath.Glob(filepath.Join(dir, c.Name(), "*.jpg"))
		slices.Sort(files)
		photos = append(photos, files...)
		if len(photos) >= n {
			return photos[:n]
		}
	}
	return photos
}

// photoRequests asks for the features of each photo as it is.
func photoRequests(b *testing.B, paths []string) []backbone.Request {
	b.Helper()
	reqs := make([]backbone.Request, len(paths))
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256(data)
		reqs[i] = backbone.Request{Path: p, Key: backbone.ViewKey(hex.EncodeToString(sum[:]), "", 0)}
	}
	return reqs
}

// BenchmarkBackbones measures, per backbone, images per second through the
// whole dogrun path (backbone.Extract: decode, render, fill, Forward, cache
// append, into an empty cache) and through bare ONNX Runtime (Forward on the
// same photos, filled beforehand, on the same sessions kept as busy), with the
// batch size and threads of `dogrun run`, and their ratio. Run it on a quiet machine:
//
//	go test ./backbone -run '^$' -bench Backbones -benchtime 2x
func BenchmarkBackbones(b *testing.B) {
	const photos, batch = 64, 8 // batch: `dogrun run -batch` default
	paths := benchPhotos(b, photos)
	if paths = paths[:len(paths)/batch*batch]; len(paths) == 0 {
		b.Skip("fewer photos than one batch")
	}
	reqs := photoRequests(b, paths)
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"mobilefacenet", "vggface2-mobilenet", "dlib-resnet34", "mobilenetv2-imagenet", "inceptionv3"} {
		b.Run(name, func(b *testing.B) {
			spec, err := backbone.Lookup(name)
			if err != nil {
				b.Skip(err)
			}
			m, err := backbone.Open(ctx, cacheDir, spec, "", 0)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			// The same photos, filled beforehand, for bare ORT.
			input := make([]float32, len(paths)*m.InputLen())
			for i, p := range paths {
				img, err := dataset.Decode(p)
				if err != nil {
					b.Fatal(err)
				}
				m.Fill(input[i*m.InputLen():], dataset.Render(img, dataset.ViewParams{}, spec.InputSize))
			}
			if err := backbone.ForwardAll(m, input[:batch*m.InputLen()*m.Sessions()], batch); err != nil { // warm-up
				b.Fatal(err)
			}
			extract := func() time.Duration {
				cache, err := backbone.OpenCache(b.TempDir(), spec, m.Cut)
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				n, err := backbone.Extract(ctx, m, cache, reqs, batch, nil)
				if err != nil || n != len(reqs) {
					b.Fatalf("extracted %d of %d: %v", n, len(reqs), err)
				}
				return time.Since(start)
			}
			forward := func() time.Duration {
				start := time.Now()
				if err := backbone.ForwardAll(m, input, batch); err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			var dogrunTime, ortTime time.Duration
			b.ResetTimer()
			for i := range b.N {
				// Alternate the order so that load drifts hit both paths alike.
				if i%2 == 0 {
					dogrunTime += extract()
					ortTime += forward()
				} else {
					ortTime += forward()
					dogrunTime += extract()
				}
			}
			imgs := float64(b.N * len(reqs))
			dogrun, ort := imgs/dogrunTime.Seconds(), imgs/ortTime.Seconds()
			b.ReportMetric(dogrun, "dogrun_img/s")
			b.ReportMetric(ort, "ort_img/s")
			b.ReportMetric(dogrun/ort, "ratio")
		})
	}
}

// BenchmarkSharedFeatureCache weighs the two ways workers on several
// machines can get a sweep's features (docs/scaling.md): each machine
// extracting them itself (per-machine caches), against opening the
// segments one machine stored in a shared cache folder. It reports images
// per second both ways, and how many times faster opening is, for each
// backbone that `dogrun setup` has fetched:
//
//	go test ./backbone -run '^$' -bench SharedFeatureCache -benchtime 2x
func BenchmarkSharedFeatureCache(b *testing.B) {
	const photos, batch = 256, 8
	paths := benchPhotos(b, photos)
	reqs := photoRequests(b, paths)
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"mobilefacenet", "vggface2-mobilenet", "dlib-resnet34", "mobilenetv2-imagenet"} {
		b.Run(name, func(b *testing.B) {
			spec, err := backbone.Lookup(name)
			if err != nil {
				b.Fatal(err)
			}
			if err := backbone.Fetched(cacheDir, spec.Source); err != nil { // never download in a benchmark
				b.Skip(err)
			}
			m, err := backbone.Open(ctx, cacheDir, spec, "", 0)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			var extractTime, openTime time.Duration
			b.ResetTimer()
			for range b.N {
				shared := b.TempDir()
				cache, err := backbone.OpenCache(shared, spec, m.Cut)
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if n, err := backbone.Extract(ctx, m, cache, reqs, batch, nil); err != nil || n != len(reqs) {
					b.Fatalf("extracted %d of %d: %v", n, len(reqs), err)
				}
				extractTime += time.Since(start)
				start = time.Now()
				other, err := backbone.OpenCache(shared, spec, m.Cut) // what another machine's worker does
				if err != nil || other.Len() != len(reqs) {
					b.Fatalf("opened %d of %d vectors: %v", other.Len(), len(reqs), err)
				}
				openTime += time.Since(start)
			}
			imgs := float64(b.N * len(reqs))
			extract, open := imgs/extractTime.Seconds(), imgs/openTime.Seconds()
			b.ReportMetric(extract, "extract_img/s")
			b.ReportMetric(open, "open_img/s")
			b.ReportMetric(open/extract, "x")
		})
	}
}
