package verify

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/dataset"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// TestAccuracyAndBestThresholdByHand checks the threshold sweep on pairs
// small enough to count on paper.
func TestAccuracyAndBestThresholdByHand(t *testing.T) {
	genuine, impostor := []float64{0.9, 0.6, 0.4}, []float64{0.5, 0.2}
	// At 0.45: 0.9 and 0.6 accepted, 0.2 rejected; 0.4 and 0.5 wrong.
	if got := Accuracy(genuine, impostor, 0.45); !near(got, 0.6) {
		t.Errorf("Accuracy at 0.45 = %v, want 3/5", got)
	}
	for _, tc := range []struct {
		name                string
		genuine, impostor   []float64
		threshold, accuracy float64
	}{
		// Rejecting 0.2 alone gets 4 of 5; so does rejecting up to 0.5,
		// and the lower threshold wins: halfway between 0.2 and 0.4.
		{"two equal peaks", genuine, impostor, 0.3, 0.8},
		// A tie of a genuine and an impostor pair at 0.5 moves together.
		{"tie across kinds", []float64{0.5, 0.7}, []float64{0.5, 0.1}, 0.3, 0.75},
		// Accepting all and rejecting all are equally good: the lower.
		{"accept all", []float64{0.1}, []float64{0.9}, math.Inf(-1), 0.5},
		// Only impostors: the highest score rejects them all.
		{"reject all", nil, []float64{0.3, 0.5}, 0.5, 1},
	} {
		thr, acc, err := BestThreshold(tc.genuine, tc.impostor)
		if err != nil || !(thr == tc.threshold || near(thr, tc.threshold)) || !near(acc, tc.accuracy) {
			t.Errorf("%s: BestThreshold = %v, %v, %v; want %v, %v", tc.name, thr, acc, err, tc.threshold, tc.accuracy)
		}
		if got := Accuracy(tc.genuine, tc.impostor, thr); !near(got, acc) {
			t.Errorf("%s: Accuracy at the chosen threshold %v = %v, BestThreshold said %v", tc.name, thr, got, acc)
		}
	}
	if _, _, err := BestThreshold(nil, nil); err == nil {
		t.Error("BestThreshold of no pairs: no error")
	}
}

// TestBestThresholdBeatsEveryCandidate checks on random scores with many
// ties that no threshold (every score, and below all) does better.
func TestBestThresholdBeatsEveryCandidate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		genuine, impostor := tiedScores(r, 1+r.IntN(30), 0.3), tiedScores(r, 1+r.IntN(30), 0)
		thr, acc, err := BestThreshold(genuine, impostor)
		if err != nil {
			t.Fatal(err)
		}
		if got := Accuracy(genuine, impostor, thr); !near(got, acc) {
			t.Fatalf("trial %d: accuracy at %v is %v, reported %v", trial, thr, got, acc)
		}
		for _, c := range append(append([]float64{math.Inf(-1)}, genuine...), impostor...) {
			if a := Accuracy(genuine, impostor, c); a > acc+1e-12 {
				t.Fatalf("trial %d: threshold %v gets %v, better than the chosen %v (%v)", trial, c, a, thr, acc)
			}
		}
	}
}

// tiedScores are n scores on a coarse grid (many ties), shifted by shift.
func tiedScores(r *rand.Rand, n int, shift float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(r.IntN(8))/8 + shift
	}
	return out
}

