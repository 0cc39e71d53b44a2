package results

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRegisterTrialsIdempotent(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		id, err := s.PutExperiment(ctx, Experiment{Name: "exp"})
		if err != nil {
			t.Fatal(err)
		}
		in := makeTrials(3)
		n, err := s.RegisterTrials(ctx, id, in)
		if err != nil || n != 3 {
			t.Fatalf("first RegisterTrials = %d, %v; want 3", n, err)
		}
		got, err := s.Trials(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var want []Trial
		for i, tr := range in {
			tr.ID = got[i].ID
			tr.ExperimentID = id
			tr.Status = StatusPending
			want = append(want, tr)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("Trials after register (-want +got):\n%s", d)
		}

		// Finish the first trial, then register again with one new trial.
		claimed, err := s.Claim(ctx, id, "w1", time.Hour, 3)
		if err != nil {
			t.Fatal(err)
		}
		c.advance(time.Second)
		if err := s.Finish(ctx, claimed.ID, "w1", sampleOutcome(t)); err != nil {
			t.Fatal(err)
		}
		before, err := s.Trials(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		changed := makeTrials(4)
		changed[0].Seed = 999 // a rerun must not overwrite existing rows
		n, err = s.RegisterTrials(ctx, id, changed)
		if err != nil || n != 1 {
			t.Fatalf("second RegisterTrials = %d, %v; want 1", n, err)
		}
		after, err := s.Trials(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(before, after[:3]); d != "" {
			t.Errorf("existing trials changed by re-register (-before +after):\n%s", d)
		}
		if after[3].Hash != "h3" || after[3].Status != StatusPending {
			t.Errorf("new trial = %+v", after[3])
		}
		m, err := s.TestMetrics(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := m[claimed.ID]; !ok || len(m) != 1 {
			t.Errorf("results of the done trial lost: %v", m)
		}
		if n, err := s.RegisterTrials(ctx, id, changed); err != nil || n != 0 {
			t.Errorf("third RegisterTrials = %d, %v; want 0", n, err)
		}
	})
}

func TestClaimOrderAndExhaustion(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		id, err := s.PutExperiment(ctx, Experiment{Name: "exp"})
		if err != nil {
			t.Fatal(err)
		}
		// Registered out of order: claims must follow Index, not insertion.
		trials := makeTrials(4)
		trials[0], trials[3] = trials[3], trials[0]
		if _, err := s.RegisterTrials(ctx, id, trials); err != nil {
			t.Fatal(err)
		}
		t0 := c.now()
		first, err := s.Claim(ctx, id, "w1", time.Hour, 3)
		if err != nil {
			t.Fatal(err)
		}
		want := makeTrials(1)[0]
		want.ID, want.ExperimentID = first.ID, id
		want.Status, want.Worker, want.Attempts = StatusRunning, "w1", 1
		want.StartedAt, want.HeartbeatAt = &t0, &t0
		if d := cmp.Diff(&want, first); d != "" {
			t.Errorf("claimed trial (-want +got):\n%s", d)
		}

		var hashes []string
		for {
			tr, err := s.Claim(ctx, id, "w1", time.Hour, 3)
			if err != nil {
				t.Fatal(err)
			}
			if tr == nil {
				break
			}
			hashes = append(hashes, tr.Hash)
		}
		if d := cmp.Diff([]string{"h1", "h2", "h3"}, hashes); d != "" {
			t.Errorf("claim order (-want +got):\n%s", d)
		}
	})
}

func TestClaimPassesOverSkippedAndSupersededTrials(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, _ *clock) {
		ctx := context.Background()
		id := experimentWithTrials(t, s, 5)
		// The file changed: h4 is no longer in it.
		if _, err := s.RegisterTrials(ctx, id, makeTrials(4)); err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			tr, err := s.Claim(ctx, id, "w", time.Hour, 3, "h0", "h2", "nope")
			if err != nil {
				t.Fatal(err)
			}
			if tr == nil {
				break
			}
			got = append(got, tr.Hash)
		}
		if d := cmp.Diff([]string{"h1", "h3"}, got); d != "" {
			t.Errorf("claimed (-want +got):\n%s", d)
		}
		// Nil and empty skip nothing: h0, then h2.
		for i, skip := range [][]string{nil, {}} {
			want := []string{"h0", "h2"}[i]
			if tr, err := s.Claim(ctx, id, "w", time.Hour, 3, skip...); err != nil || tr == nil || tr.Hash != want {
				t.Errorf("Claim skipping %#v = %+v, %v; want %s", skip, tr, err, want)
			}
		}
	})
}

