// Command bench measures dogrun against its peers on real photos and prints a
// Markdown table whose ratios are all measured in the same run
// (docs/benchmarks.md, "Speed"). It takes minutes: run it on an otherwise idle machine.
//
//	make bench   # installs python3-torch if missing, then:
//	go run ./cmd/bench -data ../shared/data/dogfacenet
//
// It compares:
//   - feature extraction end to end (decode, augment, render, ONNX Runtime,
//     feature cache) with bare ONNX Runtime on pre-rendered inputs;
//   - a 12-trial head sweep with the feature cache, with recomputing features
//     for every trial, and with the bare work (one extraction and 12 fits);
//   - a head training epoch with PyTorch's on the same features;
//   - experiments/dropout.yaml's 24 fits trained together with PyTorch
//     training them one after another, and the peak RSS of the former;
//   - the peak RSS of a run over the whole set with 8 views per photo.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/runner"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/stats"
	"github.com/dogrun/dogrun/train"
)

//go:embed torch_head.py
var torchScript []byte

type config struct {
	data          string
	dogs, minImgs int
	views, epochs int
	threads       int
	batch         int
	rssViews      int
	rssDogs       int
	recompute     int
	rounds        int
	skip          string
	python        string
	out           string
	sweep         string
	sweepRounds   int
	verbose       bool
	childRSS      bool
	childSweep    bool
	childRun      bool
}

