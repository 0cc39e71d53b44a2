// Package verify measures how well features tell apart dogs that nothing was
// trained on, as face verification and identification are measured in the
// field: pairs of photos (same dog or not) scored by similarity, with the
// accuracy at a threshold chosen on other dogs, the ROC curve, its area and
// the true-accept rate at a fixed false-accept rate; and one-shot
// identification against a gallery of one photo per dog (CMC). No head is
// needed: a backbone or a feature configuration is judged on its own.
//
// Scores are "higher means more alike" throughout, and a pair is accepted as
// the same dog when its score is above the threshold, as openset's rules are.
package verify

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/dogrun/dogrun/openset"
)

// Accuracy is the share of pairs decided right at threshold: genuine pairs
// (two photos of one dog) accepted, impostor pairs (two dogs) rejected. NaN
// without pairs.
func Accuracy(genuine, impostor []float64, threshold float64) float64 {
	right := 0
	for _, s := range genuine {
		if s > threshold {
			right++
		}
	}
	for _, s := range impostor {
		if s <= threshold {
			right++
		}
	}
	if n := len(genuine) + len(impostor); n > 0 {
		return float64(right) / float64(n)
	}
	return math.NaN()
}

// scored is one pair's score and kind, for sweeping a threshold.
type scored struct {
	score float64
	same  bool
}

func sortedPairs(genuine, impostor []float64) []scored {
	all := make([]scored, 0, len(genuine)+len(impostor))
	for _, s := range genuine {
		all = append(all, scored{s, true})
	}
	for _, s := range impostor {
		all = append(all, scored{s, false})
	}
	slices.SortFunc(all, func(a, b scored) int { return cmp.Compare(a.score, b.score) })
	return all
}

// BestThreshold is the threshold of highest Accuracy on these pairs: halfway
// between the two adjacent distinct scores where the accuracy peaks, -Inf
// when accepting every pair is best, the highest score when rejecting every
// pair is. Of equally accurate thresholds the lowest wins. Chosen on some
// dogs' pairs and applied to others', it is the honest version of the best
// accuracy on the evaluated pairs themselves.
func BestThreshold(genuine, impostor []float64) (threshold, accuracy float64, err error) {
	all := sortedPairs(genuine, impostor)
	if len(all) == 0 {
		return 0, 0, errors.New("verify: no pairs to choose a threshold on")
	}
	right := len(genuine) // threshold below every score: all accepted
	best, threshold := right, math.Inf(-1)
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].score == all[i].score {
			if all[j].same {
				right--
			} else {
				right++
			}
			j++
		}
		// Now every score up to all[i].score is rejected.
		if right > best {
			best = right
			threshold = all[i].score
			if j < len(all) {
				threshold = (all[i].score + all[j].score) / 2
			}
		}
		i = j
	}
	return threshold, float64(best) / float64(len(all)), nil
}

// Point is one point of an ROC curve: the shares of impostor and genuine
// pairs accepted at some threshold.
type Point struct {
	FAR, TAR float64
}

// ROC is the curve from (0, 0), nothing accepted, to (1, 1), everything
// accepted, with one point per distinct score: lowering the threshold past a
// score accepts every pair with that score at once, so tied genuine and
// impostor pairs make one diagonal step, as the Mann-Whitney statistic
// counts a tie as half.
func ROC(genuine, impostor []float64) ([]Point, error) {
	if len(genuine) == 0 || len(impostor) == 0 {
		return nil, fmt.Errorf("verify: an ROC needs genuine and impostor pairs (have %d and %d)", len(genuine), len(impostor))
	}
	all := sortedPairs(genuine, impostor)
	out := []Point{{0, 0}}
	tp, fp := 0, 0
	for i := len(all) - 1; i >= 0; {
		j := i
		for j >= 0 && all[j].score == all[i].score {
			if all[j].same {
				tp++
			} else {
				fp++
			}
			j--
		}
		out = append(out, Point{FAR: float64(fp) / float64(len(impostor)), TAR: float64(tp) / float64(len(genuine))})
		i = j
	}
	return out, nil
}

