package dedupe

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dogrun/dogrun/dataset"
	"github.com/dogrun/dogrun/internal/needs"
)

func gray(w, h int, f func(x, y int) float64) *Gray {
	g := NewGray(w, h)
	for y := range h {
		for x := range w {
			g.Pix[y*w+x] = f(x, y)
		}
	}
	return g
}

func TestSSIMHandComputed(t *testing.T) {
	c1 := math.Pow(0.01*255, 2) // 6.5025
	c2 := math.Pow(0.03*255, 2) // 58.5225
	for _, tc := range []struct {
		name string
		a, b *Gray
		want float64
	}{
		{
			// One 7x7 window, flat images 100 and 110: no variance, so only
			// the luminance term is left: (2*100*110 + C1) / (100² + 110² + C1).
			"flat", gray(7, 7, func(x, y int) float64 { return 100 }), gray(7, 7, func(x, y int) float64 { return 110 }),
			(22000 + c1) / (22100 + c1),
		},
		{
			// Ramps 10x and 10(6-x): equal means 30, population variance 400
			// (sample: 400*49/48), covariance -400*49/48. scikit-image 0.19.3
			// gives -0.8662631983371214.
			"mirror ramps", gray(7, 7, func(x, y int) float64 { return float64(10 * x) }), gray(7, 7, func(x, y int) float64 { return float64(10 * (6 - x)) }),
			(1800 + c1) * (-2*400.0*49/48 + c2) / ((1800 + c1) * (2*400.0*49/48 + c2)),
		},
		{
			// 8x7: two windows (x from 0 and from 1). b = a + 5 keeps the
			// structure (covariance = variance), so each window scores its
			// luminance term: means 30/35, then 40/45. scikit-image 0.19.3
			// gives 0.9906934907026173.
			"two windows", gray(8, 7, func(x, y int) float64 { return float64(10 * x) }), gray(8, 7, func(x, y int) float64 { return float64(10*x + 5) }),
			((2100+c1)/(2125+c1) + (3600+c1)/(3625+c1)) / 2,
		},
		{
			// A 16x12 pattern pair; skimage.metrics.structural_similarity(a, b,
			// data_range=255) from scikit-image 0.19.3 on the same uint8 arrays.
			"pattern", gray(16, 12, func(x, y int) float64 { return pattern(x, y) }),
			gray(16, 12, func(x, y int) float64 { return float64((int(pattern(x, y))/2 + x*9 + y*5) % 256) }),
			0.6539343863234633,
		},
	} {
		got, err := SSIM(tc.a, tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: SSIM %.15f, want %.15f", tc.name, got, tc.want)
		}
		if self, _ := SSIM(tc.a, tc.a); math.Abs(self-1) > 1e-12 {
			t.Errorf("%s: SSIM of an image with itself is %v", tc.name, self)
		}
	}
	if _, err := SSIM(NewGray(7, 7), NewGray(8, 7)); err == nil {
		t.Error("SSIM of different sizes accepted")
	}
	if _, err := SSIM(NewGray(6, 6), NewGray(6, 6)); err == nil {
		t.Error("SSIM of images smaller than the window accepted")
	}
}

func pattern(x, y int) float64 { return float64((x*37 + y*91 + (x*y)%13*11) % 256) }

func TestToGrayAndResize(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2, 1))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	img.Set(1, 0, color.RGBA{10, 200, 30, 255})
	// PIL's L = (299 R + 587 G + 114 B + 500) / 1000, integer division.
	if d := cmp.Diff([]float64{76, 124}, ToGray(img).Pix); d != "" {
		t.Errorf("luma (-want +got):\n%s", d)
	}
	// 3 -> 2 by area: cells cover [0, 1.5] and [1.5, 3] of the input, so
	// out = (0*1 + 3*0.5)/1.5 = 1 and (3*0.5 + 6*1)/1.5 = 5.
	g := gray(3, 1, func(x, y int) float64 { return float64(3 * x) })
	if d := cmp.Diff([]float64{1, 5}, g.Resize(2, 1).Pix, cmpopts.EquateApprox(0, 1e-12)); d != "" {
		t.Errorf("resize (-want +got):\n%s", d)
	}
	// 4x4 -> 2x2 averages 2x2 blocks.
	g = gray(4, 4, func(x, y int) float64 { return float64(x + 4*y) })
	if d := cmp.Diff([]float64{2.5, 4.5, 10.5, 12.5}, g.Resize(2, 2).Pix, cmpopts.EquateApprox(0, 1e-12)); d != "" {
		t.Errorf("block resize (-want +got):\n%s", d)
	}
}

// smooth is a photo-like image: low frequencies dominate, as in real photos.
func smooth(w, h int, seed float64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			v := 128 + 60*math.Sin(6*fx+seed) + 40*math.Cos(5*fy*seed+1) + 20*math.Sin(13*fx*fy+2*seed)
			img.Set(x, y, color.RGBA{uint8(v), uint8(255 - v), uint8(v / 2), 255})
		}
	}
	return img
}

