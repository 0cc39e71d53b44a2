package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/dogrun/dogrun/adapter"
	"github.com/dogrun/dogrun/openset"
	"github.com/dogrun/dogrun/runner"
	"github.com/dogrun/dogrun/schemas"
	"github.com/dogrun/dogrun/verify"
	"github.com/dogrun/dogrun/whiten"
)

// The head-free rejection scores: a photo is as known as its features are
// close to the known dogs' training photos.
const (
	centroidScore  = "centroid_cosine"      // to the nearest known dog's mean training direction
	neighbourScore = "nearest_photo_cosine" // to the nearest single known training photo
	// cohortScore is centroidScore less the mean cosine to the photo's
	// cohortSize nearest cohort dogs (the whitening third of the pool): a
	// photo close to every dog, as a blurred or generic face is, is not
	// therefore close to a known one.
	cohortScore = "centroid_cosine_minus_cohort"
	cohortSize  = 10
)

var scoreKinds = []string{centroidScore, neighbourScore, cohortScore}

// The unknown dogs a rule is calibrated on.
const (
	calibrateTask = "the task's 5 held-out dogs"
	calibratePool = "a third of the dogs below min_images_per_class"
)

// opensetResult is one rule (configuration, score, calibration) on one draw.
type opensetResult struct {
	Config, Score, Calibration string
	Threshold                  float64
	CalibrationPhotos          int
	ValKnownRejected           float64        // known validation photos answered "unknown"
	Task                       openset.Counts // known test photos and the task's 5 held-out test dogs
	Pool                       openset.Counts // known test photos and the measuring third of the pool
	ClosedAccuracy             float64        // known test photos named right by the nearest score, no rejection
}

// opensetDraw is every rule of one draw and the one validation chose.
type opensetDraw struct {
	Results []opensetResult
	Chosen  int // index into Results
}

// photoScore is a score and the known dog it names.
type photoScore struct {
	score float64
	class int
}

