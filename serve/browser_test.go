package serve

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/results"
)

// artifactsDir keeps the browser test's screenshots for people (and CI) to
// look at; git ignores it. docs/dashboard.md shows some of them.
const artifactsDir = "testdata/artifacts"

// browser starts headless Debian chromium, as the report's browser test
// does, with a fresh profile and nothing fetched in the background.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := needs.Chromium(t)
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// watcher records what the page says went wrong: console errors,
// uncaught exceptions, failed loads and CSP violations from the browser's
// log, and any dialog (which an injected alert(1) would open).
type watcher struct {
	mu       sync.Mutex
	problems []string
	dialogs  []string
}

func watch(ctx context.Context) *watcher {
	w := &watcher{}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
				w.mu.Lock()
				w.problems = append(w.problems, fmt.Sprintf("%s %s (%s:%d)", m.Type, m.Text, m.URL, m.Line+1))
				w.mu.Unlock()
			}
		}
	}()
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			w.mu.Lock()
			w.dialogs = append(w.dialogs, ev.Message)
			w.mu.Unlock()
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return w
}

// take returns the problems seen since the last call.
func (w *watcher) take() []string {
	time.Sleep(300 * time.Millisecond) // let the last messages arrive
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.problems
	w.problems = nil
	return p
}

// within runs steps with a time limit of their own.
func within(ctx context.Context, d time.Duration, steps ...chromedp.Action[chromedp.Void]) error {
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return chromedp.Do(c, steps...)
}

// until waits until the expression is true on the page.
func until(expression string) chromedp.Action[chromedp.Void] {
	poll := chromedp.Poll[bool](expression)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := poll(ctx, t)
		return chromedp.Void{}, err
	}
}

// settled waits until every lazy part of the page has loaded (or failed).
const settled = `Array.from(document.querySelectorAll("[data-lazy]")).every(e => e.dataset.refreshed || e.dataset.failed)`

// pageCheck is what TestDashboardInBrowser asks of every page.
const pageCheck = `(() => {
  const broken = Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt || i.src.slice(0, 60));
  const failed = Array.from(document.querySelectorAll("[data-failed]")).map(e => e.dataset.part + ": " + e.dataset.failed);
  return {broken, failed, images: document.images.length, width: document.documentElement.scrollWidth,
    injected: document.querySelectorAll('img[src="x"], script:not([src])').length};
})()`

type pageState struct {
	Broken, Failed []string
	Images, Width  int
	Injected       int
}

