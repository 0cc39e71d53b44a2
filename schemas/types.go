// Package schemas defines dogrun experiment files: the Go types, strict YAML
// decoding with file:line:column errors, validation, the JSON Schema for
// editors, and the expansion of a sweep into trials.
//
// Constraints live in one place, the `dogrun` struct tag, read by reflection
// for defaults, validation and the JSON Schema alike. Its comma-separated
// options are:
//
//	required        must be present and non-empty
//	default=V       value used when the key is absent (arrays: space-separated)
//	min=N max=N     inclusive bounds (on each element for lists)
//	gt=N lt=N       exclusive bounds (on each element for lists)
//	enum=a|b|c      allowed strings
//	items=N         minimum list length
//	unique          no repeated list elements
//	ordered         a [min, max] pair with min <= max
//	nosweep         cannot be a sweep axis (nor can anything below it)
//	nohash          left out of CanonicalJSON
//	optional        a group that stays zero, unchecked, unless written; then its
//	                defaults fill the keys it leaves out
//	pattern=RE      regular expression; must come last (it may hold commas)
//
// The `doc` tag is the field's description in the JSON Schema.
package schemas

//go:generate go run ./gen -o experiment.schema.json

// Experiment is a whole experiment file: a base config, a sweep and seeds.
type Experiment struct {
	Name         string       `yaml:"name" json:"name" dogrun:"required,nosweep,nohash,pattern=^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$" doc:"Experiment name; it becomes a folder name, so letters, digits, '_', '.', '-' (max 64, starting with a letter or digit)."`
	Description  string       `yaml:"description,omitempty" json:"description,omitempty" dogrun:"nosweep,nohash" doc:"Free text shown in reports."`
	Dataset      Dataset      `yaml:"dataset" json:"dataset" dogrun:"nosweep" doc:"Which photos to use and how to split them. Identical for every trial so variants are compared on the same test photos."`
	Split        Split        `yaml:"split" json:"split" doc:"How photos are divided: near-duplicate groups kept whole, one holdout split or k folds. Only split.leaky may be swept."`
	Backbone     Backbone     `yaml:"backbone" json:"backbone" dogrun:"required" doc:"Pretrained feature extractor."`
	Features     Features     `yaml:"features,omitempty" json:"features,omitempty" doc:"What is done to backbone features before the head: normalisation and test-time augmentation. Absent: raw features of each photo."`
	Head         Head         `yaml:"head" json:"head" doc:"Trainable classification head on top of the backbone features."`
	Augmentation Augmentation `yaml:"augmentation" json:"augmentation" doc:"Random image augmentation of training photos."`
	Train        Train        `yaml:"train" json:"train" doc:"Optimisation settings."`
	OpenSet      OpenSet      `yaml:"open_set,omitempty" json:"open_set,omitempty" dogrun:"nosweep" doc:"Dogs held out of training entirely, to calibrate and measure when predictions answer \"unknown\". Absent: every dog trains, no rejection rule."`
	Evaluation   Evaluation   `yaml:"evaluation,omitempty" json:"evaluation,omitempty" dogrun:"nosweep,optional" doc:"Measure the features themselves on dogs nothing is trained on, as face verification is measured: no head is trained. Each seed draws dogs anew; a trial is one draw under one variant of the features (docs/verification.md). Absent: trials train heads."`
	Sweep        Sweep        `yaml:"sweep,omitempty" json:"sweep,omitempty" dogrun:"nosweep" doc:"Grid of variants: dotted field path -> list of values. Every combination is run (first axis outermost) once per seed."`
	Settle       Settle       `yaml:"settle,omitempty" json:"settle,omitempty" dogrun:"nosweep,nohash,optional" doc:"Settle a comparison: run seeds round by round until every value of settle.by is decided against settle.reference (better, worse, equivalent within ±margin) or max_seeds is reached, with the error rates held at alpha (docs/settle.md). Absent: every seed runs."`
	Search       Search       `yaml:"search,omitempty" json:"search,omitempty" dogrun:"nosweep,optional" doc:"Draw trials from ranges of settings instead of a grid (docs/search.md): random or TPE sampling, trials per seed, each seed a search of its own. Absent: the sweep's grid."`
	Prune        Prune        `yaml:"prune,omitempty" json:"prune,omitempty" dogrun:"nosweep,optional" doc:"Stop a search's trials whose validation curve is behind, after any epoch: the median rule or asynchronous successive halving (ASHA). Pruned trials are stored with their curve and never tested. Absent: every trial trains to its end."`
	Confirm      Confirm      `yaml:"confirm,omitempty" json:"confirm,omitempty" dogrun:"nosweep,optional" doc:"Once the search has finished, re-run its best configurations (chosen on validation) with new seeds on the same split, and compare each with the best on the test photos."`
	Seeds        []int64      `yaml:"seeds" json:"seeds" dogrun:"nosweep,unique" doc:"Training seeds; each variant is trained once per seed. Required unless settle is given; with settle, the first seeds in the order they run, the rest being the smallest positive integers not listed."`

	File string `yaml:"-" json:"-"` // path it was loaded from
}