func TestStaleHeartbeatReclaim(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		id := experimentWithTrials(t, s, 1)
		tr, err := s.Claim(ctx, id, "w1", time.Minute, 3)
		if err != nil {
			t.Fatal(err)
		}

		// A heartbeat keeps it alive past the original claim time.
		c.advance(50 * time.Second)
		if err := s.Heartbeat(ctx, tr.ID, "w1"); err != nil {
			t.Fatal(err)
		}
		c.advance(50 * time.Second)
		if got, err := s.Claim(ctx, id, "w2", time.Minute, 3); got != nil || err != nil {
			t.Fatalf("claimed a live trial: %v, %v", got, err)
		}
		// staleAfter <= 0 never reclaims.
		c.advance(time.Hour)
		if got, err := s.Claim(ctx, id, "w2", 0, 3); got != nil || err != nil {
			t.Fatalf("staleAfter 0 reclaimed: %v, %v", got, err)
		}

		now := c.now()
		got, err := s.Claim(ctx, id, "w2", time.Minute, 3)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || got.ID != tr.ID || got.Worker != "w2" || got.Attempts != 2 || !got.HeartbeatAt.Equal(now) {
			t.Fatalf("stale reclaim = %+v", got)
		}
		// The old worker learns it lost the trial and cannot store results.
		if err := s.Heartbeat(ctx, tr.ID, "w1"); !errors.Is(err, ErrNotOwned) {
			t.Errorf("old worker heartbeat: err = %v, want ErrNotOwned", err)
		}
		if err := s.Finish(ctx, tr.ID, "w1", sampleOutcome(t)); !errors.Is(err, ErrNotOwned) {
			t.Errorf("old worker finish: err = %v, want ErrNotOwned", err)
		}
		if err := s.Fail(ctx, tr.ID, "w1", "x"); !errors.Is(err, ErrNotOwned) {
			t.Errorf("old worker fail: err = %v, want ErrNotOwned", err)
		}
		if err := s.Finish(ctx, tr.ID, "w2", sampleOutcome(t)); err != nil {
			t.Errorf("new worker finish: %v", err)
		}
	})
}

func TestAttemptsLimit(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		id := experimentWithTrials(t, s, 1)
		for attempt := 1; attempt <= 2; attempt++ {
			tr, err := s.Claim(ctx, id, "w", time.Minute, 2)
			if err != nil {
				t.Fatal(err)
			}
			if tr == nil || tr.Attempts != attempt || tr.Error != "" {
				t.Fatalf("attempt %d: claimed %+v", attempt, tr)
			}
			if err := s.Fail(ctx, tr.ID, "w", fmt.Sprintf("boom %d", attempt)); err != nil {
				t.Fatal(err)
			}
		}
		if tr, err := s.Claim(ctx, id, "w", time.Minute, 2); tr != nil || err != nil {
			t.Fatalf("claimed past the attempt limit: %+v, %v", tr, err)
		}
		// A higher limit makes it claimable again.
		tr, err := s.Claim(ctx, id, "w", time.Minute, 3)
		if err != nil || tr == nil || tr.Attempts != 3 {
			t.Fatalf("claim with limit 3 = %+v, %v", tr, err)
		}

		// Stale with no attempts left: marked failed instead of reclaimed.
		now := c.advance(time.Hour)
		if got, err := s.Claim(ctx, id, "w2", time.Minute, 3); got != nil || err != nil {
			t.Fatalf("stale claim past the limit = %+v, %v", got, err)
		}
		all, err := s.Trials(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got := all[0]
		if got.Status != StatusFailed || got.Error != "worker w stopped sending heartbeats and no attempts are left" ||
			got.FinishedAt == nil || !got.FinishedAt.Equal(now) {
			t.Errorf("abandoned trial = %+v", got)
		}
	})
}

