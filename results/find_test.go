package results

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestFindTrial(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, _ *clock) {
		ctx := context.Background()
		for _, e := range []struct {
			name   string
			hashes []string
		}{{"one", []string{"abc123", "abd456"}}, {"two", []string{"abc123"}}} {
			id, err := s.PutExperiment(ctx, Experiment{Name: e.name})
			if err != nil {
				t.Fatal(err)
			}
			var trials []Trial
			for i, h := range e.hashes {
				trials = append(trials, Trial{Hash: h + strings.Repeat("0", 58), Index: i, Seed: int64(i + 1)})
			}
			if _, err := s.RegisterTrials(ctx, id, trials); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			id, exp string
			want    string // the error; "" for a match
			is      error
		}{
			{"ab", "", "3 trials have a hash starting with ab: abc1230000000000 (one, seed 1), abd4560000000000 (one, seed 2), abc1230000000000 (two, seed 1); give more of the hash or name the experiment", nil},
			{"ABD", "", "", nil},
			{"abc1", "two", "", nil},
			{"abd", "two", "no trial of experiment two has a hash starting with abd in $DB", ErrNotFound},
			{"99", "", "no trial has a hash starting with 99 in $DB", ErrNotFound},
			{"xyz", "", `trial ID "xyz": not a hexadecimal hash prefix`, ErrBadHashPrefix},
			{"a%", "", `trial ID "a%": not a hexadecimal hash prefix`, ErrBadHashPrefix},
		} {
			exp, tr, err := s.FindTrial(ctx, c.id, c.exp)
			if c.want == "" {
				if err != nil || !strings.HasPrefix(tr.Hash, strings.ToLower(c.id)) || (c.exp != "" && exp.Name != c.exp) {
					t.Errorf("FindTrial(%q, %q) = %s of %s, %v", c.id, c.exp, tr.Hash, exp.Name, err)
				}
				continue
			}
			want := strings.ReplaceAll(c.want, "$DB", s.Path())
			if err == nil || err.Error() != want {
				t.Errorf("FindTrial(%q, %q): got %v\nwant %s", c.id, c.exp, err, want)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("FindTrial(%q, %q): %v does not wrap %v", c.id, c.exp, err, c.is)
			}
		}
	})
}