// Dataset selects the photos and the train/val/test split.
type Dataset struct {
	// Left out of the hash: the data is identified by a content fingerprint.
	Path              string  `yaml:"path" json:"path" dogrun:"required,nohash" doc:"Folder with one sub-folder of photos per dog; relative to the experiment file's folder."`
	MinImagesPerClass int     `yaml:"min_images_per_class" json:"min_images_per_class" dogrun:"min=2,default=2" doc:"Skip dogs with fewer photos than this."`
	MaxClasses        int     `yaml:"max_classes" json:"max_classes" dogrun:"min=0,default=0" doc:"Keep at most this many dogs, drawn with seed; 0 keeps all."`
	Seed              int64   `yaml:"seed" json:"seed" dogrun:"default=1" doc:"Seed for the class draw and the split; the same for every trial."`
	Test              float64 `yaml:"test" json:"test" dogrun:"gt=0,lt=1,default=0.2" doc:"Fraction of each dog's photos held out for testing; test + val < 1."`
	Val               float64 `yaml:"val" json:"val" dogrun:"min=0,lt=1,default=0.1" doc:"Fraction of each dog's photos used for validation (early stopping); test + val < 1."`

	// Zero value keeps the shared split, so existing trial hashes stay.
	Resample bool `yaml:"resample,omitempty" json:"resample,omitempty" doc:"Draw the dogs (max_classes) and the split with each trial's seed instead of dataset.seed, so every seed is a new benchmark draw; variants with the same seed still share their test photos. Not with split.kfold or split.leaky."`
}

// Split says how photos are divided into training, validation and test.
// Near-duplicate groups (burst shots, re-crops, copies) are the unit of the
// split, so no test photo has a near-copy in training.
type Split struct {
	Group     string  `yaml:"group" json:"group" dogrun:"nosweep,enum=phash|align|none,default=phash" doc:"How near-duplicate photos are found and kept on one side of the split: phash (perceptual hash searched over re-crops and flips, calibrated on DogFaceNet), align (local features matched under one rotation, scale and shift, then the photos registered and correlated: also finds re-aligned burst shots, at three times phash's CPU) or none (every photo on its own, as the original Keras scripts did)."`
	Threshold float64 `yaml:"threshold" json:"threshold" dogrun:"nosweep,min=0,max=64,default=8" doc:"phash: largest Hamming distance in bits (of 64) at which two photos are near-duplicates (default 8). align: smallest registered correlation, from 0 to 1 (default 0.75)."`
	KFold     int     `yaml:"kfold" json:"kfold" dogrun:"nosweep,min=0,max=50,default=0" doc:"0: one holdout split with dataset.test and dataset.val. K >= 2: K folds, each tested once, with dataset.val for validation; every variant and seed runs once per fold."`
	Leaky     bool    `yaml:"leaky" json:"leaky" dogrun:"default=false" doc:"Reproduce the original Keras scripts' flawed protocol (augment first, then split, so copies of a training photo are tested) only to show how much it inflates accuracy. May be swept: [false, true] puts both side by side."`
}

// AlignThreshold is split.threshold's default under group align, dedupe's
// default correlation (schemas does not import dedupe, which decodes images;
// a runner test holds the two equal).
const AlignThreshold = 0.75