// opensetDraws measures every rule on the open-set task of expPath with
// dataset.seed = 1..draws, the pool of dogs below its min_images_per_class
// split into thirds per draw: whitening, calibration, measurement.
func opensetDraws(c *corpus, expPath string, target float64, draws int, log io.Writer) ([]opensetDraw, error) {
	var out []opensetDraw
	for seed := int64(1); seed <= int64(draws); seed++ {
		exp, err := schemas.Load(expPath)
		if err != nil {
			return nil, err
		}
		exp.Dataset.Seed = seed
		plan, err := runner.NewPlan(exp, io.Discard)
		if err != nil {
			return nil, err
		}
		if plan.Unknown == nil {
			return nil, fmt.Errorf("%s holds no dogs out (open_set.unknown_dogs)", expPath)
		}
		pool, err := adapter.LoadPool(schemas.DatasetDir(exp), exp.Dataset.MinImagesPerClass)
		if err != nil {
			return nil, err
		}
		d, err := opensetDraw1(c, plan, pool, target, seed, log)
		if err != nil {
			return nil, fmt.Errorf("draw %d: %w", seed, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func opensetDraw1(c *corpus, plan *runner.Plan, pool *adapter.Pool, target float64, seed int64, log io.Writer) (opensetDraw, error) {
	known, err := c.indexes(plan.Data.Photos)
	if err != nil {
		return opensetDraw{}, err
	}
	pick := func(idx []int, from []int) []int {
		out := make([]int, len(from))
		for i, k := range from {
			out[i] = idx[k]
		}
		return out
	}
	classOf := func(from []int) []int32 {
		out := make([]int32, len(from))
		for i, k := range from {
			out[i] = int32(plan.Data.Photos[k].Class)
		}
		return out
	}
	trainIdx, valIdx, testIdx := pick(known, plan.Split.Train), pick(known, plan.Split.Val), pick(known, plan.Split.Test)
	trainY, valY, testY := classOf(plan.Split.Train), classOf(plan.Split.Val), classOf(plan.Split.Test)
	unknown, err := c.indexes(plan.Unknown.Data.Photos)
	if err != nil {
		return opensetDraw{}, err
	}
	taskVal, taskTest := pick(unknown, plan.Unknown.Val), pick(unknown, plan.Unknown.Test)
	poolIdx, err := c.indexes(pool.Data.Photos)
	if err != nil {
		return opensetDraw{}, err
	}
	n := len(pool.Data.Classes)
	thirds, err := drawDogs(pool.Data, poolIdx, seed, n/3, n/3)
	if err != nil {
		return opensetDraw{}, err
	}
	fit, cal, measure := thirds[0], thirds[1], thirds[2]
	dropped := c.exclusive(&fit, &cal, &measure)
	if err := verify.CheckDisjoint(c.part("known dogs", known), c.part("task's held-out dogs", unknown),
		c.part("whitening dogs", fit), c.part("calibration dogs", cal), c.part("measuring dogs", measure)); err != nil {
		return opensetDraw{}, err
	}
	fmt.Fprintf(log, "open set, draw %d: %d known dogs (%d/%d/%d photos), the task's held-out dogs (%d + %d photos); pool thirds of %d, %d and %d photos (whitening, calibration, measurement; %d photos filed twice dropped), all disjoint by folder and sha256\n",
		seed, len(plan.Data.Classes), len(trainIdx), len(valIdx), len(testIdx), len(taskVal), len(taskTest), len(fit), len(cal), len(measure), dropped)

	pcas, err := c.whitenings(verifyConfigs, fit)
	if err != nil {
		return opensetDraw{}, err
	}
	var d opensetDraw
	bestRejected := 2.0
	for _, cfg := range verifyConfigs {
		pca := pcas[cfg.Name]
		trainRows, err := c.embed(cfg, pca, trainIdx)
		if err != nil {
			return d, err
		}
		dim := len(trainRows[0])
		flat := make([]float32, 0, len(trainRows)*dim)
		for _, r := range trainRows {
			flat = append(flat, r...)
		}
		cents := openset.NewCentroids(flat, dim, trainY, len(plan.Data.Classes))
		cohort, err := c.centroids(cfg, pca, fit)
		if err != nil {
			return d, err
		}
		score := map[string]func([]float32) photoScore{
			centroidScore: func(f []float32) photoScore {
				cl, cos := cents.Nearest(f)
				return photoScore{cos, cl}
			},
			cohortScore: func(f []float32) photoScore {
				cl, cos := cents.Nearest(f)
				return photoScore{cos - meanOfLargest(cohort, f, cohortSize), cl}
			},
			neighbourScore: func(f []float32) photoScore {
				best := photoScore{-2, -1}
				for i, r := range trainRows {
					if s := openset.Dot(f, r); s > best.score {
						best = photoScore{s, int(trainY[i])}
					}
				}
				return best
			},
		}
		scored := func(kind string, idx []int) ([]photoScore, error) {
			rows, err := c.embed(cfg, pca, idx)
			if err != nil {
				return nil, err
			}
			out := make([]photoScore, len(rows))
			for i, r := range rows {
				out[i] = score[kind](r)
			}
			return out, nil
		}
		for _, kind := range scoreKinds {
			sets := map[string][]photoScore{}
			for name, idx := range map[string][]int{"val": valIdx, "test": testIdx, "taskVal": taskVal, "taskTest": taskTest, "cal": cal, "measure": measure} {
				if sets[name], err = scored(kind, idx); err != nil {
					return d, err
				}
			}
			testScores, testRight := scoresAndRight(sets["test"], testY)
			valScores, valRight := scoresAndRight(sets["val"], valY)
			closed := 0
			for _, r := range testRight {
				if r {
					closed++
				}
			}
			for _, calib := range []string{calibrateTask, calibratePool} {
				calSet := sets["cal"]
				if calib == calibrateTask {
					calSet = sets["taskVal"]
				}
				calScores, _ := scoresAndRight(calSet, nil)
				thr, err := openset.Calibrate(calScores, target)
				if err != nil {
					return d, err
				}
				rule := openset.Rule{Kind: kind, Threshold: thr, TargetFAR: target}
				taskTestScores, _ := scoresAndRight(sets["taskTest"], nil)
				measureScores, _ := scoresAndRight(sets["measure"], nil)
				res := opensetResult{
					Config: cfg.Name, Score: kind, Calibration: calib, Threshold: thr, CalibrationPhotos: len(calScores),
					ValKnownRejected: openset.Count(rule, valScores, valRight, nil).FRR(),
					Task:             openset.Count(rule, testScores, testRight, taskTestScores),
					Pool:             openset.Count(rule, testScores, testRight, measureScores),
					ClosedAccuracy:   float64(closed) / float64(len(testRight)),
				}
				// Validation chooses among the pool-calibrated rules only:
				// the fewest known validation photos rejected.
				if calib == calibratePool && res.ValKnownRejected < bestRejected {
					bestRejected, d.Chosen = res.ValKnownRejected, len(d.Results)
				}
				d.Results = append(d.Results, res)
			}
		}
	}
	return d, nil
}

// scoresAndRight splits photo scores into the scores and whether each named
// its true dog (nil truth: unknown dogs, nothing to be right about).
func scoresAndRight(ps []photoScore, truth []int32) ([]float64, []bool) {
	s := make([]float64, len(ps))
	var right []bool
	if truth != nil {
		right = make([]bool, len(ps))
	}
	for i, p := range ps {
		s[i] = p.score
		if truth != nil {
			right[i] = p.class == int(truth[i])
		}
	}
	return s, right
}

// centroids are the unit-length mean directions of the dogs of idx under cfg.
func (c *corpus) centroids(cfg config, pca *whiten.PCA, idx []int) ([][]float32, error) {
	rows, err := c.embed(cfg, pca, idx)
	if err != nil {
		return nil, err
	}
	dense := map[int]int32{}
	y := make([]int32, len(idx))
	for i, k := range idx {
		cl := c.data.Photos[k].Class
		if _, ok := dense[cl]; !ok {
			dense[cl] = int32(len(dense))
		}
		y[i] = dense[cl]
	}
	dim := len(rows[0])
	flat := make([]float32, 0, len(rows)*dim)
	for _, r := range rows {
		flat = append(flat, r...)
	}
	return openset.NewCentroids(flat, dim, y, len(dense)).Vectors, nil
}

// meanOfLargest is the mean of the k largest cosines of the unit row f to
// the unit vectors vs.
func meanOfLargest(vs [][]float32, f []float32, k int) float64 {
	cos := make([]float64, len(vs))
	for i, v := range vs {
		cos[i] = openset.Dot(f, v)
	}
	slices.Sort(cos)
	k = min(k, len(cos))
	var s float64
	for _, x := range cos[len(cos)-k:] {
		s += x
	}
	return s / float64(k)
}