func TestFailRoundTrip(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, c *clock) {
		ctx := context.Background()
		id := experimentWithTrials(t, s, 1)
		t0 := c.now()
		tr, err := s.Claim(ctx, id, "w", time.Minute, 3)
		if err != nil {
			t.Fatal(err)
		}
		t1 := c.advance(time.Second)
		if err := s.Fail(ctx, tr.ID, "w", "out of memory"); err != nil {
			t.Fatal(err)
		}
		all, err := s.Trials(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := *tr
		want.Status, want.Error = StatusFailed, "out of memory"
		want.StartedAt, want.HeartbeatAt, want.FinishedAt = &t0, &t0, &t1
		if d := cmp.Diff([]Trial{want}, all); d != "" {
			t.Errorf("failed trial (-want +got):\n%s", d)
		}
	})
}

func TestReleaseTrial(t *testing.T) {
	onBoth(t, func(t *testing.T, s *Store, _ *clock) {
		ctx := context.Background()
		id := experimentWithTrials(t, s, 2)
		tr, err := s.Claim(ctx, id, "w", time.Minute, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ReleaseTrial(ctx, tr.ID, "other"); !errors.Is(err, ErrNotOwned) {
			t.Errorf("release by another worker: err = %v, want ErrNotOwned", err)
		}
		if err := s.ReleaseTrial(ctx, tr.ID, "w"); err != nil {
			t.Fatal(err)
		}
		all, err := s.Trials(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := makeTrials(1)[0]
		want.ID, want.ExperimentID, want.Status = tr.ID, id, StatusPending
		if d := cmp.Diff(want, all[0]); d != "" {
			t.Errorf("released trial (-want +got):\n%s", d)
		}
		if err := s.ReleaseTrial(ctx, tr.ID, "w"); !errors.Is(err, ErrNotOwned) {
			t.Errorf("second release: err = %v, want ErrNotOwned", err)
		}
		// The released attempt did not count: with maxAttempts 1 it is claimable
		// and comes first again.
		again, err := s.Claim(ctx, id, "w", time.Minute, 1)
		if err != nil || again == nil || again.ID != tr.ID || again.Attempts != 1 {
			t.Errorf("claim after release = %+v, %v", again, err)
		}
	})
}

func TestRegisterTrialsSupersedesTheOldSet(t *testing.T) {
	ctx := context.Background()
	st, _ := openTest(t)
	id, err := st.PutExperiment(ctx, Experiment{Name: "e", File: "e.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	trial := func(h string, i int) Trial { return Trial{Hash: h, Index: i, VariantJSON: "{}", ConfigJSON: "{}"} }
	hashesOf := func() []string {
		ts, err := st.Trials(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tr := range ts {
			out = append(out, tr.Hash)
		}
		return out
	}
	if _, err := st.RegisterTrials(ctx, id, []Trial{trial("a", 0), trial("b", 1)}); err != nil {
		t.Fatal(err)
	}
	// The file changed: trial a is gone from it, c is new.
	if _, err := st.RegisterTrials(ctx, id, []Trial{trial("b", 0), trial("c", 1)}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"b", "c"}, hashesOf()); d != "" {
		t.Errorf("current trials (-want +got):\n%s", d)
	}
	var superseded int
	if err := st.db.QueryRowContext(ctx, `SELECT count(*) FROM trials WHERE hash = 'a' AND superseded = 1`).Scan(&superseded); err != nil || superseded != 1 {
		t.Errorf("trial a should be kept as superseded: %d rows, %v", superseded, err)
	}
	// Back to the first version: a is current again, with its row intact.
	if n, err := st.RegisterTrials(ctx, id, []Trial{trial("a", 0), trial("b", 1)}); err != nil || n != 0 {
		t.Fatalf("re-registering added %d rows (%v), want 0", n, err)
	}
	if d := cmp.Diff([]string{"a", "b"}, hashesOf()); d != "" {
		t.Errorf("current trials after going back (-want +got):\n%s", d)
	}
}
