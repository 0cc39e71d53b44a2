package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dogrun/dogrun/backbone"
	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/search"
	"github.com/dogrun/dogrun/train"
)

// searching is a search experiment as a run draws and prunes its trials:
// the space, sampler and pruner its file declares, and one study per seed.
type searching struct {
	exp     *schemas.Experiment
	space   search.Space
	sampler search.Sampler
	pruner  search.Pruner // nil without prune
	metric  string        // the validation metric searched on
	dir     search.Direction
	budget  int // draws per study
	studies []*study
	// planMu is held while a draw's trial is planned: workers of one run
	// plan side by side.
	planMu sync.Mutex
}

// study is the search of one seed of the file: all its draws train with
// that seed (with dataset.resample, on that seed's draw of dogs).
type study struct {
	key   string // what the store files its draws under
	seed  int64
	index int // among the file's seeds
}

// searchRole is what a trial is to its search.
type searchRole struct {
	study *study
	n     int // the draw; for a confirmation, the draw whose settings it re-runs
	point search.Point
	rank  int // a confirmation's settings' rank among the study's best (1 = best); 0 for a draw
}

func newSearching(p *Plan) (*searching, error) {
	exp := p.Experiment
	space, err := exp.SearchSpace()
	if err != nil {
		return nil, err
	}
	sc := exp.Search
	s := &searching{exp: exp, space: space, metric: sc.Metric, budget: sc.Trials}
	s.sampler, s.pruner, s.dir = exp.Searcher()
	// A study is its seed's trial (config, photos, backbone, split) and what
	// decides its draws; the budget, the pruner and confirm are not: raising
	// trials continues a study, and a pruned draw stays pruned.
	definition, err := json.Marshal(struct {
		Method        string
		Seed          int64
		Metric        string
		StartupTrials int
		Space         []search.Param
	}{sc.Method, sc.Seed, sc.Metric, sc.StartupTrials, space.Params()})
	if err != nil {
		return nil, err
	}
	for i, base := range p.Trials {
		h := sha256.New()
		fmt.Fprintf(h, "dogrun search v1\n%s\n%s\n", base.Hash, definition)
		s.studies = append(s.studies, &study{key: hex.EncodeToString(h.Sum(nil)), seed: base.Seed, index: i})
	}
	return s, nil
}

// value is a validation score of the metric searched on.
func (s *searching) value(loss, accuracy float64) float64 {
	if s.metric == "val_loss" {
		return loss
	}
	return accuracy
}

// history is a study's finished draws as the samplers take them.
func (s *searching) history(outs []results.SampleOutcome) []search.Trial {
	h := make([]search.Trial, len(outs))
	for i, o := range outs {
		state := search.Complete
		if o.Pruned {
			state = search.Pruned
		}
		h[i] = search.Trial{N: o.N, Point: o.Point, State: state, Value: s.value(o.ValLoss, o.ValAccuracy), Epoch: o.Epoch}
	}
	return h
}

// confirmSeeds are the seeds a study's best settings are re-run with:
// 1, 2, ... without the study's own, m of them.
func confirmSeeds(own int64, m int) []int64 {
	var out []int64
	for seed := int64(1); len(out) < m; seed++ {
		if seed != own {
			out = append(out, seed)
		}
	}
	return out
}

