package verify

import (
	"errors"
	"fmt"

	"github.com/dogrun/dogrun/openset"
)

// Dogs is one role's photos in a measurement: each photo's unit-length
// feature row, its dog, and which photos must not be paired.
type Dogs struct {
	Rows    [][]float32
	Labels  []int
	Related Related
}

// Settings are a measurement's sizes.
type Settings struct {
	Genuine, Impostor int       // pairs asked for (fewer genuine when the dogs have fewer)
	TargetFARs        []float64 // where the true-accept rate is read
	MaxRank           int       // of the CMC
	Seed              uint64    // draws the pairs and the one-shot gallery
}

// Measurement is verification and one-shot identification of one draw of
// dogs.
type Measurement struct {
	Genuine, Impostor []float64 // the measured pairs' cosines
	// Accuracies are of balanced pairs, as the DogFaceNet authors' are: the
	// genuine pairs and as many impostor pairs (the first drawn, a random
	// subset); the rest of the impostors only sharpen the TAR at low FAR.
	Threshold        float64 // of best accuracy on the threshold dogs' balanced pairs
	Accuracy         float64 // of the measured balanced pairs at Threshold
	GenuineAccepted  int     // at Threshold
	ImpostorRejected int     // of the balanced impostor pairs, at Threshold
	BestAccuracy     float64 // at the best threshold for the measured balanced pairs themselves
	AUC              float64
	ROC              []Point
	TARs             []TAR // one per target FAR, in the order given

	// One-shot: Gallery and Queries are photo indexes into the measured
	// dogs' rows; Similarity[q][g] the cosine of query q to gallery photo g.
	Gallery, Queries []int
	Similarity       [][]float64
	Truth            []int // each query's own dog's gallery entry
	CMC              []float64
	Hits             []int // queries within rank 1, 2, ..., MaxRank
}

// Measure runs the protocol on one draw: the measured dogs' pairs judged at
// the threshold of best accuracy on the threshold dogs' pairs (other dogs,
// so the accuracy is honest), the ROC curve, its area and the true-accept
// rate at each target FAR; and one-shot identification of the measured
// dogs against a gallery of one photo each. Pairs are scored by the dot
// product of the rows, a cosine for unit-length rows.
func Measure(measured, threshold Dogs, s Settings) (Measurement, error) {
	var m Measurement
	if s.MaxRank < 1 {
		return m, errors.New("verify: a CMC needs a max rank of 1 or more")
	}
	scores := func(d Dogs, salt uint64) ([]float64, []float64, error) {
		if len(d.Rows) != len(d.Labels) {
			return nil, nil, fmt.Errorf("verify: %d rows for %d labels", len(d.Rows), len(d.Labels))
		}
		pairs, err := SamplePairs(d.Labels, s.Genuine, s.Impostor, s.Seed*1000+salt, d.Related)
		if err != nil {
			return nil, nil, err
		}
		g, i := Scores(pairs, func(a, b int) float64 { return openset.Dot(d.Rows[a], d.Rows[b]) })
		return g, i, nil
	}
	// balanced is the impostor scores accuracies are of.
	balanced := func(genuine, impostor []float64) []float64 { return impostor[:min(len(genuine), len(impostor))] }
	gT, iT, err := scores(threshold, 1)
	if err != nil {
		return m, fmt.Errorf("threshold dogs: %w", err)
	}
	if m.Threshold, _, err = BestThreshold(gT, balanced(gT, iT)); err != nil {
		return m, err
	}
	if m.Genuine, m.Impostor, err = scores(measured, 0); err != nil {
		return m, fmt.Errorf("measured dogs: %w", err)
	}
	fair := balanced(m.Genuine, m.Impostor)
	m.Accuracy = Accuracy(m.Genuine, fair, m.Threshold)
	for _, x := range m.Genuine {
		if x > m.Threshold {
			m.GenuineAccepted++
		}
	}
	for _, x := range fair {
		if x <= m.Threshold {
			m.ImpostorRejected++
		}
	}
	if _, m.BestAccuracy, err = BestThreshold(m.Genuine, fair); err != nil {
		return m, err
	}
	if m.AUC, err = AUC(m.Genuine, m.Impostor); err != nil {
		return m, err
	}
	if m.ROC, err = ROC(m.Genuine, m.Impostor); err != nil {
		return m, err
	}
	for _, far := range s.TargetFARs {
		t, err := TARAtFAR(m.Genuine, m.Impostor, far)
		if err != nil {
			return m, err
		}
		m.TARs = append(m.TARs, t)
	}

	m.Gallery, m.Queries = OneShot(measured.Labels, s.Seed, measured.Related)
	entry := map[int]int{} // dog -> its gallery entry
	for e, k := range m.Gallery {
		entry[measured.Labels[k]] = e
	}
	m.Similarity = make([][]float64, len(m.Queries))
	m.Truth = make([]int, len(m.Queries))
	for q, k := range m.Queries {
		m.Similarity[q] = make([]float64, len(m.Gallery))
		for e, g := range m.Gallery {
			m.Similarity[q][e] = openset.Dot(measured.Rows[k], measured.Rows[g])
		}
		m.Truth[q] = entry[measured.Labels[k]]
	}
	if m.CMC, err = CMC(m.Similarity, m.Truth, min(s.MaxRank, len(m.Gallery))); err != nil {
		return m, fmt.Errorf("one-shot: %w", err)
	}
	for _, c := range m.CMC {
		m.Hits = append(m.Hits, int(c*float64(len(m.Queries))+0.5))
	}
	return m, nil
}