// Backbone names the pretrained feature extractor.
type Backbone struct {
	Name string `yaml:"name" json:"name" doc:"Backbone model name, e.g. mobilefacenet; dogrun backbones lists them. Any name followed by +arcface (mobilefacenet+arcface) adds a metric-learned adapter trained on the folder's dogs below dataset.min_images_per_class. Required unless names is given."`
	Cut  string `yaml:"cut,omitempty" json:"cut,omitempty" doc:"Named output used as features (dogrun backbones lists each backbone's cuts); empty means the backbone's default."`
	// Left out of the hash: the file's sha256 is part of the trial's identity.
	File string `yaml:"file,omitempty" json:"file,omitempty" dogrun:"nohash" doc:"Your own weights file for a bring-your-own backbone (dogrun backbones marks them), e.g. rcmalli_vggface_tf_notop_resnet50.h5 for vggface-resnet50; relative to the experiment file's folder. Its content, not its path, identifies the backbone."`
	// Only for name: onnx, a model of the user's own. Zero values mean unset,
	// so experiments without them keep their trial hashes.
	InputSize int        `yaml:"input_size,omitempty" json:"input_size,omitempty" dogrun:"min=0,max=4096" doc:"For name: onnx (your own .onnx as file): the square input side in pixels the model takes."`
	Layout    string     `yaml:"layout,omitempty" json:"layout,omitempty" dogrun:"enum=NCHW|NHWC" doc:"For name: onnx: the input's axis order; empty means NCHW."`
	Channels  string     `yaml:"channels,omitempty" json:"channels,omitempty" dogrun:"enum=RGB|BGR" doc:"For name: onnx: the channel order the model takes; empty means RGB."`
	Mean      [3]float64 `yaml:"mean,omitempty" json:"mean,omitempty" dogrun:"min=-1000,max=1000" doc:"For name: onnx: subtracted from pixels in [0, 255], per channel in the model's channel order; pixel p becomes (p - mean) * scale."`
	Scale     [3]float64 `yaml:"scale,omitempty" json:"scale,omitempty" dogrun:"min=0,max=1000" doc:"For name: onnx: per-channel multiplier after the mean, all > 0; unset means 1 1 1."`
	Output    string     `yaml:"output,omitempty" json:"output,omitempty" doc:"For name: onnx: the graph output, [batch, dim], used as features; may be left out when the model has one output."`

	// Zero value: the single backbone of name, as before.
	Names []string `yaml:"names,omitempty" json:"names,omitempty" dogrun:"unique" doc:"Several feature blocks concatenated in this order, each cached on its own: a backbone at its default cut (mobilefacenet), or name:cut for another of its outputs, such as an inner layer's map pooled by features.pool (vggface2-mobilenet:conv_pw_11; dogrun backbones lists them), e.g. [mobilefacenet, vggface2-mobilenet, vggface2-mobilenet:conv_pw_11]; instead of name."`

	// Unset means all, as before: experiments without it keep their trial hashes.
	Freeze Freeze `yaml:"freeze,omitempty" json:"freeze,omitempty" dogrun:"pattern=^(all|0|[+-]?[1-9][0-9]{0,5})$" doc:"Freeze depth, counted as the original Keras scripts' nb_freeze counts it, over the backbone's Keras layers up to the cut (every layer counted, activations and batch norms included): all (the default) trains no backbone layer; N > 0 freezes the first N layers, -N all but the last N, 0 none. The frozen part runs on ONNX Runtime and is cached; the rest trains in GoMLX with the head. Only Keras backbones (mobilenetv2-imagenet, inceptionv3), and only layers GoMLX's pure-Go backend can differentiate: dogrun validate lists the depths that work and estimates the cost."`
}

// Head is the trainable MLP on top of the backbone features.
type Head struct {
	Hidden     []int   `yaml:"hidden" json:"hidden" dogrun:"min=1,default=" doc:"Sizes of the hidden layers; empty for a linear softmax head."`
	Dropout    float64 `yaml:"dropout" json:"dropout" dogrun:"min=0,lt=1,default=0" doc:"Dropout rate after each hidden layer."`
	Activation string  `yaml:"activation" json:"activation" dogrun:"enum=relu|gelu|tanh|sigmoid|swish,default=relu" doc:"Activation of the hidden layers."`

	// Empty means dense, so existing trial hashes stay.
	Type string `yaml:"type,omitempty" json:"type,omitempty" dogrun:"enum=dense|cosine|prototype|cosine+prototype" doc:"Output layer: dense (x·W + b, the default); cosine (a cosine-softmax: the scaled cosine between the input and each class's weight vector, both normalised, with a learned scale); prototype (nothing trained: the scaled cosine to each dog's mean training row, the scale chosen on validation); or cosine+prototype (the mean of the two heads' probabilities)."`
}