// TestROCAndAUCByHand checks the curve and its area on pairs counted on
// paper, with and without ties.
func TestROCAndAUCByHand(t *testing.T) {
	for _, tc := range []struct {
		name              string
		genuine, impostor []float64
		roc               []Point
		auc               float64
	}{
		// Genuine pairs beat impostors in 5 of the 6 comparisons.
		{"no ties", []float64{0.9, 0.6, 0.4}, []float64{0.5, 0.2},
			[]Point{{0, 0}, {0, 1.0 / 3}, {0, 2.0 / 3}, {0.5, 2.0 / 3}, {0.5, 1}, {1, 1}}, 5.0 / 6},
		// 0.5 against 0.5 counts half: (0.5 + 1 + 2) / 4; the tie is one diagonal step.
		{"a tie", []float64{0.5, 0.8}, []float64{0.5, 0.2},
			[]Point{{0, 0}, {0, 0.5}, {0.5, 1}, {1, 1}}, 3.5 / 4},
		{"all tied", []float64{0.5}, []float64{0.5}, []Point{{0, 0}, {1, 1}}, 0.5},
		{"reversed", []float64{0.1}, []float64{0.9, 0.8}, []Point{{0, 0}, {0.5, 0}, {1, 0}, {1, 1}}, 0},
	} {
		roc, err := ROC(tc.genuine, tc.impostor)
		if err != nil || !slices.EqualFunc(roc, tc.roc, func(a, b Point) bool { return near(a.FAR, b.FAR) && near(a.TAR, b.TAR) }) {
			t.Errorf("%s: ROC = %v, %v; want %v", tc.name, roc, err, tc.roc)
		}
		auc, err := AUC(tc.genuine, tc.impostor)
		if err != nil || !near(auc, tc.auc) {
			t.Errorf("%s: AUC = %v, %v; want %v", tc.name, auc, err, tc.auc)
		}
	}
	if _, err := AUC([]float64{1}, nil); err == nil {
		t.Error("AUC without impostor pairs: no error")
	}
	if _, err := ROC(nil, []float64{1}); err == nil {
		t.Error("ROC without genuine pairs: no error")
	}
}

// TestAUCIsMannWhitneyAndTheROCArea checks on random tied scores that the
// rank formula equals the count over all pairs of pairs and the trapezoid
// area under ROC.
func TestAUCIsMannWhitneyAndTheROCArea(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		genuine, impostor := tiedScores(r, 1+r.IntN(25), 0.2), tiedScores(r, 1+r.IntN(25), 0)
		var u float64
		for _, g := range genuine {
			for _, i := range impostor {
				switch {
				case g > i:
					u++
				case g == i:
					u += 0.5
				}
			}
		}
		want := u / float64(len(genuine)*len(impostor))
		auc, err := AUC(genuine, impostor)
		if err != nil || !near(auc, want) {
			t.Fatalf("trial %d: AUC = %v, %v; Mann-Whitney count %v", trial, auc, err, want)
		}
		roc, _ := ROC(genuine, impostor)
		var area float64
		for k := 1; k < len(roc); k++ {
			area += (roc[k].FAR - roc[k-1].FAR) * (roc[k].TAR + roc[k-1].TAR) / 2
		}
		if !near(area, want) {
			t.Fatalf("trial %d: area under ROC %v, Mann-Whitney %v", trial, area, want)
		}
	}
}

// TestTARAtFAR checks the operating point on 100 impostor scores 0.00 to
// 0.99: at 1% one may pass, so the threshold is the second highest; at 0.1%
// none may, which Measurable reports.
func TestTARAtFAR(t *testing.T) {
	impostor := make([]float64, 100)
	for i := range impostor {
		impostor[i] = float64(i) / 100
	}
	genuine := []float64{0.985, 0.995, 0.5, 0.98}
	got, err := TARAtFAR(genuine, impostor, 0.01)
	want := TAR{TargetFAR: 0.01, TAR: 0.5, FAR: 0.01, Threshold: 0.98, Allowed: 1, Impostors: 100}
	if err != nil || !near(got.TAR, want.TAR) || !near(got.FAR, want.FAR) || got.Threshold != want.Threshold || got.Allowed != 1 || got.Impostors != 100 || !got.Measurable() {
		t.Errorf("TAR at 1%% = %+v, %v; want %+v, measurable", got, err, want)
	}
	got, err = TARAtFAR(genuine, impostor, 0.001)
	if err != nil || got.Measurable() || got.Allowed != 0 || got.Threshold != 0.99 || got.FAR != 0 || !near(got.TAR, 0.25) {
		t.Errorf("TAR at 0.1%% of 100 impostors = %+v, %v; want not measurable, threshold 0.99, TAR 1/4 at FAR 0", got, err)
	}
	if _, err := TARAtFAR(nil, impostor, 0.01); err == nil {
		t.Error("TAR without genuine pairs: no error")
	}
	if _, err := TARAtFAR(genuine, nil, 0.01); err == nil {
		t.Error("TAR without impostor pairs: no error")
	}
}

