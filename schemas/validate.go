package schemas

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// problem is a validation failure at a field path such as "head.hidden[1]".
type problem struct{ path, msg string }

// Validate checks an experiment built in code (Decode already does this):
// the base config, the sweep and every swept value. Errors carry File and
// Field but no line.
func (e *Experiment) Validate() error {
	var errs []*Error
	for _, p := range validateBase(e) {
		errs = append(errs, &Error{File: e.File, Field: p.path, Msg: p.msg})
	}
	for _, p := range checkSweep(e) {
		errs = append(errs, sweepError(e, p, nil))
	}
	for _, p := range checkSpace(e) {
		errs = append(errs, spaceError(e, p, nil))
	}
	return joinErrors(errs)
}

// validateBase checks every tagged constraint of the config (not the sweep)
// plus the rules that span fields.
func validateBase(e *Experiment) []problem {
	var ps []problem
	validateStruct(reflect.ValueOf(e).Elem(), "", &ps)
	// Not expressible as a per-field tag: the three parts of the split must
	// leave photos for training.
	if d := e.Dataset; d.Test > 0 && d.Val >= 0 && d.Test+d.Val >= 1 {
		ps = append(ps, problem{"dataset.val", fmt.Sprintf("test + val must be < 1 to leave photos for training, got %s + %s", formatValue(d.Test), formatValue(d.Val))})
	}
	// The tag's range is phash's; align's threshold is a correlation.
	if e.Split.Group == "align" && e.Split.Threshold > 1 {
		ps = append(ps, problem{"split.threshold", fmt.Sprintf("align takes a correlation from 0 to 1, got %s (leave it out for %s)", formatValue(e.Split.Threshold), formatValue(AlignThreshold))})
	}
	// One fold would test on every photo and train on none.
	if e.Split.KFold == 1 {
		ps = append(ps, problem{"split.kfold", "1 is not a number of folds: use 0 for one holdout split, or 2 or more"})
	}
	// train.Fit has no decay for plain SGD; say so here rather than per trial.
	if t := e.Train; t.Optimizer == "sgd" && t.WeightDecay > 0 {
		ps = append(ps, problem{"train.weight_decay", fmt.Sprintf("%s needs optimizer adam or adamw, not sgd", formatValue(t.WeightDecay))})
	}
	ps = append(ps, backboneProblems(e.Backbone)...)
	ps = append(ps, featureProblems(e.Features, e.Head)...)
	ps = append(ps, searchProblems(e)...)
	ps = append(ps, settleProblems(e)...)
	// A draw per seed is one holdout split per seed; folds and the leaky
	// protocol keep the shared split.
	if e.Dataset.Resample && e.Split.KFold > 0 {
		ps = append(ps, problem{"dataset.resample", "cannot be combined with split.kfold"})
	}
	if e.Dataset.Resample && e.Split.Leaky {
		ps = append(ps, problem{"dataset.resample", "cannot be combined with split.leaky"})
	}
	if e.Dataset.Resample && e.OpenSet.UnknownDogs > 0 {
		ps = append(ps, problem{"dataset.resample", "cannot be combined with open_set (its unknown dogs are drawn once, with dataset.seed)"})
	}
	// Calibration and measurement each need unseen dogs, and a rule needs a rate.
	switch o := e.OpenSet; {
	case o.UnknownDogs == 1:
		ps = append(ps, problem{"open_set.unknown_dogs", "1 is too few: half the unknown dogs calibrate the rule and half measure it, so at least 2"})
	case o.UnknownDogs > 0 && o.TargetFAR == 0:
		ps = append(ps, problem{"open_set.target_far", "is required with open_set.unknown_dogs, e.g. 0.05"})
	case o.UnknownDogs == 0 && o.TargetFAR > 0:
		ps = append(ps, problem{"open_set.unknown_dogs", "is required with open_set.target_far (at least 2)"})
	case o.UnknownDogs == 0 && (o.CalibrateOn != "" || len(o.Scores) > 0):
		ps = append(ps, problem{"open_set.unknown_dogs", "is required with open_set's other settings (at least 2)"})
	case o.CalibrateOn != "pool" && slices.Contains(o.Scores, "centroid_cosine_minus_cohort"):
		i := slices.Index(o.Scores, "centroid_cosine_minus_cohort")
		ps = append(ps, problem{fmt.Sprintf("open_set.scores[%d]", i), "centroid_cosine_minus_cohort needs calibrate_on: pool (its cohort is a third of the pool)"})
	}
	return append(ps, evaluationProblems(e)...)
}