func TestPHashFlipAndDistance(t *testing.T) {
	a := ToGray(smooth(64, 64, 1))
	h := PHash(a)
	// The mirror's hash computed by a real flip equals the sign-trick Flip.
	if got := PHash(a.FlipH()).H; got != h.Flip {
		t.Errorf("hash of the mirror %064b, Flip %064b", got, h.Flip)
	}
	if Distance(h, PHash(a.FlipH())) != 0 || Distance(h, h) != 0 {
		t.Error("a photo and its mirror are not at distance 0")
	}
	other := PHash(ToGray(smooth(64, 64, 2.7)))
	if d := Distance(h, other); d < 12 {
		t.Errorf("different images at distance %d", d)
	}
	// A re-crop (zoom 1.2, shifted 6%) is found by the signature search
	// though its plain hash moved.
	src := smooth(224, 224, 1)
	crop := dataset.Render(src, dataset.ViewParams{Zoom: 1.2, ShiftX: 0.06, Brightness: 1}, 224)
	sa, sb := Sign(src), Sign(crop)
	if d := SignatureDistance(&sa, &sb); d > PHashThreshold {
		t.Errorf("re-crop at signature distance %d > %d", d, PHashThreshold)
	}
	so := Sign(smooth(224, 224, 2.7))
	if d := SignatureDistance(&sa, &so); d <= PHashThreshold {
		t.Errorf("different images at signature distance %d", d)
	}
}

