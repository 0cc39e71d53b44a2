package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/dogrun/dogrun/internal/english"

	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/dedupe"
	"github.com/dogrun/dogrun/internal/workspace"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
)

// splitPhotos groups near-duplicates, drops the classes no honest split can
// serve (a single group: every photo is a near-copy of the others), and makes
// the honest split of each fold. It returns the data actually used.
func (p *Plan) splitPhotos(data *dataset.Dataset, log io.Writer) (*dataset.Dataset, error) {
	exp := p.Experiment
	sc := exp.Split
	cacheDir, _ := workspace.CacheDir() // no cache folder: group without caching
	// Only a first run reads the photos (align takes a minute or two on the
	// shared set); later runs find the groups in the cache and print nothing.
	progress := dedupe.ReadProgress(log, "near-duplicates ("+sc.Group+"): ")
	res, err := findGroups(data, dedupe.Options{Method: sc.Group, Threshold: sc.Threshold, Progress: progress}, cacheDir)
	if err != nil {
		return nil, fmt.Errorf("%s: near-duplicates: %w", exp.File, err)
	}
	groups := res.Group
	if multi := res.Multi(); len(multi) > 0 {
		n := 0
		for _, g := range multi {
			n += len(g)
		}
		fmt.Fprintf(log, "note: near-duplicates (%s, threshold %g): %s %s %s; each group stays on one side of the split\n",
			sc.Group, sc.Threshold, english.Count(len(multi), "group"), english.Noun(len(multi), "holds|hold"), english.Count(n, "photo"))
	}
	for _, m := range res.CrossClass {
		a, b := data.Photos[m.A], data.Photos[m.B]
		p.CrossClass = append(p.CrossClass, results.CrossClassPair{A: a.Rel, B: b.Rel, Score: m.Score})
		fmt.Fprintf(log, "warning: %s and %s are the same photo filed under two dogs (%s and %s)\n",
			a.Rel, b.Rel, data.Classes[a.Class], data.Classes[b.Class])
	}
	ok := dataset.SplittableClasses(data, groups)
	var dropped []string
	for c, good := range ok {
		if !good {
			dropped = append(dropped, data.Classes[c])
		}
	}
	if len(dropped) > 0 {
		fmt.Fprintf(log, "note: %s dropped: all their photos are near-duplicates of each other, so none can be tested honestly: %s\n",
			english.Count(len(dropped), "class|classes"), strings.Join(dropped[:min(len(dropped), 8)], ", "))
		for _, name := range dropped {
			p.DroppedForGroups = append(p.DroppedForGroups, name+" (one near-duplicate group)")
		}
		var from []int
		data, from = data.Subset(ok)
		kept := make([]int, len(from))
		for k, i := range from {
			kept[k] = groups[i]
		}
		groups = kept
	}
	if len(data.Classes) == 0 {
		return nil, fmt.Errorf("%s: no class has two photos that are not near-duplicates of each other; nothing can be tested", exp.File)
	}
	if data, groups, err = p.holdOut(data, groups, log); err != nil {
		return nil, err
	}
	p.Groups = groups
	cfg := exp.Dataset
	if sc.KFold > 0 {
		p.Folds, err = dataset.KFold(data, groups, sc.KFold, cfg.Val, cfg.Seed)
	} else {
		var s dataset.Split
		s, err = dataset.GroupedSplit(data, groups, cfg.Test, cfg.Val, cfg.Seed)
		p.Folds = []dataset.Split{s}
	}
	if err != nil {
		return nil, fieldError(exp, "split", err)
	}
	p.leaky = map[int][]dataset.UnitSplit{}
	return data, nil
}