// evaluationProblems refuses what an evaluation experiment, which trains
// no head and draws its own dogs per seed, cannot take.
func evaluationProblems(e *Experiment) []problem {
	if e.Evaluation.Dogs == 0 {
		return nil // absent
	}
	var ps []problem
	refuse := func(field, why string) { ps = append(ps, problem{field, "cannot be combined with evaluation: " + why}) }
	switch {
	case e.OpenSet.UnknownDogs > 0:
		refuse("open_set", "an evaluation's dogs are all unseen already")
	case e.Dataset.MaxClasses > 0:
		refuse("dataset.max_classes", "evaluation.dogs draws the dogs, anew with each seed")
	case e.Dataset.Resample:
		refuse("dataset.resample", "an evaluation draws its dogs with each seed already")
	case e.Split.KFold > 0:
		refuse("split.kfold", "an evaluation splits no photos")
	case e.Split.Leaky:
		refuse("split.leaky", "an evaluation splits no photos")
	case e.Settle.Declared():
		refuse("settle", "settle compares test accuracies of trained heads")
	case e.Backbone.Freeze != "" && e.Backbone.Freeze != "all":
		refuse("backbone.freeze", "no layer is trained")
	case strings.Contains(e.Features.Normalize, "standardize"):
		refuse("features.normalize", "standardize is fitted on training photos, and an evaluation has none (each backbone's vector is at unit length already)")
	}
	return ps
}

func validateStruct(v reflect.Value, path string, ps *[]problem) {
	for _, f := range fieldsOf(v.Type()) {
		fp := joinPath(path, f.name)
		fv := v.Field(f.index)
		switch {
		case f.typ == sweepType, f.typ == spaceType:
			// checked by checkSweep and checkSpace
		case f.typ.Kind() == reflect.Struct && f.spec.optional && fv.IsZero():
			// unset: nothing of it applies
		case f.typ.Kind() == reflect.Struct:
			validateStruct(fv, fp, ps)
		default:
			validateField(fv, f.spec, fp, ps)
		}
	}
}

func validateField(v reflect.Value, sp spec, path string, ps *[]problem) {
	add := func(p, format string, args ...any) {
		*ps = append(*ps, problem{p, fmt.Sprintf(format, args...)})
	}
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		switch {
		case s == "":
			if sp.required {
				add(path, "is required")
			}
		case sp.enum != nil && !slices.Contains(sp.enum, s):
			add(path, "%q is not one of %s", s, strings.Join(sp.enum, ", "))
		case sp.pattern != nil && !sp.pattern.MatchString(s):
			add(path, "%q does not match %s", s, sp.pattern)
		}
	case reflect.Slice, reflect.Array:
		n := v.Len()
		if n == 0 && sp.required {
			add(path, "is required (at least %d value)", max(sp.items, 1))
			return
		}
		if n < sp.items {
			add(path, "needs at least %d values, got %d", sp.items, n)
		}
		for i := range n {
			checkNumber(v.Index(i), sp, fmt.Sprintf("%s[%d]", path, i), ps)
			if e := v.Index(i); e.Kind() == reflect.String && sp.enum != nil && !slices.Contains(sp.enum, e.String()) {
				add(fmt.Sprintf("%s[%d]", path, i), "%q is not one of %s", e.String(), strings.Join(sp.enum, ", "))
			}
			if sp.unique {
				for j := range i {
					if v.Index(j).Equal(v.Index(i)) {
						add(fmt.Sprintf("%s[%d]", path, i), "duplicate value %s (same as [%d])", formatValue(v.Index(i).Interface()), j)
						break
					}
				}
			}
		}
		if sp.ordered && n == 2 && v.Index(0).Float() > v.Index(1).Float() {
			add(path, "min %s is greater than max %s", formatValue(v.Index(0).Interface()), formatValue(v.Index(1).Interface()))
		}
	default:
		checkNumber(v, sp, path, ps)
	}
}

