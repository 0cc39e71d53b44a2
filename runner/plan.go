// Package runner turns an experiment file into stored results: it plans the trials,
// registers them, claims them one at a time and drives extraction, training and
// evaluation for each.
package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/dogrun/dogrun/internal/english"

	"github.com/dogrun/dogrun/adapter"
	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
)

// Plan is an experiment resolved against its data: the photos, the split every
// trial shares, and each trial with its identity.
type Plan struct {
	Experiment *schemas.Experiment
	Data       *dataset.Dataset
	Split      dataset.Split // the honest split of the first fold (the only one without k-fold)
	// Trials are the sweep's trials; for a search, the trial of each seed
	// without the search's settings, which its draws vary.
	Trials []Trial

	// Groups gives each photo of Data its near-duplicate group; Folds the
	// honest split of each fold (one for a holdout split).
	Groups           []int
	Folds            []dataset.Split
	DroppedForGroups []string                    // classes left out: a single near-duplicate group
	CrossClass       []results.CrossClassPair    // the same photo under two dogs
	Unknown          *Unknown                    // dogs held out of training (open_set); nil without
	leaky            map[int][]dataset.UnitSplit // leaky splits by augmented views
	draws            map[int64]*draw             // dataset.resample: each seed's dogs and split
	pool             *adapter.Pool               // the dogs adapter backbones train on
	photos           string                      // the folder the photos were read from
	fingerprint      string                      // of Data
	frozen           map[string]*backbone.Frozen // by backbone, cut and freeze (frozenFor)
	choices          []Trial                     // a search's base trial with each backbone it may draw
}

// Trial is one planned run: a resolved config, its seed and its identity.
type Trial struct {
	schemas.Trial
	Backbone backbone.Spec
	Cut      backbone.Cut
	Parts    []Part        // every backbone, Backbone and Cut first; several with backbone.names
	Adapter  *adapter.Spec // the metric-learned adapter of a "<base>+arcface" backbone; nil without
	Hash     string
	Fold     int // 0 for a holdout split, 1..K with split.kfold

	// Frozen is the backbone split at backbone.freeze (see Run); nil when
	// every backbone layer stays frozen.
	Frozen *backbone.Frozen

	search *searchRole // what the trial is to its search; nil for a sweep's
}

// VariantKey names the trial's settings: a search's draw by its number
// and its values to 3 significant digits, e.g. "#12 head.dropout=0.312,
// train.lr=0.00421" (its confirmations share it), else as a sweep names
// its variants.
func (t Trial) VariantKey() string {
	if t.search == nil {
		return t.Trial.VariantKey()
	}
	parts := make([]string, len(t.Variant))
	for i, s := range t.Variant {
		v := s.Label()
		if x, ok := s.Value.(float64); ok {
			v = strconv.FormatFloat(x, 'g', 3, 64)
		}
		parts[i] = s.Path + "=" + v
	}
	return fmt.Sprintf("#%d %s", t.search.n+1, strings.Join(parts, ", "))
}

// LoadDataset reads the experiment's photos as run does, so that validate
// refuses what run would: an error is placed at dataset.path in the file.
func LoadDataset(exp *schemas.Experiment) (*dataset.Dataset, error) {
	return loadDataset(exp, schemas.DatasetDir(exp))
}

// loadDataset is LoadDataset of the photos in dir: the experiment's own, or
// where another machine keeps the same photos (Options.Photos).
func loadDataset(exp *schemas.Experiment, dir string) (*dataset.Dataset, error) {
	cfg := exp.Dataset
	maxClasses := cfg.MaxClasses
	if cfg.Resample {
		maxClasses = 0 // every seed draws its own dogs out of all of them
	}
	data, err := dataset.Load(dir, dataset.LoadOptions{
		MinImagesPerClass: cfg.MinImagesPerClass,
		MaxClasses:        maxClasses,
		Seed:              cfg.Seed,
	})
	if err != nil {
		return nil, fieldError(exp, "dataset.path", err)
	}
	return data, nil
}

// fieldError places an error of package dataset at field of the experiment
// file, whose name says what the package's own prefix would repeat.
func fieldError(exp *schemas.Experiment, field string, err error) error {
	return exp.ErrorAt(field, strings.TrimPrefix(err.Error(), "dataset: "))
}

