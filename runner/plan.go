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
	"strings"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/schemas"
)

// Plan is an experiment resolved against its data: the photos, the split every
// trial shares, and each trial with its identity.
type Plan struct {
	Experiment *schemas.Experiment
	Data       *dataset.Dataset
	Split      dataset.Split
	Trials     []Trial
}

// Trial is one planned run: a resolved config, its seed and its identity.
type Trial struct {
	schemas.Trial
	Backbone backbone.Spec
	Cut      backbone.Cut
	Hash     string
}

// NewPlan loads the experiment's photos, splits them and expands its trials. Notes
// (dropped classes, skipped files) go to log.
func NewPlan(exp *schemas.Experiment, log io.Writer) (*Plan, error) {
	cfg := exp.Dataset
	data, err := dataset.Load(schemas.DatasetDir(exp), dataset.LoadOptions{
		MinImagesPerClass: cfg.MinImagesPerClass,
		MaxClasses:        cfg.MaxClasses,
		Seed:              cfg.Seed,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: dataset: %w", exp.File, err)
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
		fmt.Fprintf(log, "note: %d classes dropped with fewer than min_images_per_class=%d photos: %s%s\n",
			n, cfg.MinImagesPerClass, strings.Join(examples, ", "), more)
	}
	for _, s := range data.Skipped {
		fmt.Fprintf(log, "note: skipped %s: %s\n", s.Rel, s.Reason)
	}
	split, err := dataset.StratifiedSplit(data, cfg.Test, cfg.Val, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("%s: split: %w", exp.File, err)
	}
	expanded, err := exp.Trials()
	if err != nil {
		return nil, err
	}
	p := &Plan{Experiment: exp, Data: data, Split: split}
	fingerprint := data.Fingerprint()
	for _, t := range expanded {
		spec, err := backbone.Lookup(t.Config.Backbone.Name)
		if err != nil {
			return nil, exp.ErrorAt("backbone.name", err.Error())
		}
		cut, err := spec.Cut(t.Config.Backbone.Cut)
		if err != nil {
			return nil, exp.ErrorAt("backbone.cut", err.Error())
		}
		h, err := trialHash(t.Config, fingerprint, spec.SHA256())
		if err != nil {
			return nil, err
		}
		p.Trials = append(p.Trials, Trial{Trial: t, Backbone: spec, Cut: cut, Hash: h})
	}
	return p, nil
}

// trialHash is a trial's identity: its resolved config (seed included), the content
// of its data and the bytes of its backbone. The same three always mean the same
// trial, so reruns skip it; changing any one makes a new trial.
func trialHash(cfg schemas.Experiment, datasetFingerprint, backboneSHA256 string) (string, error) {
	js, err := cfg.CanonicalJSON()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(js)
	fmt.Fprintf(h, "\ndata %s\nbackbone %s\n", datasetFingerprint, backboneSHA256)
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