// open loads a page of the dashboard and checks it: loaded, lazy parts in,
// every image shown, no console error, nothing injected, and it fits a
// laptop screen.
func open(t *testing.T, ctx context.Context, w *watcher, base, path string) pageState {
	t.Helper()
	// Lazy pictures load too, so that a broken one is seen.
	eager := chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("img[loading=lazy]").forEach(i => { i.loading = "eager"; })`)
	loaded := `Array.from(document.images).every(i => i.complete)`
	if err := within(ctx, 90*time.Second, chromedp.Navigate(base+path), until(settled), eager, until(loaded)); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	st, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](pageCheck))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(st.Broken) > 0 || len(st.Failed) > 0 || st.Injected > 0 {
		t.Errorf("%s: broken images %q, failed parts %q, injected elements %d", path, st.Broken, st.Failed, st.Injected)
	}
	if st.Width > 1280 {
		t.Errorf("%s is %d px wide in a 1280 px window", path, st.Width)
	}
	if p := w.take(); len(p) > 0 {
		t.Errorf("%s: the browser reported:\n%s", path, strings.Join(p, "\n"))
	}
	return st
}

// textOf is the text of the first element sel matches, "" when none does:
// unlike a query, it does not wait for one to appear.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return text
}

// shoot saves a screenshot as name: of the whole page (sel ""), of what
// the window shows ("window"), or of the element sel.
func shoot(t *testing.T, ctx context.Context, name, sel string) {
	t.Helper()
	var b []byte
	var err error
	switch sel {
	case "":
		b, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	case "window":
		b, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	default:
		b, err = chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(sel)))
	}
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(artifactsDir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", filepath.Join(artifactsDir, name))
}

// TestDashboardInBrowser drives the dashboard in headless chromium over a
// real sweep on the shared photos: the experiment page follows the sweep
// as it runs without a reload; every page loads with no console error and
// every image shown; a shared photo uploaded to the identify page is named
// as its dog; names from the data (a dog folder, a stored experiment and
// dog) stay text; the parallel coordinates filter by dragging. Screenshots
// go to testdata/artifacts/.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("real sweep and browser")
	}
	photos := photoFolder(t, 8, 12)
	ctx := browser(t)
	w := watch(ctx)
	path, st := newStore(t)
	// A stored experiment with hostile names, as another tool could write.
	xss := sweep{name: xssExperiment, variants: 2, seeds: 2, dogs: append([]string{xssDog}, dogs(3)...), photos: 12, done: 3, dataset: photos}
	xss.write(t, st)
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	_, hs := dashboard(t, path, Options{Poll: 200 * time.Millisecond, CacheDir: cacheDir})

	// The live page: a sweep starts, and the page follows it.
	exp := realExperiment(t, "dogs", photos, 1500, 3) // a few seconds a trial: long enough to watch
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	var log bytes.Buffer
	ran := make(chan error, 1)
	go func() { ran <- runSweep(runCtx, exp, st, t.TempDir(), &log) }()
	for {
		if _, err := st.Experiment(context.Background(), "dogs"); err == nil {
			break
		}
		select {
		case err := <-ran:
			t.Fatalf("the sweep ended before it registered: %v\n%s", err, log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	open(t, ctx, w, hs.URL, "/experiment?e=dogs")
	// A sentinel that a reload would lose, and every count the page shows.
	before, err := chromedp.Run(ctx, chromedp.Evaluate[string](`
		window.dogrunSentinel = "not reloaded";
		window.dogrunSeen = [document.querySelector("#status .count").textContent];
		new MutationObserver(() => {
			const c = document.querySelector("#status .count");
			if (c && window.dogrunSeen[window.dogrunSeen.length - 1] !== c.textContent) { window.dogrunSeen.push(c.textContent); }
		}).observe(document.getElementById("status"), {childList: true, subtree: true, characterData: true});
		window.dogrunSeen[0]`))
	if err != nil {
		t.Fatal(err)
	}
	// A trial shows up training, with its epochs, after a first one is
	// done; then the count of done trials moves on; and the page was never
	// reloaded.
	running := `window.dogrunSentinel === "not reloaded" && document.querySelector("#status .count").textContent !== "0 of 6 trials done" &&
		Array.from(document.querySelectorAll("#status table.running tr")).some(tr => tr.cells[2].textContent === "training" && tr.querySelector("progress").value > 0)`
	if err := within(ctx, 2*time.Minute, until(running)); err != nil {
		t.Fatalf("no trial shown training: %v\n%s", err, log.String())
	}
	shoot(t, ctx, "experiment-running.png", "window")
	before = textOf(t, ctx, "#status .count")
	moved := fmt.Sprintf(`window.dogrunSentinel === "not reloaded" && document.querySelector("#status .count").textContent !== %q`, before)
	if err := within(ctx, 2*time.Minute, until(moved)); err != nil {
		t.Fatalf("the done count stayed %q: %v\n%s", before, err, log.String())
	}
	after, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#status .count").textContent`))
	t.Logf("live: %q became %q without a reload", before, after)
	if err := <-ran; err != nil {
		t.Fatalf("sweep: %v\n%s", err, log.String())
	}
	final := `window.dogrunSentinel === "not reloaded" && document.querySelector("#status .count").textContent === "6 of 6 trials done"`
	if err := within(ctx, time.Minute, until(final)); err != nil {
		t.Fatalf("the page did not show the finished sweep: %v", err)
	}
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.dogrunSeen`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the page showed, in turn: %q", seen)
	if len(seen) < 3 {
		t.Errorf("the page showed %q: want the count to move on trial by trial, not only at the end", seen)
	}
	if p := w.take(); len(p) > 0 {
		t.Errorf("while the sweep ran, the browser reported:\n%s", strings.Join(p, "\n"))
	}

	// Every page, with the finished sweep.
	ctxStore := context.Background()
	dogsExp, _ := st.Experiment(ctxStore, "dogs")
	best, _, err := st.TrialPage(ctxStore, dogsExp.ID, results.TrialQuery{ByAccuracy: true, Limit: 6})
	if err != nil {
		t.Fatal(err)
	}
	bestHash, otherHash := best[0].Hash, ""
	for _, r := range best {
		if r.VariantKey != best[0].VariantKey {
			otherHash = r.Hash
			break
		}
	}
	xssExp, _ := st.Experiment(ctxStore, xssExperiment)
	xssTrials, _, _ := st.TrialPage(ctxStore, xssExp.ID, results.TrialQuery{Status: results.StatusDone, Limit: 1})
	q := url.QueryEscape
	open(t, ctx, w, hs.URL, "/")
	shoot(t, ctx, "experiments.png", "")
	open(t, ctx, w, hs.URL, "/experiment?e=dogs&by=head.dropout&ref=0.5")
	if text := textOf(t, ctx, "#verdicts"); !strings.Contains(text, "head.dropout=0.5\t3\t") || !strings.Contains(text, "Δ vs head.dropout=0.5") {
		t.Errorf("verdicts against dropout 0.5:\n%s", text)
	}
	shoot(t, ctx, "experiment.png", "")
	open(t, ctx, w, hs.URL, "/trial?id="+bestHash)
	shoot(t, ctx, "trial.png", "")
	open(t, ctx, w, hs.URL, "/compare?v="+bestHash+"&v="+otherHash)
	open(t, ctx, w, hs.URL, "/compare?e=dogs&e="+q(xssExperiment))
	open(t, ctx, w, hs.URL, "/identify")
	open(t, ctx, w, hs.URL, "/experiment?e="+q(xssExperiment))
	open(t, ctx, w, hs.URL, "/trial?id="+xssTrials[0].Hash)

	// Names from the data are text on the pages that show them.
	for _, c := range []struct{ path, text string }{
		{"/", xssExperiment},
		{"/experiment?e=" + q(xssExperiment), xssExperiment},
		{"/trial?id=" + xssTrials[0].Hash, xssDog},
		{"/trial?id=" + bestHash, xssFolder},
	} {
		open(t, ctx, w, hs.URL, c.path)
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		if err != nil || !strings.Contains(text, c.text) {
			t.Errorf("%s does not show %q as text (%v)", c.path, c.text, err)
		}
	}

	identify(t, ctx, w, hs.URL, st, dogsExp, bestHash, photos)
	brush(t, ctx, w, hs.URL)

	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.dialogs) > 0 {
		t.Errorf("pages opened dialogs (injected script ran): %q", w.dialogs)
	}
}

// identify uploads a shared photo that the best trial named right when it
// was tested, and expects the page to name that dog.
func identify(t *testing.T, ctx context.Context, w *watcher, base string, st *results.Store, exp results.Experiment, hash, photos string) {
	t.Helper()
	c := context.Background()
	_, tr, err := st.FindTrial(c, hash, "")
	if err != nil {
		t.Fatal(err)
	}
	names, err := st.ClassNames(c, tr.ID)
	if err != nil {
		t.Fatal(err)
	}
	preds, err := st.Predictions(c, tr.ID)
	if err != nil {
		t.Fatal(err)
	}
	var photo, dog string
	for _, p := range preds {
		if p.Pred == p.True && names[p.True] != xssFolder {
			photo, dog = filepath.Join(photos, filepath.FromSlash(p.Photo)), names[p.True]
			break
		}
	}
	if photo == "" {
		t.Fatal("the best trial named no test photo right")
	}
	open(t, ctx, w, base, "/identify?trial="+hash)
	if err := within(ctx, 2*time.Minute,
		chromedp.SetUploadFiles(chromedp.CSS(`input[name="photo"]`), []string{photo}),
		chromedp.Submit(chromedp.CSS(`form.identify`)),
		chromedp.WaitVisible(chromedp.CSS(`#answer`)),
		until(`Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)`),
	); err != nil {
		t.Fatalf("identify: %v", err)
	}
	if decision := textOf(t, ctx, "#answer .decision"); decision != dog {
		t.Errorf("identify named %q, want dog %s of %s; the page says:\n%s", decision, dog, photo, textOf(t, ctx, "main"))
	}
	if p := w.take(); len(p) > 0 {
		t.Errorf("identify: the browser reported:\n%s", strings.Join(p, "\n"))
	}
	shoot(t, ctx, "identify.png", "")
}