// TestCMCByHand checks ranks counted on paper, a tie counting against the
// query.
func TestCMCByHand(t *testing.T) {
	sim := [][]float64{
		{0.9, 0.1, 0.2}, // own entry 0 first: rank 1
		{0.8, 0.5, 0.6}, // own entry 1 last: rank 3
		{0.3, 0.7, 0.7}, // own entry 2 tied with 1: rank 2
		{0.3, 0.2, 0.1}, // own entry 2 last: rank 3, beyond a max rank of 2
	}
	got, err := CMC(sim, []int{0, 1, 2, 2}, 2)
	if want := []float64{0.25, 0.5}; err != nil || !slices.Equal(got, want) {
		t.Errorf("CMC = %v, %v; want %v", got, err, want)
	}
	got, _ = CMC(sim, []int{0, 1, 2, 2}, 3)
	if want := []float64{0.25, 0.5, 1}; !slices.Equal(got, want) {
		t.Errorf("CMC to rank 3 = %v; want %v", got, want)
	}
	constant := [][]float64{{1, 1, 1}}
	if got, _ := CMC(constant, []int{0}, 3); !slices.Equal(got, []float64{0, 0, 1}) {
		t.Errorf("a constant score: CMC = %v, want rank 3 (ties count against)", got)
	}
	for _, bad := range []struct {
		sim   [][]float64
		truth []int
		k     int
	}{{nil, nil, 1}, {sim, []int{0}, 1}, {sim, []int{0, 1, 2, 3}, 1}, {sim, []int{0, 1, 2, 2}, 0}} {
		if _, err := CMC(bad.sim, bad.truth, bad.k); err == nil {
			t.Errorf("CMC(%v, %v, %d): no error", bad.sim, bad.truth, bad.k)
		}
	}
}

// TestOneShot checks the gallery holds one photo of every dog, the queries
// every other photo but the gallery photos' near-duplicates, and that the
// seed alone decides which.
func TestOneShot(t *testing.T) {
	labels := []int{0, 0, 0, 1, 1, 2, 0}
	related := func(a, b int) bool { return min(a, b) == 0 && max(a, b) == 1 } // photos 0 and 1 are near-copies
	picks := map[int]bool{}
	for seed := range uint64(50) {
		gallery, queries := OneShot(labels, seed, related)
		g2, q2 := OneShot(labels, seed, related)
		if !slices.Equal(gallery, g2) || !slices.Equal(queries, q2) {
			t.Fatalf("seed %d: two calls differ", seed)
		}
		perDog := map[int]int{}
		for _, g := range gallery {
			perDog[labels[g]]++
			picks[g] = true
		}
		if len(gallery) != 3 || perDog[0] != 1 || perDog[1] != 1 || perDog[2] != 1 {
			t.Fatalf("seed %d: gallery %v is not one photo per dog", seed, gallery)
		}
		for i := range labels {
			isGallery := slices.Contains(gallery, i)
			var own int
			for _, g := range gallery {
				if labels[g] == labels[i] {
					own = g
				}
			}
			wantQuery := !isGallery && !related(i, own)
			if slices.Contains(queries, i) != wantQuery {
				t.Fatalf("seed %d: photo %d query = %v, want %v (gallery %v)", seed, i, !wantQuery, wantQuery, gallery)
			}
		}
	}
	if len(picks) < 6 {
		t.Errorf("50 seeds picked only gallery photos %v", picks)
	}
}

