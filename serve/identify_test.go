package serve

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/runner"
)

// The identify page says "unknown" when the trial's open-set rule rejects
// the photo, and names the dog when it accepts it, as dogrun predict
// decides for the same photo: a real open-set sweep on the shared photos,
// photos of dogs it never held, and of its own.
func TestIdentifySaysUnknown(t *testing.T) {
	if testing.Short() {
		t.Skip("real sweep")
	}
	const known = 14 // the first dogs with 12 photos: 8 trained on, 6 held out for the rule
	photos := photoFolder(t, known, 12)
	path, st := newStore(t)
	exp := realExperiment(t, "openset", photos, 300, 1, "open_set: {unknown_dogs: 6, target_far: 0.05}")
	var log strings.Builder
	if err := runSweep(context.Background(), exp, st, t.TempDir(), &log); err != nil {
		t.Fatalf("sweep: %v\n%s", err, log.String())
	}
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	_, hs := dashboard(t, path, Options{CacheDir: cacheDir, Poll: time.Second})

	ctx := context.Background()
	e, err := st.Experiment(ctx, "openset")
	if err != nil {
		t.Fatal(err)
	}
	trials, err := st.Trials(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	tr := trials[0]
	p, err := runner.NewPredictor(ctx, st, e, tr, cacheDir, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Rule == nil {
		t.Fatalf("trial %s has no open-set rule\n%s", tr.Hash[:12], log.String())
	}
	// Photos of the next shared dogs, which the experiment never held, and
	// of its own dogs.
	candidates := unseenPhotos(t, needs.Photos(t), known, 3, 12)
	own, err := filepath.Glob(filepath.Join(photos, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	candidates = append(candidates, own...)
	preds, err := p.Predict(ctx, candidates)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{} // photo: what the page must say
	var rejected, accepted bool
	for i, pr := range preds {
		switch {
		case pr.Err != nil:
			t.Fatalf("%s: %v", candidates[i], pr.Err)
		case pr.Unknown && !rejected:
			cases[candidates[i]], rejected = `<span class="decision unknown">unknown</span>`, true
		case !pr.Unknown && !accepted && p.Classes[pr.Top] != xssFolder:
			cases[candidates[i]], accepted = `<span class="decision">`+p.Classes[pr.Top]+`</span>`, true
		}
	}
	if !rejected || !accepted {
		t.Fatalf("of %d photos the rule (%+v) rejected one: %v, accepted one: %v", len(candidates), *p.Rule, rejected, accepted)
	}
	for photo, want := range cases {
		b, err := os.ReadFile(photo)
		if err != nil {
			t.Fatal(err)
		}
		status, body := postPhoto(t, hs.URL, tr.Hash, filepath.Base(photo), b, hs.URL)
		if status != 200 || !strings.Contains(body, want) || !strings.Contains(body, "Its open-set rule") {
			t.Errorf("%s: status %d, want %s and the rule; the page says:\n%.1500s", photo, status, want, after(body, "<main>"))
		}
	}
	t.Logf("the page answered as dogrun predict: %v", cases)
}

// unseenPhotos lists the photos of n shared dogs with at least min photos,
// after the first skip such dogs (those photoFolder copies).
func unseenPhotos(t *testing.T, shared string, skip, n, min int) []string {
	t.Helper()
	var out []string
	for _, dog := range sharedDogs(t, shared, min)[skip : skip+n] {
		files, err := filepath.Glob(filepath.Join(shared, dog, "*"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, files...)
	}
	return out
}