// NewPlan loads the experiment's photos, splits them and expands its trials. Notes
// (dropped classes, skipped files) go to log.
func NewPlan(exp *schemas.Experiment, log io.Writer) (*Plan, error) {
	return newPlan(exp, schemas.DatasetDir(exp), log)
}

// newPlan is NewPlan with the photos read from photos.
func newPlan(exp *schemas.Experiment, photos string, log io.Writer) (*Plan, error) {
	cfg := exp.Dataset
	data, err := loadDataset(exp, photos)
	if err != nil {
		return nil, err
	}
	if n := len(data.Dropped); n > 0 {
		// One line: a folder of 1,000 dogs would otherwise bury the progress output.
		var examples []string
		for _, d := range data.Dropped[:min(n, 8)] {
			examples = append(examples, fmt.Sprintf("%s (%d)", d.Name, d.Photos))
		}
		more := ""
		if n > 8 {
			more = ", ..."
		}
		fmt.Fprintf(log, "note: %s dropped with fewer than min_images_per_class=%d photos: %s%s\n",
			english.Count(n, "class|classes"), cfg.MinImagesPerClass, strings.Join(examples, ", "), more)
	}
	for _, s := range data.Skipped {
		fmt.Fprintf(log, "note: skipped %s: %s\n", s.Rel, s.Reason)
	}
	expanded, err := exp.Trials()
	if err != nil {
		return nil, err
	}
	p := &Plan{Experiment: exp, photos: photos}
	if data, err = p.splitPhotos(data, log); err != nil {
		return nil, err
	}
	p.Data, p.Split = data, p.Folds[0]
	p.fingerprint = data.Fingerprint()
	for _, t := range expanded {
		if err := p.checkEvaluation(exp, t.Config); err != nil {
			return nil, err
		}
		// Folds are replicates like seeds: each (variant, seed) runs once per fold.
		for _, fold := range Folds(exp) {
			tr, err := p.trial(t, fold)
			if err != nil {
				return nil, err
			}
			tr.Index = len(p.Trials)
			p.Trials = append(p.Trials, tr)
		}
	}
	if exp.Search.Declared() {
		if err := p.checkSearchBackbones(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// trial resolves trial t of the experiment in fold: its backbones, its
// adapter, its split and its identity. Its Index is the caller's to set.
func (p *Plan) trial(t schemas.Trial, fold int) (Trial, error) {
	exp := p.Experiment
	parts, err := ResolveBackbones(exp, t.Config)
	if err != nil {
		return Trial{}, err
	}
	spec, cut := parts[0].Spec, parts[0].Cut
	ad, err := p.planAdapter(exp, t.Config.Backbone, parts)
	if err != nil {
		return Trial{}, err
	}
	if err := p.checkWhiten(exp, t.Config); err != nil {
		return Trial{}, err
	}
	tr := Trial{Trial: t, Backbone: spec, Cut: cut, Parts: parts, Adapter: ad, Fold: fold}
	units, err := p.Units(tr)
	if err != nil {
		return Trial{}, fmt.Errorf("%s: %w", exp.File, err)
	}
	if tr.Hash, err = trialHash(t.Config, p.fingerprint, adapterID(backboneID(parts), ad), fold, p.splitDigest(units)); err != nil {
		return Trial{}, err
	}
	return tr, nil
}

// trialHash is a trial's identity: its resolved config (seed included), the content
// of its data, the bytes of its backbone, its fold and the exact split it uses
// (splitDigest). The same always mean the same trial, so reruns skip it;
// changing any one makes a new trial.
func trialHash(cfg schemas.Experiment, datasetFingerprint, backboneSHA256 string, fold int, splitDigest string) (string, error) {
	js, err := cfg.CanonicalJSON()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(js)
	fmt.Fprintf(h, "\ndata %s\nbackbone %s\n", datasetFingerprint, backboneSHA256)
	fmt.Fprintf(h, "fold %d\nsplit %s\n", fold, splitDigest)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// variantJSON renders a trial's swept settings as a JSON object in axis order.
func variantJSON(t schemas.Trial) string {
	var b []byte
	b = append(b, '{')
	for i, s := range t.Variant {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(s.Path)
		v, err := json.Marshal(s.Value)
		if err != nil {
			v = []byte(`null`)
		}
		b = append(b, k...)
		b = append(b, ':')
		b = append(b, v...)
	}
	return string(append(b, '}'))
}