// TestSamplePairs checks the pairs are as many of each kind as asked,
// right about their dogs, distinct, never related, the same for a seed and
// drawn dog by dog.
func TestSamplePairs(t *testing.T) {
	// Dog 0 has 20 photos (190 genuine pairs); dogs 1-4 have 5 (10 each).
	var labels []int
	for d, n := range []int{20, 5, 5, 5, 5} {
		for range n {
			labels = append(labels, d)
		}
	}
	related := func(a, b int) bool { return min(a, b) == 20 && max(a, b) == 21 }
	var fromBig, genuineTotal int
	for seed := range uint64(100) {
		pairs, err := SamplePairs(labels, 40, 100, seed, related)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := SamplePairs(labels, 40, 100, seed, related)
		if !slices.Equal(pairs, again) {
			t.Fatalf("seed %d: two calls differ", seed)
		}
		seen := map[[2]int]bool{}
		genuine := 0
		for _, p := range pairs {
			k := [2]int{min(p.A, p.B), max(p.A, p.B)}
			switch {
			case p.A == p.B || seen[k]:
				t.Fatalf("seed %d: pair %v repeated or of one photo", seed, p)
			case related(p.A, p.B):
				t.Fatalf("seed %d: related photos paired: %v", seed, p)
			case p.Same != (labels[p.A] == labels[p.B]):
				t.Fatalf("seed %d: pair %v marked Same=%v for dogs %d and %d", seed, p, p.Same, labels[p.A], labels[p.B])
			}
			seen[k] = true
			if p.Same {
				genuine++
				if labels[p.A] == 0 {
					fromBig++
				}
			}
		}
		if genuine != 40 || len(pairs) != 140 {
			t.Fatalf("seed %d: %d genuine of %d pairs, want 40 of 140", seed, genuine, len(pairs))
		}
		genuineTotal += genuine
	}
	// Drawn pair by pair, dog 0 would give 190/230 = 83% of genuine pairs;
	// drawn dog by dog about a fifth (a little more once small dogs run out).
	if share := float64(fromBig) / float64(genuineTotal); share > 0.3 {
		t.Errorf("dog 0 gave %.2f of the genuine pairs; dogs are not drawn uniformly", share)
	}
	// Fewer genuine pairs than asked: all of them, and the impostors asked for.
	pairs, err := SamplePairs([]int{0, 0, 1, 1, 2}, 10, 3, 1, nil)
	if err != nil || len(pairs) != 5 || !pairs[0].Same || !pairs[1].Same || pairs[2].Same || pairs[3].Same || pairs[4].Same {
		t.Errorf("2 genuine pairs available: got %v, %v; want both and 3 impostors", pairs, err)
	}
	// Five photos of three dogs make 8 impostor pairs: 9 cannot be drawn.
	if _, err := SamplePairs([]int{0, 0, 1, 1, 2}, 1, 9, 1, nil); err == nil {
		t.Error("9 distinct impostor pairs of 8: no error")
	}
	if _, err := SamplePairs([]int{0, 0, 0}, 10, 10, 1, nil); err == nil {
		t.Error("pairs of one dog: no error")
	}
	a, _ := SamplePairs(labels, 40, 40, 1, nil)
	b, _ := SamplePairs(labels, 40, 40, 2, nil)
	if slices.Equal(a, b) {
		t.Error("seeds 1 and 2 drew the same pairs")
	}
}

// TestScores splits pairs' scores by kind.
func TestScores(t *testing.T) {
	pairs := []Pair{{0, 1, true}, {0, 2, false}, {1, 2, false}}
	g, i := Scores(pairs, func(a, b int) float64 { return float64(10*a + b) })
	if !slices.Equal(g, []float64{1}) || !slices.Equal(i, []float64{2, 12}) {
		t.Errorf("Scores = %v, %v; want [1], [2 12]", g, i)
	}
}