// Augmentation describes random transforms applied to training photos.
type Augmentation struct {
	Views       int        `yaml:"views" json:"views" dogrun:"min=0,max=64,default=0" doc:"Augmented copies per training photo; 0 disables augmentation."`
	RotationDeg float64    `yaml:"rotation_deg" json:"rotation_deg" dogrun:"min=0,max=180,default=0" doc:"Maximum rotation in degrees, either way."`
	Shift       float64    `yaml:"shift" json:"shift" dogrun:"min=0,max=0.5,default=0" doc:"Maximum shift as a fraction of the image size."`
	Zoom        [2]float64 `yaml:"zoom" json:"zoom" dogrun:"gt=0,max=4,ordered,default=1 1" doc:"Zoom factor range [min, max], min <= max."`
	Brightness  [2]float64 `yaml:"brightness" json:"brightness" dogrun:"gt=0,max=4,ordered,default=1 1" doc:"Brightness multiplier range [min, max], min <= max."`
	HFlip       bool       `yaml:"hflip" json:"hflip" dogrun:"default=false" doc:"Randomly mirror photos left-right."`

	// Zero value: every view every epoch, as before.
	Mix bool `yaml:"mix,omitempty" json:"mix,omitempty" doc:"Each epoch sees every training photo once, as the photo or one of its views drawn anew each epoch, instead of the photo and all its views."`
}

// Features says what is done to backbone features before the head. Zero
// values (absent) mean raw features, so existing trial hashes stay.
type Features struct {
	Normalize string  `yaml:"normalize,omitempty" json:"normalize,omitempty" dogrun:"enum=none|l2|standardize|l2+standardize" doc:"none; l2 (each backbone's vector scaled to length 1); standardize (each dimension to mean 0, variance 1 over the training rows); or l2 then standardize. Fitted on training rows only and kept in the checkpoint."`
	TTA       string  `yaml:"tta,omitempty" json:"tta,omitempty" dogrun:"enum=none|flip|crops|flip+crops" doc:"Test-time augmentation: a photo's features are the mean over the photo and its mirror image (flip), four corner crops at zoom 1.1 (crops), or all six (flip+crops). Applied to every photo (train, validation and test) alike; augmented training views stay single."`
	Pool      string  `yaml:"pool,omitempty" json:"pool,omitempty" dogrun:"enum=avg|gem" doc:"How an inner layer's map (a cut dogrun backbones lists as a map) becomes a vector, per channel: avg (the mean over positions, the default) or gem (the generalised mean (mean of x^p)^(1/p), which leans toward the strongest positions). Cuts that are vectors already are used as they are."`
	GeMP      float64 `yaml:"gem_p,omitempty" json:"gem_p,omitempty" dogrun:"min=0,max=16" doc:"With pool: gem, the exponent p, from 1 (the mean) to 16 (near the maximum); absent means 3."`
	// Absent means equal weights, so existing trial hashes stay.
	BlockWeights string `yaml:"block_weights,omitempty" json:"block_weights,omitempty" dogrun:"enum=equal|validation" doc:"With several blocks (backbone.names) and normalize: l2: equal (each unit-length block counts alike, the default) or validation (each block's weight, from 0 to 2, chosen per trial by the accuracy of the nearest dog mean on the validation photos, one block at a time)."`
	Whiten       Whiten `yaml:"whiten,omitempty" json:"whiten,omitempty" doc:"PCA whitening fitted on dogs the experiment never uses, applied to every photo before the head: each block to unit length, concatenated, projected on the fit's principal axes, each divided by its standard deviation, so that the directions in which all dog faces vary most (light, pose) stop drowning the rest. Absent: no whitening."`
}

