package dedupe

import (
	"github.com/dogrun/dogrun/dataset"
)

// The SSIM method's prefilter: the SSIM of 4x-shrunk thumbnails (56x56 for
// 224x224 photos) costs 1/19 of the full one. Shrinking averages away pixel
// noise and JPEG artefacts, so a near-duplicate's thumbnail SSIM is at least
// its full SSIM minus a little (at most 0.02 on the calibration pairs scoring
// 0.8 or more); pairs whose thumbnails score below threshold - margin are not
// compared at full size. Dissimilar pairs can score far lower on thumbnails
// (up to 0.3 below their full SSIM around 0.3 to 0.5), so below
// ssimPrefilterFrom every pair is compared at full size.
// TestSSIMPrefilterKeepsEveryMatch checks the margin on real photos.
const (
	ssimThumbFactor     = 4
	ssimPrefilterMargin = 0.15
	ssimPrefilterFrom   = 0.8
	// Across classes only pairs whose base hashes are this close are
	// compared at all: an SSIM of 0.8 or more leaves the 8x8 lowest
	// frequencies nearly untouched.
	ssimCrossPHash = 12
)

type ssimPhoto struct {
	full, thumb *prepared
	hash        Hash
}

func loadSSIM(path string) (*ssimPhoto, error) {
	img, err := dataset.Decode(path)
	if err != nil {
		return nil, err
	}
	g := ToGray(img)
	t := g.Resize(max(g.W/ssimThumbFactor, SSIMWindow), max(g.H/ssimThumbFactor, SSIMWindow))
	return &ssimPhoto{full: prepare(g), thumb: prepare(t), hash: PHash(g)}, nil
}

// ssimPair compares two loaded photos; a different size is resized to the
// first's, as comparing needs equal shapes.
func ssimPair(a, b *ssimPhoto, threshold float64) (float64, bool) {
	bt, bf := b.thumb, b.full
	if a.full.g.W != bf.g.W || a.full.g.H != bf.g.H {
		bf = prepare(bf.g.Resize(a.full.g.W, a.full.g.H))
		bt = prepare(bf.g.Resize(a.thumb.g.W, a.thumb.g.H))
	}
	if threshold >= ssimPrefilterFrom && ssimPrepared(a.thumb, bt) < threshold-ssimPrefilterMargin {
		return 0, false
	}
	s := ssimPrepared(a.full, bf)
	return s, s >= threshold
}

// findSSIM is the seed's criterion: within each class every pair, behind the
// thumbnail prefilter; across classes only pairs with close base hashes.
func findSSIM(d *dataset.Dataset, byClass [][]int, opt Options) (within, cross []Match, err error) {
	hashes := make([]Hash, len(d.Photos))
	done := 0
	for _, idx := range byClass {
		photos := make([]*ssimPhoto, len(idx))
		if err := forEach(len(idx), nil, func(k int) error {
			p, err := loadSSIM(d.Photos[idx[k]].Path)
			photos[k] = p
			return err
		}); err != nil {
			return nil, nil, err
		}
		type job struct{ x, y int }
		var jobs []job
		for x := range idx {
			hashes[idx[x]] = photos[x].hash
			for y := x + 1; y < len(idx); y++ {
				jobs = append(jobs, job{x, y})
			}
		}
		scores := make([]float64, len(jobs))
		hit := make([]bool, len(jobs))
		_ = forEach(len(jobs), nil, func(k int) error {
			scores[k], hit[k] = ssimPair(photos[jobs[k].x], photos[jobs[k].y], opt.Threshold)
			return nil
		})
		for k, j := range jobs {
			if hit[k] {
				within = append(within, Match{A: idx[j.x], B: idx[j.y], Score: scores[k]})
			}
		}
		done += len(idx)
		if opt.Progress != nil {
			opt.Progress(done, len(d.Photos))
		}
	}
	for a := range hashes {
		for b := a + 1; b < len(hashes); b++ {
			if d.Photos[a].Class == d.Photos[b].Class || Distance(hashes[a], hashes[b]) > ssimCrossPHash {
				continue
			}
			pa, err := loadSSIM(d.Photos[a].Path)
			if err != nil {
				return nil, nil, err
			}
			pb, err := loadSSIM(d.Photos[b].Path)
			if err != nil {
				return nil, nil, err
			}
			if s, ok := ssimPair(pa, pb, opt.Threshold); ok {
				cross = append(cross, Match{A: a, B: b, Score: s})
			}
		}
	}
	sortMatches(within)
	return within, cross, nil
}
