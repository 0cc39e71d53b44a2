package serve

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/internal/pgtest"
	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
)

// claimNext claims the experiment's next trial for worker.
func claimNext(t testing.TB, st *results.Store, expID int64, worker string) *results.Trial {
	t.Helper()
	tr, err := st.Claim(context.Background(), expID, worker, time.Hour, 3)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// sweep describes a made-up experiment written through the results API:
// variants x seeds trials over dogs, each tested on photos photos.
type sweep struct {
	name     string
	variants int
	seeds    int
	dogs     []string
	photos   int // test photos
	done     int // how many trials finish; the rest stay pending (-1: all)
	dataset  string
}

// write stores the sweep in st and returns the experiment's id. Trial i of
// variant v scores about 0.5 + 0.05 v: a sweep with a best variant.
func (sw sweep) write(t testing.TB, st *results.Store) int64 {
	t.Helper()
	ctx := context.Background()
	values, seeds := []string{}, []string{}
	for v := range sw.variants {
		values = append(values, fmt.Sprintf("%g", float64(v)/10))
	}
	for s := range sw.seeds {
		seeds = append(seeds, fmt.Sprint(s+1))
	}
	dataset := sw.dataset
	if dataset == "" {
		dataset = "photos" // a folder that is not there: the pages say "photo not found"
	}
	yaml := fmt.Sprintf("name: x\ndataset: {path: %s}\nbackbone: {name: mobilefacenet}\nsweep: {head.dropout: [%s]}\nseeds: [%s]\n",
		dataset, strings.Join(values, ", "), strings.Join(seeds, ", "))
	id, err := st.PutExperiment(ctx, results.Experiment{Name: sw.name, File: filepath.Join(t.TempDir(), "x.yaml"), ConfigYAML: yaml})
	if err != nil {
		t.Fatal(err)
	}
	var trials []results.Trial
	for v := range sw.variants {
		for s := range sw.seeds {
			i := v*sw.seeds + s
			trials = append(trials, results.Trial{Hash: fmt.Sprintf("%08x%056x", id, i), Index: i, Seed: int64(s + 1),
				VariantKey: fmt.Sprintf("head.dropout=%g", float64(v)/10), VariantJSON: fmt.Sprintf(`{"head.dropout":%g}`, float64(v)/10),
				ConfigJSON: `{"train":{"epochs":10}}`})
		}
	}
	if _, err := st.RegisterTrials(ctx, id, trials); err != nil {
		t.Fatal(err)
	}
	split := results.Split{Method: "phash", Classes: sw.dogs}
	for p := range sw.photos {
		split.Units = append(split.Units, results.SplitUnit{Photo: sw.photo(p), PhotoSHA256: fmt.Sprintf("%064x", p), Class: p % len(sw.dogs), Part: results.PartTest})
	}
	if err := st.PutSplits(ctx, id, []results.Split{split}); err != nil {
		t.Fatal(err)
	}
	done := sw.done
	if done < 0 {
		done = len(trials)
	}
	for range done {
		tr := claimNext(t, st, id, "w")
		if err := st.Finish(ctx, tr.ID, "w", sw.outcome(t, tr)); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// photo is the path of test photo p, relative to the dataset folder.
func (sw sweep) photo(p int) string {
	return fmt.Sprintf("%s/%d.png", sw.dogs[p%len(sw.dogs)], p)
}

func (sw sweep) outcome(t testing.TB, tr *results.Trial) results.Outcome {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(tr.Index), 7))
	v := tr.Index / sw.seeds
	k := len(sw.dogs)
	var labels []int
	var probs [][]float32
	var preds []results.Prediction
	for p := range sw.photos {
		truth := p % k
		pr := make([]float32, k)
		for c := range pr {
			pr[c] = rng.Float32() * 0.5
		}
		if rng.Float64() < 0.5+0.05*float64(v) {
			pr[truth] = 1
		}
		var sum float32
		for _, x := range pr {
			sum += x
		}
		for c := range pr {
			pr[c] /= sum
		}
		labels, probs = append(labels, truth), append(probs, pr)
		var top []results.ClassScore
		for _, c := range metrics.TopK(pr, 5) {
			top = append(top, results.ClassScore{Class: c, Score: float64(pr[c])})
		}
		preds = append(preds, results.Prediction{Photo: sw.photo(p), PhotoSHA256: fmt.Sprintf("%064x", p), True: truth, Pred: top[0].Class, TopK: top})
	}
	rep, err := metrics.Evaluate(labels, probs, sw.dogs)
	if err != nil {
		t.Fatal(err)
	}
	var eps []results.Epoch
	for e := 1; e <= 10; e++ {
		f := float64(e)
		eps = append(eps, results.Epoch{Epoch: e, TrainLoss: 2 / f, TrainAccuracy: 1 - 0.5/f, ValLoss: 2.2 / f, ValAccuracy: 0.9 - 0.5/f, Seconds: 0.1})
	}
	return results.Outcome{Epochs: eps, BestEpoch: 9, StoppedEpoch: 10, Classes: sw.dogs, Report: rep, Predictions: preds,
		DurationSeconds: 2, GoVersion: "go", GitCommit: "abc", BackboneSHA256: "sha"}
}

// dogs names n dogs.
func dogs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("dog%02d", i)
	}
	return out
}

// newStore makes an empty store file and returns its path and a writer
// (the sweep's side) on it.
func newStore(t testing.TB) (string, *results.Store) {
	t.Helper()
	return newStoreOf(t, "sqlite")
}

// newStoreOf is newStore of kind sqlite or postgres (a database of its own
// on the test's PostgreSQL server; its target is a URL).
func newStoreOf(t testing.TB, kind string) (string, *results.Store) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dogrun.db")
	if kind == "postgres" {
		path = pgtest.Database(t)
	}
	st, err := results.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return path, st
}

// dashboard serves the store at path, opened read-only as dogrun serve
// opens it, on a loopback port.
func dashboard(t testing.TB, path string, opt Options) (*Server, *httptest.Server) {
	t.Helper()
	ro, err := results.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	opt.Store = ro
	if opt.Poll == 0 {
		opt.Poll = 50 * time.Millisecond
	}
	if opt.Log == nil {
		opt.Log = testLog{t}
	}
	srv, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.CloseClientConnections() // event streams never go idle
		hs.Close()
		srv.Close()
		ro.Close()
	})
	return srv, hs
}

// testLog puts the dashboard's log into the test's.
type testLog struct{ t testing.TB }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Logf("%s", b)
	return len(b), nil
}

// get fetches url and returns its status and body.
func get(t testing.TB, url string) (int, string, http.Header) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b := new(bytes.Buffer)
	if _, err := b.ReadFrom(res.Body); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b.String(), res.Header
}

// writePNG writes a small PNG at path (a photo of a made-up dataset).
func writePNG(t testing.TB, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, tinyPNG(t), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tinyPNG is a 4 x 4 PNG.
func tinyPNG(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for i := range img.Pix {
		img.Pix[i] = byte(37 * i)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