// Whiten fits PCA whitening on photos of other dogs. Zero values (absent)
// mean none, so existing trial hashes stay.
type Whiten struct {
	PCA   int    `yaml:"pca,omitempty" json:"pca,omitempty" dogrun:"min=0,max=100000" doc:"Principal axes kept, at most: features narrower than this, or varying along fewer axes over the fitting photos, keep those they have; 0 does not whiten."`
	FitOn string `yaml:"fit_on,omitempty" json:"fit_on,omitempty" dogrun:"enum=pool" doc:"Whose photos the whitening is fitted on: pool (the default), the folder's dogs with 2 to dataset.min_images_per_class - 1 photos, which the experiment never uses; every trial checks that none of its dogs (folder) or photos (sha256) is among them."`
}

// Train holds the optimiser settings.
type Train struct {
	Optimizer     string        `yaml:"optimizer" json:"optimizer" dogrun:"enum=adam|sgd|adamw,default=adam" doc:"Optimiser."`
	LR            float64       `yaml:"lr" json:"lr" dogrun:"gt=0,max=10,default=0.001" doc:"Learning rate."`
	WeightDecay   float64       `yaml:"weight_decay" json:"weight_decay" dogrun:"min=0,default=0" doc:"L2 weight decay."`
	BatchSize     int           `yaml:"batch_size" json:"batch_size" dogrun:"min=1,max=65536,default=32" doc:"Mini-batch size."`
	Epochs        int           `yaml:"epochs" json:"epochs" dogrun:"min=1,max=100000,default=40" doc:"Maximum number of epochs."`
	EarlyStopping EarlyStopping `yaml:"early_stopping" json:"early_stopping" doc:"Stop when the monitored validation metric stops improving."`
}

// EarlyStopping stops training when a validation metric stalls.
type EarlyStopping struct {
	Monitor  string  `yaml:"monitor" json:"monitor" dogrun:"enum=val_loss|val_accuracy,default=val_loss" doc:"Validation metric to watch."`
	Patience int     `yaml:"patience" json:"patience" dogrun:"min=0,default=5" doc:"Epochs without improvement before stopping; 0 disables early stopping."`
	MinDelta float64 `yaml:"min_delta" json:"min_delta" dogrun:"min=0,default=0" doc:"Smallest change that counts as an improvement."`
}

// OpenSet holds some dogs out of training so that a rejection rule can be
// calibrated on unseen dogs and measured on others. Both fields are zero when
// absent (no defaults), so experiments without it keep their trial hashes.
type OpenSet struct {
	UnknownDogs int     `yaml:"unknown_dogs" json:"unknown_dogs" dogrun:"min=0,max=100000" doc:"Dogs drawn (with dataset.seed) out of the kept dogs and never trained on: all photos of half of them join validation to calibrate the rule, all photos of the other half join test to measure it. At least 2."`
	TargetFAR   float64 `yaml:"target_far" json:"target_far" dogrun:"min=0,lt=1" doc:"False-accept rate the rule is calibrated to on the validation unknowns: the largest share of unseen dogs' photos that may be named as a known dog, e.g. 0.05."`
	// Empty values mean task and the two original scores, so existing trial
	// hashes stay.
	CalibrateOn string   `yaml:"calibrate_on,omitempty" json:"calibrate_on,omitempty" dogrun:"enum=task|pool" doc:"Whose photos calibrate the rules: task (the default: all photos of half of the unknown_dogs) or pool (the folder's dogs with 2 to dataset.min_images_per_class - 1 photos, which no trial uses, split with each trial's seed into thirds: one calibrates, one measures, one is the cohort of centroid_cosine_minus_cohort; checked disjoint from the task's dogs by folder and sha256). With pool, the unknown_dogs measure the rule too."`
	Scores      []string `yaml:"scores,omitempty" json:"scores,omitempty" dogrun:"unique,enum=max_softmax|max_logit|energy|centroid_cosine|centroid_cosine_minus_cohort" doc:"The rules calibrated, of which each trial keeps the one naming the most known validation photos right (every rule lets the same share of calibration photos through): max_softmax (the head's largest probability), max_logit (its largest output before softmax), energy (the log-sum-exp of those outputs), centroid_cosine (the cosine of the features to the nearest known dog's mean), centroid_cosine_minus_cohort (that less the mean cosine to the 10 nearest cohort dogs; needs calibrate_on: pool). Absent: max_softmax and centroid_cosine."`
}