// Folds is the fold numbers every (variant, seed) runs: 0 for a holdout
// split, 1..K for K folds.
func Folds(exp *schemas.Experiment) []int {
	if exp.Split.KFold == 0 {
		return []int{0}
	}
	out := make([]int, exp.Split.KFold)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// Units is the split a trial trains, validates and tests on: its fold of the
// honest split with its training photos' augmented views, or for the leaky
// protocol the pooled photos and copies split together.
func (p *Plan) Units(t Trial) (dataset.UnitSplit, error) {
	views := t.Config.Augmentation.Views
	if p.Experiment.Dataset.Resample {
		d, err := p.drawOf(t.Seed)
		if err != nil {
			return dataset.UnitSplit{}, err
		}
		return d.split.Units(views), nil
	}
	k := max(t.Fold-1, 0)
	if !t.Config.Split.Leaky {
		return p.Folds[k].Units(views), nil
	}
	folds, ok := p.leaky[views]
	if !ok {
		cfg, sc := p.Experiment.Dataset, p.Experiment.Split
		var err error
		if sc.KFold > 0 {
			folds, err = dataset.LeakyKFold(p.Data, views, sc.KFold, cfg.Val, cfg.Seed)
		} else {
			var s dataset.UnitSplit
			s, err = dataset.LeakySplit(p.Data, views, cfg.Test, cfg.Val, cfg.Seed)
			folds = []dataset.UnitSplit{s}
		}
		if err != nil {
			return dataset.UnitSplit{}, fmt.Errorf("leaky split: %w", err)
		}
		p.leaky[views] = folds
	}
	return folds[k], nil
}

// mustUnits is Units for a trial of the plan, whose units NewPlan has
// already computed without error.
func (p *Plan) mustUnits(t Trial) dataset.UnitSplit {
	u, err := p.Units(t)
	if err != nil {
		panic(fmt.Sprintf("runner: units of planned trial %d: %v", t.Index, err))
	}
	return u
}

// splitDigest identifies the exact units of a split by content, so a trial's
// hash changes whenever its split would, even by a change of grouping code.
func (p *Plan) splitDigest(u dataset.UnitSplit) string {
	h := sha256.New()
	for _, part := range []struct {
		name  string
		units []dataset.Unit
	}{{"train", u.Train}, {"val", u.Val}, {"test", u.Test}} {
		keys := make([]string, len(part.units))
		for i, x := range part.units {
			keys[i] = p.Data.Photos[x.Photo].SHA256 + "#" + strconv.Itoa(x.View)
		}
		sort.Strings(keys)
		fmt.Fprintf(h, "%s %d\n%s\n", part.name, len(keys), strings.Join(keys, "\n"))
	}
	if p.Unknown != nil {
		p.Unknown.digest(h)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// UnitName is how a unit appears in stored predictions and splits: the
// photo's path, with "#v" for an augmented copy.
func UnitName(ph dataset.Photo, view int) string {
	if view == 0 {
		return ph.Rel
	}
	return ph.Rel + "#" + strconv.Itoa(view)
}

// IsCopy tells a UnitName of an augmented copy ("photo#view", in leaky
// trials' test sets) from a photo's own path.
func IsCopy(unitName string) bool {
	i := strings.LastIndexByte(unitName, '#')
	if i < 0 {
		return false
	}
	_, err := strconv.Atoi(unitName[i+1:])
	return err == nil
}

// StoredSplits are the splits the plan's trials use, for the results store:
// the honest split per fold, and the leaky one when a trial uses it.
func (p *Plan) StoredSplits() ([]results.Split, error) {
	base := results.Split{Method: p.Experiment.Split.Group, Threshold: p.Experiment.Split.Threshold,
		KFold: p.Experiment.Split.KFold, Classes: p.Data.Classes, Dropped: p.DroppedForGroups, CrossClass: p.CrossClass}
	honest := base
	var leakyTrial *Trial
	usesHonest := false
	for i, t := range p.Trials {
		if t.Config.Split.Leaky {
			if leakyTrial == nil {
				leakyTrial = &p.Trials[i]
			}
		} else {
			usesHonest = true
			honest.Views = t.Config.Augmentation.Views
		}
	}
	var out []results.Split
	if usesHonest {
		folds := p.Folds
		if p.Experiment.Dataset.Resample {
			folds = p.drawSplits() // one per seed, stored as folds 1..n in seed order
		}
		for k, s := range folds {
			fold := 0
			if p.Experiment.Split.KFold > 0 || p.Experiment.Dataset.Resample {
				fold = k + 1
			}
			for part, idx := range map[string][]int{results.PartTrain: s.Train, results.PartVal: s.Val, results.PartTest: s.Test} {
				for _, i := range idx {
					ph := p.Data.Photos[i]
					honest.Units = append(honest.Units, results.SplitUnit{Fold: fold, Photo: ph.Rel,
						PhotoSHA256: ph.SHA256, Class: ph.Class, Group: p.Groups[i], Part: part})
				}
			}
		}
		out = append(out, honest)
	}
	if leakyTrial != nil {
		leaky := base
		leaky.Leaky, leaky.Method, leaky.Threshold = true, "none", 0
		leaky.Views = leakyTrial.Config.Augmentation.Views
		for _, fold := range Folds(p.Experiment) {
			t := *leakyTrial
			t.Fold = fold
			u, err := p.Units(t)
			if err != nil {
				return nil, err
			}
			for part, units := range map[string][]dataset.Unit{results.PartTrain: u.Train, results.PartVal: u.Val, results.PartTest: u.Test} {
				for _, x := range units {
					ph := p.Data.Photos[x.Photo]
					leaky.Units = append(leaky.Units, results.SplitUnit{Fold: fold, Photo: ph.Rel, View: x.View,
						PhotoSHA256: ph.SHA256, Class: ph.Class, Group: x.Photo, Part: part})
				}
			}
		}
		out = append(out, leaky)
	}
	return out, nil
}

// dedupeVersion changes whenever dedupe would group the same photos
// differently, so cached groups are never reused across versions.
const dedupeVersion = "dedupe-v1"

// cachedGroups is what findGroups keeps on disk of a dedupe.Result, with
// each photo's path and content to check that it still applies.
type cachedGroups struct {
	Rels, SHAs []string
	Result     dedupe.Result
}

// findGroups runs dedupe.Find, or reads its result back from the cache
// folder: hashing every photo takes seconds, and reruns of an experiment
// (which must stay fast) see the same photos.
func findGroups(data *dataset.Dataset, opt dedupe.Options, cacheDir string) (*dedupe.Result, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%g\n", dedupeVersion, opt.Method, opt.Threshold)
	for _, p := range data.Photos {
		fmt.Fprintf(h, "%s %s %s\n", data.Classes[p.Class], p.Rel, p.SHA256)
	}
	path := ""
	if cacheDir != "" {
		path = filepath.Join(cacheDir, "dedupe", hex.EncodeToString(h.Sum(nil))[:32]+".json")
		if b, err := os.ReadFile(path); err == nil {
			var c cachedGroups
			if json.Unmarshal(b, &c) == nil && c.matches(data) {
				return &c.Result, nil
			}
		}
	}
	res, err := dedupe.Find(data, opt)
	if err != nil || path == "" {
		return res, err
	}
	c := cachedGroups{Result: *res}
	for _, p := range data.Photos {
		c.Rels, c.SHAs = append(c.Rels, p.Rel), append(c.SHAs, p.SHA256)
	}
	// A cache that cannot be written only costs time on the next run.
	if b, err := json.Marshal(c); err == nil && os.MkdirAll(filepath.Dir(path), 0o755) == nil {
		tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
		if os.WriteFile(tmp, b, 0o644) == nil {
			os.Rename(tmp, path)
		}
	}
	return res, nil
}

func (c *cachedGroups) matches(data *dataset.Dataset) bool {
	if len(c.Rels) != len(data.Photos) || len(c.SHAs) != len(data.Photos) || len(c.Result.Group) != len(data.Photos) {
		return false
	}
	for i, p := range data.Photos {
		if c.Rels[i] != p.Rel || c.SHAs[i] != p.SHA256 {
			return false
		}
	}
	return true
}