// TestCalibrationOnRealPhotos re-measures the methods on edited copies of
// real photos (docs/dedupe.md has the full-size numbers): phash finds the
// edits it was calibrated on but not re-alignments; align finds those and
// re-alignments and mostly keeps different photos of one dog apart; the
// seed's SSIM misses shifts, re-crops and flips.
func TestCalibrationOnRealPhotos(t *testing.T) {
	d, err := dataset.Load(needs.Photos(t), dataset.LoadOptions{MinImagesPerClass: 2})
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := Pairs(d, 40, 11)
	if err != nil {
		t.Fatal(err)
	}
	labels := make([]Label, len(pairs))
	ph := make([]float64, len(pairs))
	ss := make([]float64, len(pairs))
	al := make([]float64, len(pairs))
	if err := forEach(len(pairs), nil, func(i int) error {
		labels[i] = pairs[i].Label
		s, err := ScorePair(pairs[i].A, pairs[i].B)
		ph[i], ss[i], al[i] = s.PHash, s.SSIM, s.Align
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r := Evaluate(labels, ph, -PHashThreshold)
	if r.Positives != 40*len(Transforms) || r.Negatives != 40 {
		t.Fatalf("%d positives, %d negatives", r.Positives, r.Negatives)
	}
	t.Logf("phash <= %d bits: recall %.3f, false merges %.3f, by kind %v", PHashThreshold, r.Recall, r.FalseMerge, r.RecallByKind)
	if r.FalseMerge > 0.05 {
		t.Errorf("phash: false merges %.3f (want <= 0.05)", r.FalseMerge)
	}
	for _, k := range []string{"flip", "reencode", "brightness", "shift", "recrop"} {
		if r.RecallByKind[k] < 0.9 {
			t.Errorf("phash recall on %s: %.3f", k, r.RecallByKind[k])
		}
	}
	if r.RecallByKind["realign"] > 0.5 {
		t.Errorf("phash found %.3f of the re-alignments: the realign edit is too mild to show its weakness", r.RecallByKind["realign"])
	}
	// align misses half the combos, which are mirrored as well as re-cropped
	// (it matches no mirror images; docs/dedupe.md says why).
	a := Evaluate(labels, al, AlignThreshold)
	t.Logf("align >= %g: recall %.3f, false merges %.3f, by kind %v", AlignThreshold, a.Recall, a.FalseMerge, a.RecallByKind)
	for _, k := range []string{"shift", "recrop", "flip", "reencode", "brightness", "realign"} {
		if a.RecallByKind[k] < 0.95 {
			t.Errorf("align recall on %s: %.3f (want >= 0.95)", k, a.RecallByKind[k])
		}
	}
	if a.FalseMerge > 0.05 {
		t.Errorf("align: false merges %.3f (want <= 0.05)", a.FalseMerge)
	}
	s := Evaluate(labels, ss, 0.9)
	t.Logf("ssim >= 0.9: recall %.3f, by kind %v", s.Recall, s.RecallByKind)
	if s.RecallByKind["shift"] > 0.1 || s.RecallByKind["flip"] > 0.1 || s.Recall > 0.5 {
		t.Errorf("SSIM found shifted or flipped copies (%v): the calibration pairs are too easy", s.RecallByKind)
	}
}

// TestFindGroupsEditedCopies writes real photos and edited copies of some to
// a folder and checks the groups: copies join their originals, groups stay
// within a class, and a photo copied under a second dog is reported.
func TestFindGroupsEditedCopies(t *testing.T) {
	src, err := dataset.Load(needs.Photos(t), dataset.LoadOptions{MinImagesPerClass: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Two dogs' first three photos, taken as unrelated to each other (the
	// test fails loudly if a future data set makes them near-duplicates).
	dir := t.TempDir()
	byName := map[string][]dataset.Photo{}
	for _, p := range src.Photos {
		c := src.Classes[p.Class]
		if (c == "100" || c == "1000") && len(byName[c]) < 3 {
			byName[c] = append(byName[c], p)
		}
	}
	write := func(rel string, img image.Image) {
		path := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	load := func(p dataset.Photo) image.Image {
		img, err := dataset.Decode(p.Path)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	for c, ps := range byName {
		for i, p := range ps {
			write(c+"/"+string(rune('a'+i))+".png", load(p))
		}
	}
	a0 := load(byName["100"][0])
	write("100/a-recrop.png", dataset.Render(a0, dataset.ViewParams{Zoom: 1.15, ShiftX: -0.05, ShiftY: 0.03, Brightness: 1.1}, 224))
	write("100/a-flip.png", dataset.Render(a0, dataset.ViewParams{Zoom: 1, Brightness: 1, Flip: true}, 224))
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, load(byName["1000"][1]), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	reenc, err := jpeg.Decode(&jb)
	if err != nil {
		t.Fatal(err)
	}
	write("1000/b-reencoded.png", reenc)
	write("1000/x-misfiled.png", load(byName["100"][2])) // dog 100's photo under dog 1000

	d, err := dataset.Load(dir, dataset.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Find(d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var groups [][]string
	for _, g := range res.Multi() {
		var names []string
		for _, i := range g {
			names = append(names, d.Photos[i].Rel)
		}
		groups = append(groups, names)
	}
	want := [][]string{{"100/a-flip.png", "100/a-recrop.png", "100/a.png"}, {"1000/b-reencoded.png", "1000/b.png"}}
	if diff := cmp.Diff(want, groups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	for i, g := range res.Group {
		for j, h := range res.Group {
			if g == h && d.Photos[i].Class != d.Photos[j].Class {
				t.Errorf("group %d spans classes: %s and %s", g, d.Photos[i].Rel, d.Photos[j].Rel)
			}
		}
	}
	if len(res.CrossClass) != 1 || d.Photos[res.CrossClass[0].A].Rel != "100/c.png" || d.Photos[res.CrossClass[0].B].Rel != "1000/x-misfiled.png" {
		t.Errorf("cross-class: %+v", res.CrossClass)
	}
	// The seed's SSIM finds the light re-encode only: SSIM of a re-crop or a
	// flip is far below 0.95.
	ss, err := Find(d, Options{Method: MethodSSIM})
	if err != nil {
		t.Fatal(err)
	}
	if len(ss.Multi()) != 1 || len(ss.Multi()[0]) != 2 {
		t.Errorf("ssim groups: %v", ss.Multi())
	}
	none, _ := Find(d, Options{Method: MethodNone})
	if len(none.Groups) != len(d.Photos) {
		t.Errorf("method none: %d groups for %d photos", len(none.Groups), len(d.Photos))
	}
}

// TestSSIMPrefilterKeepsEveryMatch checks the thumbnail prefilter's margin on
// labelled pairs from the real photos: no pair with a full SSIM of at least
// ssimPrefilterFrom scores more than the margin lower on thumbnails, so the
// prefilter never drops a match.
func TestSSIMPrefilterKeepsEveryMatch(t *testing.T) {
	d, err := dataset.Load(needs.Photos(t), dataset.LoadOptions{MinImagesPerClass: 2})
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := Pairs(d, 40, 5)
	if err != nil {
		t.Fatal(err)
	}
	worst, high := math.Inf(-1), 0
	for _, p := range pairs {
		a, b := loadPair(t, p)
		full := ssimPrepared(a.full, b.full)
		if full < ssimPrefilterFrom {
			continue
		}
		high++
		worst = math.Max(worst, full-ssimPrepared(a.thumb, b.thumb))
	}
	t.Logf("%d pairs with SSIM >= %g: full SSIM exceeds thumbnail SSIM by at most %.3f (margin %g)", high, ssimPrefilterFrom, worst, ssimPrefilterMargin)
	if high < 50 || worst >= ssimPrefilterMargin/2 {
		t.Errorf("%d pairs, worst full - thumbnail %.3f, want < %g", high, worst, ssimPrefilterMargin/2)
	}
}

func loadPair(t *testing.T, p Pair) (*ssimPhoto, *ssimPhoto) {
	t.Helper()
	var out [2]*ssimPhoto
	for i, img := range []image.Image{p.A, p.B} {
		g := ToGray(img)
		out[i] = &ssimPhoto{full: prepare(g), thumb: prepare(g.Resize(g.W/ssimThumbFactor, g.H/ssimThumbFactor))}
	}
	return out[0], out[1]
}
