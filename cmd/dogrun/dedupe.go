package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/dedupe"
	"github.com/dogrun/dogrun/internal/english"
)

type dedupeCommand struct{ stdout, stderr io.Writer }

const dedupeUsage = `Usage: dogrun dedupe [flags] DIR

Finds near-duplicate photos in DIR (one sub-folder per dog): copies, burst
shots, re-crops, flips, re-encodes and exposure changes of one shot. Prints the
groups, checks across folders for the same photo filed under two dogs, and
writes every group to a CSV list. Nothing is deleted: -move moves all but the
first photo of each group out of DIR, and only when asked.

Methods:
  align  local features matched under one rotation, scale and shift, then the
         photos registered and correlated (the default): finds re-aligned
         burst shots; -threshold is the smallest correlation
  phash  perceptual hash searched over re-crops and flips (what experiments'
         split.group uses); -threshold is a distance in bits
  ssim   the original Keras scripts' criterion (grayscale SSIM, 7x7
         windows, as scikit-image computes it), for parity; -threshold is a
         similarity (1 = identical)

-calibrate N measures every method on edited copies of N photos of DIR and
on the pairs of real photos labelled by eye (dedupe/labelled/pairs.csv)
that DIR holds.

`

func (c *dedupeCommand) Run(ctx context.Context, args []string) error {
	fs := newFlagSet("dedupe", dedupeUsage, c.stderr)
	method := fs.String("method", dedupe.MethodAlign, "align, phash or ssim")
	threshold := fs.Float64("threshold", 0, "align: smallest correlation; phash: largest distance in bits; ssim: smallest similarity (default: the method's calibrated value, 0.75, 8 or 0.95)")
	list := fs.String("list", "near-duplicates.csv", "CSV file to write the groups to")
	move := fs.String("move", "", "move every photo but the first of each group into this folder (keeping class sub-folders)")
	minImages := fs.Int("min-images", 1, "skip classes with fewer photos")
	calibrate := fs.Int("calibrate", 0, "edit copies of this many photos, and report each method's recall and false-merge rate on them and on the labelled real pairs, then stop")
	dirs, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) != 1 {
		fs.Usage()
		return fmt.Errorf("%w: dedupe needs one DIR", errUsage)
	}
	if *method != dedupe.MethodAlign && *method != dedupe.MethodPHash && *method != dedupe.MethodSSIM {
		fs.Usage()
		return fmt.Errorf("%w: -method must be align, phash or ssim, got %q", errUsage, *method)
	}
	d, err := dataset.Load(dirs[0], dataset.LoadOptions{MinImagesPerClass: *minImages})
	if err != nil {
		return err
	}
	if *calibrate > 0 {
		return c.calibrate(d, *calibrate)
	}
	if *threshold == 0 {
		*threshold = dedupe.DefaultThreshold(*method)
	}
	fmt.Fprintf(c.stdout, "%s: %s of %s; method %s: near-duplicates at %s\n", dirs[0],
		english.Count(len(d.Photos), "photo"), english.Count(len(d.Classes), "class|classes"), *method, thresholdText(*method, *threshold))
	start, last := time.Now(), time.Now()
	res, err := dedupe.Find(d, dedupe.Options{Method: *method, Threshold: *threshold, Progress: func(done, total int) {
		if time.Since(last) >= 2*time.Second || done == total {
			last = time.Now()
			fmt.Fprintf(c.stderr, "  read %d/%d photos (%s)\n", done, total, time.Since(start).Round(time.Second))
		}
	}})
	if err != nil {
		return err
	}
	score := map[[2]int]float64{}
	for _, m := range res.Pairs {
		score[[2]int{m.A, m.B}] = m.Score
	}
	multi := res.Multi()
	grouped := 0
	for _, g := range multi {
		grouped += len(g)
	}
	fmt.Fprintf(c.stdout, "%s %s %s:\n", english.Count(len(multi), "near-duplicate group"), english.Noun(len(multi), "holds|hold"), english.Count(grouped, "photo"))
	for _, g := range multi {
		var names []string
		for _, i := range g {
			names = append(names, d.Photos[i].Rel)
		}
		var links []string
		for x, a := range g {
			for _, b := range g[x+1:] {
				if s, ok := score[[2]int{a, b}]; ok {
					links = append(links, fmt.Sprintf("%s~%s %s", base(d.Photos[a].Rel), base(d.Photos[b].Rel), scoreText(*method, s)))
				}
			}
		}
		fmt.Fprintf(c.stdout, "  %s  (%s)\n", strings.Join(names, " "), strings.Join(links, ", "))
	}
	fmt.Fprintf(c.stdout, "%s filed under two dogs at once:\n", english.Count(len(res.CrossClass), "photo pair"))
	crossMethod := *method
	if crossMethod == dedupe.MethodAlign {
		crossMethod = dedupe.MethodPHash // align finds copies across dogs by their plain hashes
	}
	for _, m := range res.CrossClass {
		fmt.Fprintf(c.stdout, "  %s = %s (%s)\n", d.Photos[m.A].Rel, d.Photos[m.B].Rel, scoreText(crossMethod, m.Score))
	}
	if err := writeList(*list, d, res); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "wrote %s\n", *list)
	if *move == "" {
		return nil
	}
	moved, err := dedupe.Move(d, multi, *move)
	fmt.Fprintf(c.stdout, "moved %s to %s\n", english.Count(moved, "photo"), *move)
	return err
}