// BackboneChoices are the experiment's base trial with each backbone a
// search's choices name, so that one unknown to dogrun is refused before
// any draw.
func BackboneChoices(exp *schemas.Experiment) ([]schemas.Trial, error) {
	var out []schemas.Trial
	for _, d := range exp.Search.Space {
		if d.Kind != "choice" || !strings.HasPrefix(d.Path, "backbone.") {
			continue
		}
		for _, v := range d.Choices {
			t, err := exp.SearchTrial(exp.Seeds[0], map[string]any{d.Path: v})
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// checkSearchBackbones plans each of BackboneChoices, so that the run
// fetches their backbones before its first draw.
func (p *Plan) checkSearchBackbones() error {
	choices, err := BackboneChoices(p.Experiment)
	if err != nil {
		return err
	}
	for _, c := range choices {
		t, err := p.trial(c, 0)
		if err != nil {
			return err
		}
		p.choices = append(p.choices, t)
	}
	return nil
}

// registerSearch keeps the stored trials of this file's studies current;
// those of a search the file no longer declares are superseded.
func (r *run) registerSearch(ctx context.Context) error {
	s, err := newSearching(r.plan)
	if err != nil {
		return err
	}
	r.search = s
	keys := make([]string, len(s.studies))
	for i, st := range s.studies {
		keys[i] = st.key
	}
	return r.opt.Store.KeepSearch(ctx, r.expID, keys)
}

// planned is how many trials the search runs: its draws and, with confirm,
// the re-runs of its best settings.
func (s *searching) planned() int {
	n := s.budget * len(s.studies)
	if c := s.exp.Confirm; c.Declared() {
		n += c.Top * c.Seeds
	}
	return n
}

// runSearch counts the search's trials done already, says what it runs,
// and runs them: claims, draws and confirmations.
func (r *run) runSearch(ctx context.Context) error {
	stored, err := r.opt.Store.Trials(ctx, r.expID)
	if err != nil {
		return err
	}
	s, exp := r.search, r.plan.Experiment
	r.sum.Planned = s.planned()
	what := fmt.Sprintf("%s search, %s per seed x %s", exp.Search.Method, english.Count(s.budget, "trial"), english.Count(len(s.studies), "seed"))
	if exp.Prune.Declared() {
		what += ", pruned by " + exp.Prune.Method
	}
	if c := exp.Confirm; c.Declared() {
		what += fmt.Sprintf(", the best %d confirmed with %s", c.Top, english.Count(c.Seeds, "seed"))
	}
	for _, t := range stored {
		if t.Status == results.StatusDone || t.Status == results.StatusPruned {
			r.sum.AlreadyDone++
		}
	}
	fmt.Fprintf(r.opt.Log, "experiment %s: %s: %s (%d already done), %s\n",
		exp.Name, what, english.Count(r.sum.Planned, "trial"), r.sum.AlreadyDone, r.describeData())
	return r.workOn(ctx, &searchClaims{r: r, made: map[string]Trial{}, changed: make(chan struct{}), poll: 2 * time.Second})
}

// searchClaims hands out a search's trials: first any trial of it the store
// lets this worker claim (handed back, failed with attempts left, or left
// by a silent worker), then new draws while a study has budget left, then,
// once a study has finished, the confirmations of its best settings.
type searchClaims struct {
	r       *run
	mu      sync.Mutex
	made    map[string]Trial // the trials this run drew or rebuilt, by hash
	foreign []string         // stored trials this run cannot rebuild (another plan's)
	changed chan struct{}    // closed when a trial of this run ends
	poll    time.Duration    // how often a worker waiting for others' trials looks
}

func (c *searchClaims) claim(ctx context.Context, claimStored func(...string) (*results.Trial, error)) (*results.Trial, Trial, error) {
	r := c.r
	for ctx.Err() == nil {
		c.mu.Lock()
		foreign := slices.Clone(c.foreign)
		changed := c.changed
		c.mu.Unlock()
		claimed, err := claimStored(foreign...)
		if err != nil {
			return nil, Trial{}, err
		}
		if claimed != nil {
			t, err := c.trialOf(ctx, claimed)
			if err == nil {
				return claimed, t, nil
			}
			c.mu.Lock()
			c.foreign = append(c.foreign, claimed.Hash)
			c.mu.Unlock()
			if ferr := r.opt.Store.Fail(ctx, claimed.ID, r.opt.Worker, err.Error()); ferr != nil {
				return nil, Trial{}, ferr
			}
			continue
		}
		for _, st := range r.search.studies {
			if t, claimed, err := c.draw(ctx, st); err != nil || claimed != nil {
				return claimed, t, err
			}
		}
		stored, err := r.opt.Store.Trials(ctx, r.expID)
		if err != nil {
			return nil, Trial{}, err
		}
		more, wait, err := c.confirm(ctx, stored)
		switch {
		case err != nil:
			return nil, Trial{}, err
		case more:
			continue
		case !wait:
			return nil, Trial{}, nil
		}
		// Draws run elsewhere, and their study's confirmations wait for them.
		select {
		case <-ctx.Done():
		case <-changed:
		case <-time.After(c.poll):
		}
	}
	return nil, Trial{}, nil
}

func (c *searchClaims) ended() {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *searchClaims) remember(t Trial) {
	c.mu.Lock()
	c.made[t.Hash] = t
	c.mu.Unlock()
}

// draw claims study's next draw, if it has budget left.
func (c *searchClaims) draw(ctx context.Context, st *study) (Trial, *results.Trial, error) {
	r := c.r
	var made Trial
	claimed, _, err := r.opt.Store.DrawSample(ctx, r.expID, st.key, r.search.budget, r.opt.Worker,
		func(n int, outs []results.SampleOutcome) (results.Trial, []float64, error) {
			s := r.search
			pt, err := s.sampler.Sample(s.space, uint64(s.exp.Search.Seed), n, s.history(outs))
			if err != nil {
				return results.Trial{}, nil, err
			}
			if made, err = r.searchTrial(st, n, pt, st.seed, 0); err != nil {
				return results.Trial{}, nil, err
			}
			row, err := storedTrial(made)
			return row, pt, err
		})
	if err != nil || claimed == nil {
		return Trial{}, nil, err
	}
	// Resolved after the draw's transaction: it may read the backbone.
	if made.Frozen, err = r.frozen(ctx, made); err != nil {
		return Trial{}, nil, err
	}
	c.remember(made)
	return made, claimed, nil
}

// frozen is trial t's Frozen, as resolveFreezes sets a sweep's.
func (r *run) frozen(ctx context.Context, t Trial) (*backbone.Frozen, error) {
	r.search.planMu.Lock()
	defer r.search.planMu.Unlock()
	return r.plan.frozenFor(ctx, r.opt.CacheDir, t.Config)
}

// searchTrial is the trial that trains point with seed: study's draw n
// (rank 0), or a confirmation of its settings (its Index is the caller's).
func (r *run) searchTrial(st *study, n int, pt search.Point, seed int64, rank int) (Trial, error) {
	s := r.search
	base, err := s.exp.SearchTrial(seed, s.space.Values(pt))
	if err != nil {
		return Trial{}, err
	}
	s.planMu.Lock()
	t, err := r.plan.trial(base, 0)
	s.planMu.Unlock()
	if err != nil {
		return Trial{}, fmt.Errorf("draw %d of seed %d: %w", n+1, st.seed, err)
	}
	t.search = &searchRole{study: st, n: n, point: pt, rank: rank}
	if rank == 0 {
		// Two draws of a small space may be the same settings: the index
		// keeps their trials apart.
		t.Index = n*len(s.studies) + st.index
		h := sha256.New()
		fmt.Fprintf(h, "%s\nsearch %s %d\n", t.Hash, st.key, n)
		t.Hash = hex.EncodeToString(h.Sum(nil))
	}
	return t, nil
}

// trialOf rebuilds a claimed trial of the search from its stored draw.
func (c *searchClaims) trialOf(ctx context.Context, claimed *results.Trial) (Trial, error) {
	c.mu.Lock()
	t, ok := c.made[claimed.Hash]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	r := c.r
	recs, err := r.opt.Store.SearchRecords(ctx, r.expID)
	if err != nil {
		return Trial{}, err
	}
	var rec *results.SearchRecord
	points := map[string]search.Point{}
	for i, x := range recs {
		if x.TrialID == claimed.ID {
			rec = &recs[i]
		}
		if x.Rank == 0 {
			points[fmt.Sprintf("%s %d", x.Study, x.Sample)] = x.Point
		}
	}
	i := slices.IndexFunc(r.search.studies, func(st *study) bool { return rec != nil && st.key == rec.Study })
	if i < 0 {
		return Trial{}, fmt.Errorf("trial %s is not a draw of this file's search", claimed.Hash[:12])
	}
	st := r.search.studies[i]
	if t, err = r.searchTrial(st, rec.Sample, points[fmt.Sprintf("%s %d", rec.Study, rec.Sample)], claimed.Seed, rec.Rank); err != nil {
		return Trial{}, err
	}
	if t.Hash != claimed.Hash {
		return Trial{}, fmt.Errorf("trial %s: its stored draw now makes trial %s (did the photos or dogrun's split change?)", claimed.Hash[:12], t.Hash[:12])
	}
	t.Index = claimed.Index
	if t.Frozen, err = r.frozen(ctx, t); err != nil {
		return Trial{}, err
	}
	c.remember(t)
	return t, nil
}

// confirm registers the confirmations of each study that has finished all
// its draws and has none yet (more: there are new trials to claim), and
// says whether a study still waits for draws running (wait).
func (c *searchClaims) confirm(ctx context.Context, stored []results.Trial) (more, wait bool, err error) {
	r := c.r
	s := r.search
	if !s.exp.Confirm.Declared() {
		return false, false, nil
	}
	recs, err := r.opt.Store.SearchRecords(ctx, r.expID)
	if err != nil {
		return false, false, err
	}
	status := map[int64]results.TrialStatus{}
	for _, t := range stored {
		status[t.ID] = t.Status
	}
	for _, st := range s.studies {
		draws, confirmed, unfinished, running := 0, false, false, false
		for _, rec := range recs {
			switch {
			case rec.Study != st.key:
			case rec.Rank > 0:
				confirmed = true
			default:
				draws++
				switch status[rec.TrialID] {
				case results.StatusRunning:
					unfinished, running = true, true
				case results.StatusPending:
					unfinished = true
				}
			}
		}
		if confirmed {
			continue
		}
		if draws < s.budget || unfinished {
			wait = wait || running
			continue
		}
		added, err := c.registerConfirmations(ctx, st)
		if err != nil {
			return false, false, err
		}
		more = more || added > 0
	}
	return more, wait, nil
}

// registerConfirmations stores the re-runs of study's best distinct
// settings (complete draws only, by the metric searched on).
func (c *searchClaims) registerConfirmations(ctx context.Context, st *study) (int, error) {
	r := c.r
	s := r.search
	outs, err := r.opt.Store.StudySamples(ctx, r.expID, st.key)
	if err != nil {
		return 0, err
	}
	var best []search.Trial
	for _, t := range search.Top(s.history(outs), len(outs), s.dir) {
		if len(best) < s.exp.Confirm.Top && !slices.ContainsFunc(best, func(b search.Trial) bool { return slices.Equal(b.Point, t.Point) }) {
			best = append(best, t)
		}
	}
	seeds := confirmSeeds(st.seed, s.exp.Confirm.Seeds)
	var cs []results.Confirmation
	var names []string
	for i, b := range best {
		for j, seed := range seeds {
			t, err := r.searchTrial(st, b.N, b.Point, seed, i+1)
			if err != nil {
				return 0, err
			}
			t.Index = s.budget*len(s.studies) + i*len(seeds) + j
			row, err := storedTrial(t)
			if err != nil {
				return 0, err
			}
			cs = append(cs, results.Confirmation{Trial: row, Sample: b.N, Rank: i + 1})
			if j == 0 {
				names = append(names, fmt.Sprintf("%s (%s %.4f)", t.VariantKey(), s.metric, b.Value))
			}
		}
	}
	added, err := r.opt.Store.RegisterConfirmations(ctx, r.expID, st.key, cs)
	if err != nil || added == 0 {
		return added, err
	}
	fmt.Fprintf(r.opt.Log, "search of seed %d finished: re-running its best %s with seeds %s: %s\n",
		st.seed, english.Count(len(best), "setting"), seedList(seeds), strings.Join(names, "; "))
	return added, nil
}

func seedList(seeds []int64) string {
	parts := make([]string, len(seeds))
	for i, s := range seeds {
		parts[i] = fmt.Sprint(s)
	}
	return strings.Join(parts, ", ")
}

// studyView is a study's curves as the pruner of one of its running draws
// sees them.
type studyView struct {
	r       *run
	claimed *results.Trial
	study   *study
}

// ask publishes the draw's curve so far (seen) for the other draws'
// pruners, reads theirs up to the same epoch, and asks the pruner.
func (v *studyView) ask(ctx context.Context, seen []train.Epoch) (bool, error) {
	r := v.r
	s := r.search
	if err := r.opt.Store.RecordEpochs(ctx, v.claimed.ID, r.opt.Worker, storedEpochs(seen)); err != nil {
		return false, err
	}
	curves, err := r.opt.Store.StudyCurves(ctx, r.expID, v.study.key, len(seen))
	if err != nil {
		return false, err
	}
	var others []search.Curve
	for _, c := range curves {
		if c.TrialID == v.claimed.ID {
			continue
		}
		values := make([]float64, len(c.Epochs))
		for i, e := range c.Epochs {
			values[i] = s.value(e.ValLoss, e.ValAccuracy)
		}
		others = append(others, search.Curve{Values: values, Complete: c.Complete})
	}
	own := make([]float64, len(seen))
	for i, e := range seen {
		own[i] = s.value(e.ValLoss, e.ValAccuracy)
	}
	return s.pruner.Prune(own, others), nil
}