func main() {
	var c config
	flag.StringVar(&c.data, "data", "", "folder-per-dog photos (required), e.g. ../shared/data/dogfacenet")
	flag.IntVar(&c.dogs, "dogs", 40, "dogs in the sweep and extraction benchmarks")
	flag.IntVar(&c.minImgs, "min", 8, "min_images_per_class of the sweep")
	flag.IntVar(&c.views, "views", 2, "augmented views per training photo in the sweep")
	flag.IntVar(&c.epochs, "epochs", 20, "epochs per trial (no early stopping)")
	flag.IntVar(&c.threads, "threads", 2, "ONNX Runtime and PyTorch threads")
	flag.IntVar(&c.batch, "batch", 8, "images per ONNX Runtime call")
	flag.IntVar(&c.rssViews, "rss-views", 8, "views per training photo for the peak-RSS run over the whole set")
	flag.IntVar(&c.rssDogs, "rss-dogs", 0, "dogs in the peak-RSS run; 0 = the whole set (smaller only to smoke-test)")
	flag.IntVar(&c.recompute, "recompute", 3, "fresh extractions timed for the recompute-per-trial case (their mean stands for each of the 12)")
	flag.IntVar(&c.rounds, "rounds", 5, "alternating end-to-end and bare ONNX Runtime extractions; the table gives their medians")
	flag.StringVar(&c.skip, "skip", "", "comma-separated parts to leave out: extract,sweep,torch,dropout,rss")
	flag.StringVar(&c.python, "python", "/usr/bin/python3", "Python with PyTorch (Debian's python3-torch installs into /usr/bin/python3)")
	flag.StringVar(&c.out, "out", "", "also write the table to this file")
	flag.BoolVar(&c.verbose, "v", false, "show the runs' progress on stderr")
	flag.StringVar(&c.sweep, "sweep", "experiments/dropout.yaml", "experiment whose trials (one feature set and split) the dropout part trains with train.FitMany and with PyTorch")
	flag.IntVar(&c.sweepRounds, "sweep-rounds", 1, "alternating rounds of the dropout part (PyTorch takes about half an hour a round on 2 cores)")
	flag.BoolVar(&c.childRSS, "child-rss", false, "internal: be the peak-RSS child")
	flag.BoolVar(&c.childSweep, "child-sweep", false, "internal: be the child that trains -sweep's heads")
	flag.BoolVar(&c.childRun, "child-run", false, "internal: be the child that runs -sweep as dogrun run does")
	flag.Parse()
	if c.data == "" {
		flag.Usage()
		os.Exit(2)
	}
	var err error
	if c.data, err = filepath.Abs(c.data); err != nil {
		fail(err)
	}
	ctx := context.Background()
	if c.childRSS {
		if err := rssChild(ctx, c); err != nil {
			fail(err)
		}
		return
	}
	if c.childSweep {
		if err := sweepChild(ctx, c); err != nil {
			fail(err)
		}
		return
	}
	if c.childRun {
		if err := runChild(ctx, c); err != nil {
			fail(err)
		}
		return
	}
	if err := run(ctx, c, os.Args[1:]); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func (c config) skipped(part string) bool { return slices.Contains(strings.Split(c.skip, ","), part) }

func (c config) log() io.Writer {
	if c.verbose {
		return os.Stderr
	}
	return io.Discard
}

// row is one line of the table.
type row struct{ what, dogrun, ref, ratio, goal, met string }

func run(ctx context.Context, c config, args []string) error {
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "dogrun-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	exp, err := sweepExperiment(tmp, c)
	if err != nil {
		return err
	}
	plan, err := runner.NewPlan(exp, io.Discard)
	if err != nil {
		return err
	}
	if len(plan.Trials) != 12 {
		return fmt.Errorf("sweep has %d trials, want 12", len(plan.Trials))
	}
	reqs := plan.Requests(plan.Trials[0])
	fmt.Fprintf(os.Stderr, "bench: %d dogs, %d photos, %d images per extraction (%d views), 12 trials of %d epochs\n",
		len(plan.Data.Classes), len(plan.Data.Photos), len(reqs), c.views, c.epochs)

	var rows []row
	var fits *fitTimes
	var extractSeconds float64
	if !c.skipped("sweep") || !c.skipped("torch") {
		step("one extraction and 12 fits, library calls only")
		extractSeconds, fits, err = bareWork(ctx, c, cacheDir, fresh(tmp, cacheDir, "c"), plan)
		if err != nil {
			return err
		}
	}
	if !c.skipped("extract") {
		r, err := extractionRow(ctx, c, tmp, cacheDir, reqs)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	if !c.skipped("sweep") {
		step("12-trial sweep with the feature cache (dogrun run)")
		start := time.Now()
		st, err := results.Open(filepath.Join(tmp, "a.db"))
		if err != nil {
			return err
		}
		sum, err := runner.Run(ctx, exp, runner.Options{Store: st, RunsDir: filepath.Join(tmp, "runs"),
			CacheDir: fresh(tmp, cacheDir, "a"), Threads: c.threads, Batch: c.batch, Log: c.log()})
		st.Close()
		if err != nil {
			return err
		}
		if sum.Trained != 12 {
			return fmt.Errorf("sweep trained %d of 12", sum.Trained)
		}
		withCache := time.Since(start).Seconds()

		step(fmt.Sprintf("%d fresh extractions for the recompute-per-trial case", c.recompute))
		var ext []float64
		for i := range c.recompute {
			s, err := extractOnce(ctx, c, cacheDir, fresh(tmp, cacheDir, fmt.Sprintf("r%d", i)), reqs)
			if err != nil {
				return err
			}
			ext = append(ext, s)
		}
		recompute := 12*mean(ext) + fits.total
		bareSweep := extractSeconds + fits.total
		rows = append(rows, judge(row{
			what:   fmt.Sprintf("12-trial head sweep, s (%d epochs each)", c.epochs),
			dogrun: fmt.Sprintf("%.1f with the feature cache", withCache),
			ref:    fmt.Sprintf("%.1f recomputing features per trial", recompute),
			ratio:  fmt.Sprintf("%.1fx faster", recompute/withCache),
			goal:   ">= 10x faster",
		}, recompute/withCache >= 10))
		rows = append(rows, judge(row{
			what:   "12-trial head sweep, s",
			dogrun: fmt.Sprintf("%.1f with the feature cache", withCache),
			ref:    fmt.Sprintf("%.1f one extraction (%.1f) + 12 fits (%.1f)", bareSweep, extractSeconds, fits.total),
			ratio:  fmt.Sprintf("%.2fx", withCache/bareSweep),
			goal:   "<= 1.3x",
		}, withCache/bareSweep <= 1.3))
	}
	if !c.skipped("torch") {
		r, err := headEpochRow(ctx, c, tmp, plan, fits)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	if !c.skipped("dropout") {
		rs, err := sweepRows(ctx, c, tmp)
		if err != nil {
			return err
		}
		rows = append(rows, rs...)
	}
	if !c.skipped("rss") {
		step(fmt.Sprintf("peak RSS (%d views) in a child process", c.rssViews))
		r, err := rssRow(c)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	return printTable(c, args, rows)
}

func step(s string) { fmt.Fprintf(os.Stderr, "bench: %s ...\n", s) }

func judge(r row, ok bool) row {
	r.met = "no"
	if ok {
		r.met = "yes"
	}
	return r
}

// sweepExperiment is a 12-trial sweep (3 dropouts x 2 learning rates x 2
// seeds) of experiments/dropout.yaml's head over c.dogs dogs.
func sweepExperiment(dir string, c config) (*schemas.Experiment, error) {
	yaml := fmt.Sprintf(`name: bench
dataset: {path: %q, min_images_per_class: %d, max_classes: %d, seed: 1, test: 0.2, val: 0.1}
backbone: {name: %s}
head: {hidden: [512, 256, 128], activation: relu}
augmentation: {views: %d, rotation_deg: 15, shift: 0.05, zoom: [0.9, 1.25], brightness: [0.8, 1.2], hflip: true}
train: {optimizer: adam, lr: 0.001, batch_size: 32, epochs: %d, early_stopping: {patience: 0}}
sweep: {head.dropout: [0.0, 0.25, 0.5], train.lr: [0.001, 0.003]}
seeds: [1, 2]
`, c.data, c.minImgs, c.dogs, benchBackbone, c.views, c.epochs)
	path := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	return schemas.Load(path)
}

// fresh is a cache folder with the fetched models but no features.
func fresh(tmp, cacheDir, name string) string {
	dir := filepath.Join(tmp, "cache-"+name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(err)
	}
	if err := os.Symlink(filepath.Join(cacheDir, "npm"), filepath.Join(dir, "npm")); err != nil {
		fail(err)
	}
	return dir
}

// benchBackbone is the model every measurement uses: the quickstart's.
const benchBackbone = "mobilefacenet"

func openModel(ctx context.Context, c config, cacheDir string) (*backbone.Model, backbone.Spec, backbone.Cut, error) {
	spec, err := backbone.Lookup(benchBackbone)
	if err != nil {
		return nil, spec, backbone.Cut{}, err
	}
	cut, err := spec.Cut("")
	if err != nil {
		return nil, spec, cut, err
	}
	m, err := backbone.Open(ctx, cacheDir, spec, cut.Name, c.threads)
	return m, spec, cut, err
}

// extractOnce times backbone.Extract of reqs into an empty cache, the model
// already loaded.
func extractOnce(ctx context.Context, c config, cacheDir, dir string, reqs []backbone.Request) (float64, error) {
	m, spec, cut, err := openModel(ctx, c, cacheDir)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	cache, err := backbone.OpenCache(dir, spec, cut)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	n, err := backbone.Extract(ctx, m, cache, reqs, c.batch, nil)
	if err != nil {
		return 0, err
	}
	if n != len(uniqueKeys(reqs)) {
		return 0, fmt.Errorf("extracted %d of %d images", n, len(reqs))
	}
	return time.Since(start).Seconds(), nil
}

func uniqueKeys(reqs []backbone.Request) map[backbone.Key]bool {
	keys := map[backbone.Key]bool{}
	for _, r := range reqs {
		keys[r.Key] = true
	}
	return keys
}

// fitTimes are the 12 trials' train.Fit times and trial 0's rows.
type fitTimes struct {
	total float64
	rows  int
	train train.Data
	val   train.Data
}

// bareWork is the sweep's unavoidable work, done with library calls and no
// runner, store or files: one extraction, then 12 fits.
func bareWork(ctx context.Context, c config, cacheDir, dir string, plan *runner.Plan) (float64, *fitTimes, error) {
	m, spec, cut, err := openModel(ctx, c, cacheDir)
	if err != nil {
		return 0, nil, err
	}
	cache, err := backbone.OpenCache(dir, spec, cut)
	if err != nil {
		m.Close()
		return 0, nil, err
	}
	start := time.Now()
	if _, err := backbone.Extract(ctx, m, cache, plan.Requests(plan.Trials[0]), c.batch, nil); err != nil {
		m.Close()
		return 0, nil, err
	}
	extract := time.Since(start).Seconds()
	m.Close()
	ft := &fitTimes{}
	for i, t := range plan.Trials {
		tr, val, _, err := plan.Sets(cache, t)
		if err != nil {
			return 0, nil, err
		}
		start := time.Now()
		if _, _, err := train.Fit(ctx, runner.FitConfig(t), tr, val, len(plan.Data.Classes), nil); err != nil {
			return 0, nil, err
		}
		ft.total += time.Since(start).Seconds()
		if i == 0 {
			ft.rows, ft.train, ft.val = tr.Rows(), tr, val
		}
	}
	return extract, ft, nil
}

// extractionRow alternates c.rounds end-to-end extractions into empty caches
// with bare ONNX Runtime passes over the same images, pre-rendered, so drift
// in the machine's speed hits both sides alike; it reports the medians.
func extractionRow(ctx context.Context, c config, tmp, cacheDir string, reqs []backbone.Request) (row, error) {
	inputs, err := renderAll(c, reqs)
	if err != nil {
		return row{}, err
	}
	var e2e, bare, ratio []float64
	for i := range c.rounds {
		step(fmt.Sprintf("extraction round %d/%d: end to end, then bare ONNX Runtime", i+1, c.rounds))
		s, err := extractOnce(ctx, c, cacheDir, fresh(tmp, cacheDir, fmt.Sprintf("e%d", i)), reqs)
		if err != nil {
			return row{}, err
		}
		b, err := bareORT(ctx, c, cacheDir, inputs)
		if err != nil {
			return row{}, err
		}
		e2e, bare = append(e2e, float64(len(reqs))/s), append(bare, b)
		ratio = append(ratio, e2e[i]/b)
	}
	r := stats.Median(ratio)
	return judge(row{
		what:   fmt.Sprintf("feature extraction, images/s (%d images, batch %d, %d threads; median of %d alternating rounds)", len(reqs), c.batch, c.threads, c.rounds),
		dogrun: fmt.Sprintf("%.1f end to end", stats.Median(e2e)),
		ref:    fmt.Sprintf("%.1f bare ONNX Runtime on the same images, pre-rendered", stats.Median(bare)),
		ratio:  fmt.Sprintf("%.2fx", r),
		goal:   ">= 0.9x",
	}, r >= 0.9), nil
}

// renderAll decodes and renders reqs into one input buffer, batch-aligned (a
// short last batch is dropped).
func renderAll(c config, reqs []backbone.Request) ([]float32, error) {
	spec, err := backbone.Lookup(benchBackbone)
	if err != nil {
		return nil, err
	}
	n := len(reqs) / c.batch * c.batch
	if n == 0 {
		return nil, errors.New("too few images for one batch")
	}
	size := spec.InputLen()
	inputs := make([]float32, n*size)
	var src string
	var img image.Image
	for i, r := range reqs[:n] {
		if r.Path != src {
			d, err := dataset.Decode(r.Path)
			if err != nil {
				return nil, err
			}
			src, img = r.Path, d
		}
		spec.Fill(inputs[i*size:(i+1)*size], dataset.Render(img, r.Params, spec.InputSize))
	}
	return inputs, nil
}

// bareORT times ONNX Runtime alone on pre-rendered inputs: the sessions
// dogrun uses (their threads and denormal flags), kept as busy as Extract
// keeps them, without decoding, rendering or the cache. A default session
// called from any goroutine can be several times slower (see
// backbone/session.go).
func bareORT(ctx context.Context, c config, cacheDir string, inputs []float32) (imgPerSec float64, err error) {
	m, _, _, err := openModel(ctx, c, cacheDir)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	warm := c.batch * m.InputLen() * m.Sessions()
	if err := backbone.ForwardAll(m, inputs[:warm], c.batch); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := backbone.ForwardAll(m, inputs, c.batch); err != nil {
		return 0, err
	}
	return float64(len(inputs)/m.InputLen()) / time.Since(start).Seconds(), nil
}

// meanEpoch leaves out the first epoch, which also compiles (GoMLX) or warms
// up allocators (PyTorch).
func meanEpoch(at func(int) float64, n int) float64 {
	var xs []float64
	for i := min(1, n-1); i < n; i++ {
		xs = append(xs, at(i))
	}
	return mean(xs)
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// rssRow runs the whole set in a child process and reads its peak RSS.
func rssRow(c config) (row, error) {
	self, err := os.Executable()
	if err != nil {
		return row{}, err
	}
	args := []string{"-child-rss", "-data", c.data, "-rss-views", fmt.Sprint(c.rssViews),
		"-rss-dogs", fmt.Sprint(c.rssDogs),
		"-threads", fmt.Sprint(c.threads), "-batch", fmt.Sprint(c.batch), "-epochs", fmt.Sprint(c.epochs)}
	if c.verbose {
		args = append(args, "-v")
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		return row{}, fmt.Errorf("peak-RSS child: %w", err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return row{}, errors.New("no rusage on this system")
	}
	mib := float64(ru.Maxrss) / 1024 // Linux reports KiB
	set := "whole set"
	if c.rssDogs > 0 {
		set = fmt.Sprintf("%d dogs (smoke test, not the whole set)", c.rssDogs)
	}
	return judge(row{
		what:   fmt.Sprintf("peak RSS, %s, %d views per training photo, 1 trial (%s)", set, c.rssViews, strings.TrimSpace(string(out))),
		dogrun: fmt.Sprintf("%.0f MiB", mib),
		ref:    fmt.Sprintf("wall time %s", time.Since(start).Round(time.Second)),
		goal:   "<= 2048 MiB",
	}, mib <= 2048), nil
}

// rssChild runs one trial over every dog with at least 2 photos and prints
// what it did, for rssRow to measure.
func rssChild(ctx context.Context, c config) error {
	tmp, err := os.MkdirTemp("", "dogrun-bench-rss-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	yaml := fmt.Sprintf(`name: rss
dataset: {path: %q, min_images_per_class: 2, max_classes: %d, test: 0.2, val: 0.1}
backbone: {name: %s}
head: {hidden: [512, 256, 128]}
augmentation: {views: %d, rotation_deg: 15, shift: 0.05, zoom: [0.9, 1.25], brightness: [0.8, 1.2], hflip: true}
train: {batch_size: 32, epochs: %d, early_stopping: {patience: 0}}
seeds: [1]
`, c.data, c.rssDogs, benchBackbone, c.rssViews, max(1, c.epochs/10))
	path := filepath.Join(tmp, "rss.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		return err
	}
	exp, err := schemas.Load(path)
	if err != nil {
		return err
	}
	sum, _, err := runFresh(ctx, c, exp, true)
	if err != nil {
		return err
	}
	fmt.Printf("%d images extracted", sum.FeaturesComputed)
	return nil
}

// runFresh is dogrun run of exp into a new results database and runs
// folder, with the shared feature cache or, with emptyCache, a cache holding
// the fetched models only; every trial must train. It returns the run's
// summary and wall time in seconds.
func runFresh(ctx context.Context, c config, exp *schemas.Experiment, emptyCache bool) (runner.Summary, float64, error) {
	tmp, err := os.MkdirTemp("", "dogrun-bench-run-")
	if err != nil {
		return runner.Summary{}, 0, err
	}
	defer os.RemoveAll(tmp)
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		return runner.Summary{}, 0, err
	}
	if emptyCache {
		cacheDir = fresh(tmp, cacheDir, "run")
	}
	st, err := results.Open(filepath.Join(tmp, "r.db"))
	if err != nil {
		return runner.Summary{}, 0, err
	}
	defer st.Close()
	start := time.Now()
	sum, err := runner.Run(ctx, exp, runner.Options{Store: st, RunsDir: filepath.Join(tmp, "runs"),
		CacheDir: cacheDir, Threads: c.threads, Batch: c.batch, Log: c.log()})
	if err == nil && sum.Trained != sum.Planned {
		err = fmt.Errorf("trained %d of %d", sum.Trained, sum.Planned)
	}
	return sum, time.Since(start).Seconds(), err
}

func printTable(c config, args []string, rows []row) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Command: `go run ./cmd/bench %s` on %s, %d CPUs, %s.\n\n", strings.Join(args, " "), cpuName(), runtime.NumCPU(), runtime.Version())
	b.WriteString("| measure | dogrun | reference | ratio | goal | met |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.what, r.dogrun, r.ref, r.ratio, r.goal, r.met)
	}
	fmt.Print(b.String())
	if c.out != "" {
		return os.WriteFile(c.out, []byte(b.String()), 0o644)
	}
	return nil
}

func cpuName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