// Evaluation measures features without a head: verification of photo
// pairs (same dog or not, by cosine) and one-shot identification against a
// gallery of one photo per dog, each draw on dogs nothing was trained on.
type Evaluation struct {
	Dogs          int       `yaml:"dogs" json:"dogs" dogrun:"min=2,max=100000,default=48" doc:"Dogs measured per draw, drawn with the trial's seed from those with at least dataset.min_images_per_class photos; as many others, drawn with them, choose the verification threshold. The DogFaceNet paper measures 48."`
	GenuinePairs  int       `yaml:"genuine_pairs" json:"genuine_pairs" dogrun:"min=1,max=10000000,default=2500" doc:"Pairs of two photos of one dog per draw (a dog drawn uniformly, then two of its photos; fewer when the dogs have fewer); near-duplicates are never paired."`
	ImpostorPairs int       `yaml:"impostor_pairs" json:"impostor_pairs" dogrun:"min=1,max=10000000,default=25000" doc:"Pairs of photos of two dogs per draw (two dogs drawn uniformly, a photo of each). The true-accept rate at a false-accept rate f rests on the floor(f x impostor_pairs) impostor pairs the threshold lets through: 25000 gives 25 at 0.1%."`
	TargetFARs    []float64 `yaml:"target_fars" json:"target_fars" dogrun:"gt=0,lt=1,unique,default=0.01 0.001" doc:"False-accept rates at which the true-accept rate is reported."`
	MaxRank       int       `yaml:"max_rank" json:"max_rank" dogrun:"min=1,max=1000,default=5" doc:"One-shot identification's cumulative match characteristic is reported from rank 1 to this."`
}

// Search draws trials from a space of settings. Each seed of the
// experiment is a search of its own (with dataset.resample, on its own
// draw); its trials all train with that seed.
type Search struct {
	Method        string `yaml:"method" json:"method" dogrun:"enum=random|tpe,default=tpe" doc:"random (each setting drawn independently) or tpe (the tree-structured Parzen estimator, as Optuna's TPESampler: random for the first startup_trials, then drawn where the best trials so far are)."`
	Trials        int    `yaml:"trials" json:"trials" dogrun:"required,min=1,max=100000" doc:"Trials to draw per seed, pruned and failed ones included. Raising it continues a finished search."`
	Seed          int64  `yaml:"seed" json:"seed" dogrun:"default=1" doc:"Seed of the draws: the same seed and history draw the same settings."`
	Metric        string `yaml:"metric" json:"metric" dogrun:"enum=val_accuracy|val_loss,default=val_accuracy" doc:"The validation metric the search optimises and prunes on: a complete trial's value is the one at its best epoch (by train.early_stopping.monitor)."`
	StartupTrials int    `yaml:"startup_trials" json:"startup_trials" dogrun:"min=0,max=100000,default=10" doc:"tpe: finished trials drawn at random before TPE takes over."`
	Space         Space  `yaml:"space" json:"space" doc:"Dotted field path -> its range: {uniform: [lo, hi]}, {loguniform: [lo, hi]}, {int: [lo, hi]} with optional step: k or log: true, or {choice: [a, b, ...]}."`
}

// Prune stops a search's trials that fall behind, after any epoch.
type Prune struct {
	Method               string `yaml:"method" json:"method" dogrun:"required,enum=median|asha" doc:"median (stop when the best value so far is worse than the median of complete trials at the same epoch, as Optuna's MedianPruner) or asha (asynchronous successive halving, as Optuna's SuccessiveHalvingPruner)."`
	StartupTrials        int    `yaml:"startup_trials" json:"startup_trials" dogrun:"min=0,max=100000,default=5" doc:"median: complete trials before any is stopped."`
	WarmupEpochs         int    `yaml:"warmup_epochs" json:"warmup_epochs" dogrun:"min=0,max=100000,default=0" doc:"median: epochs of each trial never stopped after."`
	Interval             int    `yaml:"interval" json:"interval" dogrun:"min=1,max=100000,default=1" doc:"median: epochs between checks after the warm-up."`
	MinTrials            int    `yaml:"min_trials" json:"min_trials" dogrun:"min=1,max=100000,default=1" doc:"median: fewest complete trials that reached the epoch to decide."`
	MinEpochs            int    `yaml:"min_epochs" json:"min_epochs" dogrun:"min=1,max=100000,default=1" doc:"asha: r, the first rung's unit of epochs."`
	ReductionFactor      int    `yaml:"reduction_factor" json:"reduction_factor" dogrun:"min=2,max=100,default=4" doc:"asha: η; rungs end at epochs r·η^(s+k), and about 1/η of the trials reaching a rung go on."`
	MinEarlyStoppingRate int    `yaml:"min_early_stopping_rate" json:"min_early_stopping_rate" dogrun:"min=0,max=30,default=0" doc:"asha: s; the first rung ends at epoch r·η^s."`
}

