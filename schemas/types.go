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
	Sweep        Sweep        `yaml:"sweep,omitempty" json:"sweep,omitempty" dogrun:"nosweep" doc:"Grid of variants: dotted field path -> list of values. Every combination is run (first axis outermost) once per seed."`
	Seeds        []int64      `yaml:"seeds" json:"seeds" dogrun:"required,nosweep,items=1,unique" doc:"Training seeds; each variant is trained once per seed."`

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
	Group     string  `yaml:"group" json:"group" dogrun:"nosweep,enum=phash|none,default=phash" doc:"How near-duplicate photos are found and kept on one side of the split: phash (perceptual hash searched over re-crops and flips, calibrated on DogFaceNet) or none (every photo on its own, as the seed did)."`
	Threshold float64 `yaml:"threshold" json:"threshold" dogrun:"nosweep,min=0,max=64,default=8" doc:"phash: largest Hamming distance in bits (of 64) at which two photos are near-duplicates."`
	KFold     int     `yaml:"kfold" json:"kfold" dogrun:"nosweep,min=0,max=50,default=0" doc:"0: one holdout split with dataset.test and dataset.val. K >= 2: K folds, each tested once, with dataset.val for validation; every variant and seed runs once per fold."`
	Leaky     bool    `yaml:"leaky" json:"leaky" dogrun:"default=false" doc:"Reproduce the original Keras scripts' flawed protocol (augment first, then split, so copies of a training photo are tested) only to show how much it inflates accuracy. May be swept: [false, true] puts both side by side."`
}

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
}

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