// AUC is the area under the ROC curve, computed as the Mann-Whitney
// statistic: the chance that a random genuine pair scores above a random
// impostor pair, a tie counting half. It uses mid-ranks, so it costs a sort,
// not a product of the two counts.
func AUC(genuine, impostor []float64) (float64, error) {
	if len(genuine) == 0 || len(impostor) == 0 {
		return 0, fmt.Errorf("verify: an AUC needs genuine and impostor pairs (have %d and %d)", len(genuine), len(impostor))
	}
	all := sortedPairs(genuine, impostor)
	var rankSum float64 // of the genuine pairs, ranks from 1, ties at their mean rank
	for i := 0; i < len(all); {
		j := i
		same := 0
		for j < len(all) && all[j].score == all[i].score {
			if all[j].same {
				same++
			}
			j++
		}
		rankSum += float64(same) * float64(i+1+j) / 2 // mean of ranks i+1..j
		i = j
	}
	ng, ni := float64(len(genuine)), float64(len(impostor))
	return (rankSum - ng*(ng+1)/2) / (ng * ni), nil
}

// TAR is the true-accept rate at a target false-accept rate.
type TAR struct {
	TargetFAR float64
	TAR       float64 // genuine pairs accepted at Threshold
	FAR       float64 // impostor pairs accepted at Threshold (at most TargetFAR)
	Threshold float64
	Allowed   int // impostor pairs the target lets through: floor(TargetFAR·Impostors)
	Impostors int
}

// Measurable says whether the target could be set at all: with fewer than
// 1/TargetFAR impostor pairs not one may pass, the threshold is the highest
// impostor score whatever the target, and the TAR is that of FAR 0.
func (t TAR) Measurable() bool { return t.Allowed >= 1 }

// TARAtFAR calibrates the threshold on the impostor pairs as openset
// calibrates its rules (the highest threshold letting through at most
// floor(far·n) of them) and counts the genuine pairs above it.
func TARAtFAR(genuine, impostor []float64, far float64) (TAR, error) {
	if len(genuine) == 0 {
		return TAR{}, errors.New("verify: no genuine pairs")
	}
	thr, err := openset.Calibrate(impostor, far)
	if err != nil {
		return TAR{}, err
	}
	out := TAR{TargetFAR: far, Threshold: thr, Allowed: openset.Allowed(len(impostor), far), Impostors: len(impostor)}
	out.TAR = 1 - rateAtOrBelow(genuine, thr)
	out.FAR = 1 - rateAtOrBelow(impostor, thr)
	return out, nil
}

func rateAtOrBelow(xs []float64, thr float64) float64 {
	n := 0
	for _, x := range xs {
		if x <= thr {
			n++
		}
	}
	return float64(n) / float64(len(xs))
}

// ThinROC keeps, of an ROC curve from ROC, the points that give its exact
// true-accept rate at every false-accept rate of a grid of n values spaced
// evenly (for a linear axis) and n spaced evenly in log between the
// smallest non-zero FAR and 1 (for a log axis): the last point at or below
// each grid value, with the first and last points. A curve of tens of
// thousands of pairs keeps a few hundred points and draws the same.
func ThinROC(roc []Point, n int) []Point {
	if len(roc) <= 2 || n < 2 {
		return roc
	}
	smallest := 1.0
	for _, p := range roc {
		if p.FAR > 0 {
			smallest = min(smallest, p.FAR)
		}
	}
	var grid []float64
	for i := range n {
		grid = append(grid, float64(i)/float64(n-1))
		grid = append(grid, smallest*math.Pow(1/smallest, float64(i)/float64(n-1)))
	}
	slices.Sort(grid)
	keep := make([]bool, len(roc))
	keep[0], keep[len(roc)-1] = true, true
	k := 0
	for _, g := range grid {
		// Points are in ascending FAR: advance to the last at or below g.
		for k+1 < len(roc) && roc[k+1].FAR <= g*(1+1e-12) {
			k++
		}
		keep[k] = true
	}
	var out []Point
	for i, p := range roc {
		if keep[i] {
			out = append(out, p)
		}
	}
	return out
}