// TestCheckDisjoint checks parts sharing a dog folder or a photo's content
// are refused, naming both, and disjoint ones accepted.
func TestCheckDisjoint(t *testing.T) {
	photo := func(rel, sha string) dataset.Photo { return dataset.Photo{Rel: rel, SHA256: sha} }
	eval := Part{Name: "evaluation dogs", Dogs: []string{"5", "6"}, Photos: []dataset.Photo{photo("5/5.0.jpg", "aaaa1111bbbb2222"), photo("6/6.0.jpg", "cccc3333dddd4444")}}
	fit := Part{Name: "whitening dogs", Dogs: []string{"7"}, Photos: []dataset.Photo{photo("7/7.0.jpg", "eeee5555ffff6666")}}
	if err := CheckDisjoint(eval, fit); err != nil {
		t.Errorf("disjoint parts refused: %v", err)
	}
	sameDog := Part{Name: "threshold dogs", Dogs: []string{"8", "6"}, Photos: []dataset.Photo{photo("8/8.0.jpg", "9999")}}
	samePhoto := Part{Name: "threshold dogs", Dogs: []string{"9"}, Photos: []dataset.Photo{photo("9/9.3.jpg", "cccc3333dddd4444")}}
	for _, tc := range []struct {
		parts []Part
		want  string
	}{
		{[]Part{fit, eval, sameDog}, "evaluation dogs and threshold dogs share 1 dogs (6)"},
		{[]Part{eval, fit, samePhoto}, "photo 9/9.3.jpg (sha256 cccc3333dddd) of threshold dogs is also a photo of evaluation dogs"},
	} {
		if err := CheckDisjoint(tc.parts...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want it to say %q", err, tc.want)
		}
	}
}

// TestThinROC checks on a curve of 10,000 impostor pairs that the thinned
// curve is a few hundred points of the original with the same TAR at every
// grid FAR, and on a short one that nothing is lost.
func TestThinROC(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	genuine, impostor := make([]float64, 2000), make([]float64, 10000)
	for i := range genuine {
		genuine[i] = r.NormFloat64() + 1.5
	}
	for i := range impostor {
		impostor[i] = r.NormFloat64()
	}
	roc, err := ROC(genuine, impostor)
	if err != nil {
		t.Fatal(err)
	}
	// 101 values: linear steps of 0.01; log steps of a 25th of a decade
	// from 1/10000, so 0.001, 0.01 and 0.1 are on both grids.
	thin := ThinROC(roc, 101)
	if len(thin) > 202 || len(thin) < 100 {
		t.Fatalf("%d points of %d kept, want between 100 and 200", len(thin), len(roc))
	}
	if thin[0] != roc[0] || thin[len(thin)-1] != roc[len(roc)-1] {
		t.Errorf("ends %v and %v, want %v and %v", thin[0], thin[len(thin)-1], roc[0], roc[len(roc)-1])
	}
	// TAR at FAR f on a curve: of the last point at or below f.
	tarAt := func(c []Point, f float64) float64 {
		tar := 0.0
		for _, p := range c {
			if p.FAR <= f {
				tar = p.TAR
			}
		}
		return tar
	}
	for _, f := range []float64{0.0001, 0.001, 0.01, 0.1, 0.37, 0.5, 1} {
		if a, b := tarAt(roc, f), tarAt(thin, f); a != b {
			t.Errorf("TAR at FAR %g: %v on the curve, %v thinned", f, a, b)
		}
	}
	short := []Point{{0, 0}, {0.5, 0.5}, {1, 1}}
	if got := ThinROC(short, 100); !slices.Equal(got, short) {
		t.Errorf("a 3-point curve thinned to %v", got)
	}
}