// Confirm re-runs a search's best configurations with new seeds.
type Confirm struct {
	Top   int `yaml:"top" json:"top" dogrun:"min=1,max=100,default=3" doc:"How many of the best complete trials (by the search's validation metric; distinct settings) to re-run."`
	Seeds int `yaml:"seeds" json:"seeds" dogrun:"min=2,max=200,default=8" doc:"Seeds each is re-run with: 1, 2, ... skipping the search's own seed, on the same split."`
}

// Settle is a sequential comparison declared before the first seed: the
// seeds run round by round, and after each round every open comparison is
// looked at, until all are decided or MaxSeeds is reached. Zero (absent) it
// changes nothing; it is left out of trial hashes, so a settled experiment
// shares its trials with the same sweep run without it.
type Settle struct {
	By        string  `yaml:"by" json:"by" dogrun:"required" doc:"The swept field whose values are compared, e.g. head.dropout; each value other than reference is one comparison (within each combination of the other swept fields)."`
	Reference Label   `yaml:"reference,omitempty" json:"reference,omitempty" doc:"The value of by that the others are compared with, as the sweep lists it; absent: the sweep's first value."`
	Metric    string  `yaml:"metric" json:"metric" dogrun:"enum=top1|top5,default=top1" doc:"What counts as a correct test photo: top1 (the dog named first) or top5 (the dog among the five best-scored)."`
	Margin    float64 `yaml:"margin" json:"margin" dogrun:"required,min=0,lt=1" doc:"The smallest difference in test accuracy that matters, e.g. 0.01 (one point): a difference shown to lie within ±margin is the verdict equivalent."`
	Alpha     float64 `yaml:"alpha" json:"alpha" dogrun:"gt=0,lt=0.5,default=0.05" doc:"The chance of any false verdict among all the comparisons (better or worse when there is no difference, equivalent when the difference is the margin)."`
	Round     int     `yaml:"round" json:"round" dogrun:"min=2,max=200,default=4" doc:"Seeds added between looks (at least 2: each look estimates a variance)."`
	MaxSeeds  int     `yaml:"max_seeds" json:"max_seeds" dogrun:"required,min=0,max=200" doc:"The cap: seeds per variant at the last look, a multiple of round, at most 200 (planning the boundaries takes longer with more looks). A comparison not decided by then is undecided."`
	Spending  string  `yaml:"spending" json:"spending" dogrun:"enum=obrien-fleming|pocock,default=obrien-fleming" doc:"How alpha is spent over the looks: obrien-fleming (almost nothing early, the last look close to a single test) or pocock (evenly: big effects stop sooner, the last boundary is higher)."`
}

// Label is a setting's value kept as the text a variant key shows it with:
// 0, 0.25, adam, true, [256,128]. Any scalar or list decodes into it.
type Label string

// Axis is one sweep dimension: a dotted field path and the values it takes.
type Axis struct {
	Path   string `json:"path"`
	Values []any  `json:"values"` // as decoded: int64/uint64/float64/string/bool/[]any
	// Position of the key in the file (0 when built in code).
	Line, Column int `json:"-"`
}

// Sweep is an ordered list of axes, written in YAML as a mapping from dotted
// path to list of values; the order as written is kept.
type Sweep []Axis

// Trial is one run: a variant of the base config and a seed.
type Trial struct {
	Index   int // 0-based position in the expansion
	Seed    int64
	Variant []Setting  // swept settings in axis order; empty when no sweep
	Config  Experiment // fully resolved: sweep applied, Sweep=nil, Seeds=[Seed]
}

// Setting is one swept field and its value, converted to the field's type.
type Setting struct {
	Path  string
	Value any
}