func base(rel string) string { return rel[strings.LastIndex(rel, "/")+1:] }

// scoreText is a match's score in its method's unit: an align
// correlation, a phash distance in bits, an SSIM similarity (1 = identical).
func scoreText(method string, s float64) string {
	switch method {
	case dedupe.MethodSSIM:
		return fmt.Sprintf("SSIM %.3f", s)
	case dedupe.MethodAlign:
		return fmt.Sprintf("correlation %.2f", s)
	}
	return english.Count(int(s), "bit")
}

// thresholdText is -threshold in its method's terms.
func thresholdText(method string, t float64) string {
	switch method {
	case dedupe.MethodSSIM:
		return fmt.Sprintf("SSIM >= %g", t)
	case dedupe.MethodAlign:
		return fmt.Sprintf("correlation >= %g", t)
	}
	n := 2 // any number but 1 takes a plural
	if t == 1 {
		n = 1
	}
	return fmt.Sprintf("distance <= %g %s", t, english.Noun(n, "bit"))
}

// writeList writes res to the CSV file at path.
func writeList(path string, d *dataset.Dataset, res *dedupe.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := dedupe.WriteCSV(f, d, res); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// calibrate prints every method's recall and false-merge rate at several
// thresholds on edited copies and on the labelled real pairs.
func (c *dedupeCommand) calibrate(d *dataset.Dataset, n int) error {
	last := time.Now()
	cal, err := dedupe.Calibrate(d, n, func(set string, done, total int) {
		if time.Since(last) >= 2*time.Second || done == total {
			last = time.Now()
			fmt.Fprintf(c.stderr, "  scored %d/%d %s\n", done, total, set)
		}
	})
	if err != nil {
		return err
	}
	s := cal.Synthetic
	fmt.Fprintf(c.stdout, "Edited copies: %d pairs from %d photos: %d edited copies (%s) and %d different photos of one dog\n",
		s.Pairs, n, s.Positives, strings.Join(s.Kinds, ", "), s.Negatives)
	c.printTable(s)
	fmt.Fprintf(c.stdout, "Labelled real pairs (%s): %d of %d in %s: %d same shot, %d different shots of one dog\n",
		dedupe.LabelledPairsFile, cal.RealFound, cal.RealTotal, d.Root, cal.Real.Positives, cal.Real.Negatives)
	if cal.RealFound > 0 {
		c.printTable(cal.Real)
	}
	return nil
}

func (c *dedupeCommand) printTable(t dedupe.Table) {
	method := ""
	for _, r := range t.Rows {
		if r.Method != method {
			method = r.Method
			fmt.Fprintf(c.stdout, "%s (%s):\n", method, map[string]string{dedupe.MethodAlign: "correlation >= threshold", dedupe.MethodPHash: "distance <= threshold", dedupe.MethodSSIM: "similarity >= threshold"}[method])
		}
		mark := " "
		if r.Default {
			mark = "*"
		}
		fmt.Fprintf(c.stdout, " %s%-6g recall %5.1f%%  false merges %5.2f%%  ", mark, r.Threshold, 100*r.Recall, 100*r.FalseMerge)
		for _, k := range t.Kinds {
			fmt.Fprintf(c.stdout, " %s %.0f%%", k, 100*r.RecallByKind[k])
		}
		fmt.Fprintln(c.stdout)
	}
}