// checkNumber applies min/max/gt/lt to an int or float value.
func checkNumber(v reflect.Value, sp spec, path string, ps *[]problem) {
	var x float64
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x = float64(v.Int())
	case reflect.Float32, reflect.Float64:
		x = v.Float()
	default:
		return
	}
	lowOK := sp.min == nil || x > *sp.min || (!sp.minExcl && x == *sp.min)
	highOK := sp.max == nil || x < *sp.max || (!sp.maxExcl && x == *sp.max)
	if !lowOK || !highOK {
		*ps = append(*ps, problem{path, fmt.Sprintf("%s is out of range %s", formatValue(v.Interface()), rangeText(sp))})
	}
}

// rangeText renders bounds as an interval, [0, 1) or (0, 10], or one limit.
func rangeText(sp spec) string {
	switch {
	case sp.min != nil && sp.max != nil:
		lo, hi := "[", "]"
		if sp.minExcl {
			lo = "("
		}
		if sp.maxExcl {
			hi = ")"
		}
		return fmt.Sprintf("%s%s, %s%s", lo, formatValue(*sp.min), formatValue(*sp.max), hi)
	case sp.min != nil && sp.minExcl:
		return "(must be > " + formatValue(*sp.min) + ")"
	case sp.min != nil:
		return "(must be >= " + formatValue(*sp.min) + ")"
	case sp.max != nil && sp.maxExcl:
		return "(must be < " + formatValue(*sp.max) + ")"
	default:
		return "(must be <= " + formatValue(*sp.max) + ")"
	}
}

// backboneProblems checks that exactly one of name and names is given, and
// that names (npm backbones at their default cuts) carries no per-model
// setting. One name in names is allowed, so that a sweep can set one backbone
// beside a concatenation.
func backboneProblems(b Backbone) []problem {
	switch {
	case b.Name == "" && len(b.Names) == 0:
		return []problem{{"backbone.name", "is required"}}
	case len(b.Names) == 0:
		return nil
	case b.Name != "":
		return []problem{{"backbone.names", "cannot be combined with backbone.name: give one backbone as name or several as names"}}
	case b.Cut != "" || b.File != "":
		return []problem{{"backbone.names", "takes each backbone without a file, as name or name:cut; cut and file are for backbone.name"}}
	}
	for i, n := range b.Names {
		name, cut, ok := strings.Cut(n, ":")
		if name == "" || ok && (cut == "" || strings.Contains(cut, ":")) {
			return []problem{{fmt.Sprintf("backbone.names[%d]", i), fmt.Sprintf("%q is not a backbone name or name:cut", n)}}
		}
	}
	return nil
}

// featureProblems checks the feature settings that only work together.
func featureProblems(f Features, h Head) []problem {
	var ps []problem
	switch {
	case f.GeMP != 0 && f.Pool != "gem":
		ps = append(ps, problem{"features.gem_p", "is the exponent of pool: gem"})
	case f.GeMP != 0 && f.GeMP < 1:
		ps = append(ps, problem{"features.gem_p", formatValue(f.GeMP) + " is below 1 (1 is the mean; larger leans toward the maximum)"})
	}
	if f.BlockWeights == "validation" {
		switch {
		case f.Normalize != "l2":
			ps = append(ps, problem{"features.block_weights", "validation weighs unit-length blocks: it needs normalize: l2 (standardize would undo the weights)"})
		case f.Whiten.PCA > 0:
			ps = append(ps, problem{"features.block_weights", "validation cannot be combined with whiten: whitening undoes a block's weight"})
		}
	}
	if f.Whiten.FitOn != "" && f.Whiten.PCA == 0 {
		ps = append(ps, problem{"features.whiten.pca", "is required with fit_on: how many principal axes to keep"})
	}
	if h.Type == "prototype" && len(h.Hidden) > 0 {
		ps = append(ps, problem{"head.hidden", "a prototype head has no layers: it compares each photo with every dog's mean training row"})
	}
	return ps
}