// brush drags along the first axis of the parallel coordinates over its
// lower half (dropout 0) and expects only those trials kept.
func brush(t *testing.T, ctx context.Context, w *watcher, base string) {
	t.Helper()
	open(t, ctx, w, base, "/experiment?e=dogs")
	if err := within(ctx, 30*time.Second, chromedp.Evaluate[chromedp.Void](`document.getElementById("parcoords").scrollIntoView()`),

		until(`document.querySelector(".pc-info").dataset.done === "6"`)); err != nil {
		t.Fatalf("parallel coordinates: %v", err)
	}
	box, err := chromedp.Run(ctx, chromedp.Evaluate[struct{ X, Y, H float64 }](
		`(() => { const r = document.querySelector("#parcoords canvas").getBoundingClientRect(); return {X: r.left, Y: r.top, H: r.height}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	x := box.X + 70 // the first axis: the canvas's left margin
	from, to := box.Y+box.H-28-2, box.Y+box.H/2
	if err := chromedp.Do(ctx,
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x, from, chromedp.ButtonLeft, chromedp.ClickCount(1)),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, (from+to)/2, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, to, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x, to, chromedp.ButtonLeft, chromedp.ClickCount(1)),
	); err != nil {
		t.Fatal(err)
	}
	kept, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector(".pc-info").dataset.kept`))
	if err != nil || kept != "3" {
		t.Errorf("after brushing dropout 0: %q kept (%v), want the 3 trials of dropout 0; the page says %q", kept, err, textOf(t, ctx, ".pc-info"))
	}
	shoot(t, ctx, "parcoords.png", "#parcoords")
	if p := w.take(); len(p) > 0 {
		t.Errorf("brushing: the browser reported:\n%s", strings.Join(p, "\n"))
	}
}