// TestMeasureTakesTheThresholdFromOtherDogs measures dogs on the unit
// circle whose photos of one dog are 30 degrees apart (cosine 0.866), with
// the threshold chosen on dogs whose photos are 10 degrees apart and whose
// impostor pairs come as close as 30 degrees: the threshold lands between
// cos 30 and cos 10, so every measured genuine pair is refused (accuracy
// 2/4 on the 2 genuine pairs and the first 2 of the 4 impostor pairs),
// though on their own best threshold the measured pairs are all right and
// one-shot finds every dog first.
func TestMeasureTakesTheThresholdFromOtherDogs(t *testing.T) {
	at := func(deg ...float64) [][]float32 {
		var out [][]float32
		for _, d := range deg {
			r := d * math.Pi / 180
			out = append(out, []float32{float32(math.Cos(r)), float32(math.Sin(r))})
		}
		return out
	}
	measured := Dogs{Rows: at(0, 30, 90, 120), Labels: []int{0, 0, 1, 1}}
	threshold := Dogs{Rows: at(0, 10, 40, 50), Labels: []int{0, 0, 1, 1}}
	m, err := Measure(measured, threshold, Settings{Genuine: 10, Impostor: 4, TargetFARs: []float64{0.25}, MaxRank: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if thr := m.Threshold; thr <= math.Cos(30*math.Pi/180) || thr >= math.Cos(10*math.Pi/180) {
		t.Errorf("threshold %v, want between cos 30 and cos 10", thr)
	}
	if len(m.Genuine) != 2 || len(m.Impostor) != 4 {
		t.Errorf("%d genuine and %d impostor pairs, want the 2 and 4 there are", len(m.Genuine), len(m.Impostor))
	}
	if m.Accuracy != 0.5 || m.GenuineAccepted != 0 || m.ImpostorRejected != 2 || m.BestAccuracy != 1 || m.AUC != 1 {
		t.Errorf("accuracy %v (%d genuine accepted, %d impostors rejected), best %v, AUC %v; want 2/4 (0, 2), 1, 1",
			m.Accuracy, m.GenuineAccepted, m.ImpostorRejected, m.BestAccuracy, m.AUC)
	}
	if len(m.TARs) != 1 || m.TARs[0].Allowed != 1 || m.TARs[0].TAR != 1 {
		t.Errorf("TARs %+v, want one, 1 of 4 impostors allowed, every genuine pair accepted", m.TARs)
	}
	// Two dogs in the gallery: the CMC stops at rank 2 whatever MaxRank says.
	if len(m.Gallery) != 2 || len(m.Queries) != 2 || !slices.Equal(m.CMC, []float64{1, 1}) || !slices.Equal(m.Hits, []int{2, 2}) {
		t.Errorf("one-shot: gallery %v, queries %v, CMC %v, hits %v", m.Gallery, m.Queries, m.CMC, m.Hits)
	}
	if _, err := Measure(measured, threshold, Settings{Genuine: 1, Impostor: 1}); err == nil {
		t.Error("max rank 0: no error")
	}
	if _, err := Measure(Dogs{Rows: at(0), Labels: []int{0, 1}}, threshold, Settings{Genuine: 1, Impostor: 1, MaxRank: 1}); err == nil {
		t.Error("1 row for 2 labels: no error")
	}
}

// TestPartOfPhotos checks a part holds the photos asked for and each of
// their dogs once, in order of first photo.
func TestPartOfPhotos(t *testing.T) {
	d := &dataset.Dataset{Classes: []string{"5", "6", "7"}, Photos: []dataset.Photo{
		{Rel: "5/a.jpg", Class: 0}, {Rel: "6/a.jpg", Class: 1}, {Rel: "7/a.jpg", Class: 2}, {Rel: "6/b.jpg", Class: 1}}}
	p := PartOfPhotos("threshold dogs", d, []int{3, 2, 1})
	if p.Name != "threshold dogs" || !slices.Equal(p.Dogs, []string{"6", "7"}) || len(p.Photos) != 3 || p.Photos[0].Rel != "6/b.jpg" || p.Photos[2].Rel != "6/a.jpg" {
		t.Errorf("part %+v, want dogs 6 and 7 and photos 6/b, 7/a, 6/a", p)
	}
}
