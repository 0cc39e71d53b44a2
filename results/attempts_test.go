package results

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Every claim is logged with how it ended, also those that trials.attempts
// does not count (released) and those whose worker went silent.
func TestAttemptsLog(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		id := experimentWithTrials(t, s, 3)
		claim := func(worker string, max int) *Trial {
			t.Helper()
			tr, err := s.Claim(ctx, id, worker, time.Minute, max)
			if err != nil || tr == nil {
				t.Fatalf("claim by %s: %+v %v", worker, tr, err)
			}
			return tr
		}
		start := c.now()
		// Trial h0: released (Ctrl-C), then failed, then done.
		h0 := claim("a", 3)
		if err := s.ReleaseTrial(ctx, h0.ID, "a"); err != nil {
			t.Fatal(err)
		}
		c.advance(time.Second)
		claim("b", 3)
		if err := s.Fail(ctx, h0.ID, "b", "boom"); err != nil {
			t.Fatal(err)
		}
		c.advance(time.Second)
		claim("a", 3) // h0 again: failed with attempts left comes first
		if err := s.Finish(ctx, h0.ID, "a", sampleOutcome(t)); err != nil {
			t.Fatal(err)
		}
		// Trial h1: its worker goes silent and another takes it over.
		h1 := claim("c", 2)
		c.advance(2 * time.Minute)
		if got := claim("d", 2); got.ID != h1.ID {
			t.Fatalf("d claimed %s, want the silent worker's %s", got.Hash, h1.Hash)
		}
		// ... and goes silent too, with no attempts left: it is lost.
		c.advance(2 * time.Minute)
		lostAt := c.now()
		h2 := claim("e", 2)
		if h2.Hash != "h2" {
			t.Fatalf("e claimed %s, want h2 (h1 has no attempts left)", h2.Hash)
		}

		got, err := s.Attempts(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		at := func(d time.Duration) *time.Time { x := start.Add(d); return &x }
		want := map[int64][]Attempt{
			h0.ID: {
				{1, "a", start, at(0), "released"},
				{2, "b", start.Add(time.Second), at(time.Second), "failed"},
				{3, "a", start.Add(2 * time.Second), at(2 * time.Second), "done"},
			},
			h1.ID: {
				{1, "c", start.Add(2 * time.Second), at(2*time.Second + 2*time.Minute), "taken over"},
				{2, "d", start.Add(2*time.Second + 2*time.Minute), &lostAt, "lost"},
			},
			h2.ID: {{1, "e", lostAt, nil, "running"}},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("attempts (-want +got):\n%s", d)
		}
	})
}
