package runner

import (
	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/train"
)

// FitConfig is trial t's head and training configuration.
func FitConfig(t Trial) train.Config {
	cfg := t.Config
	es := cfg.Train.EarlyStopping
	return train.Config{
		Hidden: cfg.Head.Hidden, Dropout: cfg.Head.Dropout, Activation: cfg.Head.Activation,
		Type: cfg.Head.Type, Normalize: cfg.Features.Normalize, BlockWeights: cfg.Features.BlockWeights, Mix: cfg.Augmentation.Mix,
		Optimizer: cfg.Train.Optimizer, LR: cfg.Train.LR, WeightDecay: cfg.Train.WeightDecay,
		BatchSize: cfg.Train.BatchSize, Epochs: cfg.Train.Epochs,
		Monitor: es.Monitor, Patience: es.Patience, MinDelta: es.MinDelta, Seed: t.Seed,
		Trunk: t.trunk(),
	}
}

// Requests lists the feature vectors trial t needs, as Run extracts them.
// With Sets and FitConfig it lets tools (bench/) redo a trial's steps one by one.
func (p *Plan) Requests(t Trial) []backbone.Request {
	return requests(p, p.mustUnits(t), augmentOf(t.Config), t.Config.Features.TTA)
}

// Sets builds the train, validation and test matrices of trial t, of one
// backbone, from a cache that holds every vector Requests lists.
func (p *Plan) Sets(c *backbone.Cache, t Trial) (trainSet, val, test train.Data, err error) {
	s, err := buildSets(p, t, []*backbone.Cache{c}, p.mustUnits(t))
	return s.train, s.val, s.test, err
}
