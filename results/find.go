package results

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrBadHashPrefix is returned (wrapped) by FindTrial for an ID that is not
// a hexadecimal hash prefix.
var ErrBadHashPrefix = errors.New("not a hexadecimal hash prefix")

var hexPrefix = regexp.MustCompile(`^[0-9a-f]{1,64}$`)

// FindTrial resolves id, a trial hash or a prefix of it in either case, to
// exactly one trial, looking in experiment expName only when it is not
// empty. When none or several match, the error says so, naming this
// database; none wraps ErrNotFound.
func (s *Store) FindTrial(ctx context.Context, id, expName string) (Experiment, Trial, error) {
	id = strings.ToLower(id)
	if !hexPrefix.MatchString(id) {
		return Experiment{}, Trial{}, fmt.Errorf("trial ID %q: %w", id, ErrBadHashPrefix)
	}
	exps, err := s.Experiments(ctx)
	if err != nil {
		return Experiment{}, Trial{}, err
	}
	byID := map[int64]Experiment{}
	for _, e := range exps {
		byID[e.ID] = e
	}
	found, err := s.TrialsByHashPrefix(ctx, id)
	if err != nil {
		return Experiment{}, Trial{}, err
	}
	var match []Trial
	for _, t := range found {
		if expName == "" || byID[t.ExperimentID].Name == expName {
			match = append(match, t)
		}
	}
	in := ""
	if expName != "" {
		in = " of experiment " + expName
	}
	switch len(match) {
	case 0:
		return Experiment{}, Trial{}, &notFound{fmt.Sprintf("no trial%s has a hash starting with %s in %s", in, id, s.where)}
	case 1:
		return byID[match[0].ExperimentID], match[0], nil
	}
	var names []string
	for _, t := range match[:min(len(match), 5)] {
		names = append(names, fmt.Sprintf("%s (%s, seed %d)", t.Hash[:min(16, len(t.Hash))], byID[t.ExperimentID].Name, t.Seed))
	}
	if len(match) > 5 {
		names = append(names, "...")
	}
	return Experiment{}, Trial{}, fmt.Errorf("%d trials%s have a hash starting with %s: %s; give more of the hash or name the experiment",
		len(match), in, id, strings.Join(names, ", "))
}
