package main

import (
	"bytes"
	"database/sql"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/backbone/backbonetest"
	"github.com/dogrun/dogrun/results"
)

// badDir is the corpus of broken inputs.
var badDir = filepath.Join("testdata", "bad")

// TestBadExperimentFiles: each broken file gets the same named error from
// validate and from run, and run stops before it creates anything.
func TestBadExperimentFiles(t *testing.T) {
	for _, name := range []string{"malformed", "unknown_keys", "wrong_types", "empty_sweep", "empty", "nan_lr", "alias_bomb", "settle"} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(badDir, name+".yaml")
			_, _, err := dogrun(t, "validate", file)
			if err == nil {
				t.Fatal("validated")
			}
			golden(t, "bad_"+name, err.Error()+"\n")
			runs := t.TempDir()
			_, _, runErr := dogrun(t, "run", file, "-runs", runs)
			if runErr == nil || runErr.Error() != err.Error() {
				t.Errorf("run says %v, validate %v", runErr, err)
			}
			if entries, _ := os.ReadDir(runs); len(entries) != 0 {
				t.Errorf("run of a broken file wrote %v", entries)
			}
		})
	}
}

// TestBadDatasets: a missing folder, an empty one, and one whose every dog
// has a single photo are errors at dataset.path, the same from validate as
// from run, which stops before it loads a backbone or creates a database.
func TestBadDatasets(t *testing.T) {
	var got strings.Builder
	both := func(file, dir string) {
		t.Helper()
		_, _, err := dogrun(t, "validate", file)
		if dir != "" {
			got.WriteString(strings.ReplaceAll(errText(err), dir, "$DIR"))
		} else {
			got.WriteString(errText(err))
		}
		runs := t.TempDir()
		_, _, runErr := dogrun(t, "run", file, "-runs", runs)
		if errText(runErr) != errText(err) {
			t.Errorf("run says %v, validate %v", runErr, err)
		}
		if entries, _ := os.ReadDir(runs); len(entries) != 0 {
			t.Errorf("run refused for its data but wrote %v", entries)
		}
	}
	both(filepath.Join(badDir, "no_dataset.yaml"), "")

	dir := corpusCopy(t)
	if err := os.Mkdir(filepath.Join(dir, "photos"), 0o755); err != nil {
		t.Fatal(err)
	}
	both(filepath.Join(dir, "photos.yaml"), dir)

	for _, dog := range []string{"rex", "fido"} {
		writeFile(t, filepath.Join(dir, "photos", dog, "1.jpg"), jpegOf(t, photo(1, 0), 90))
	}
	both(filepath.Join(dir, "photos.yaml"), dir)
	golden(t, "bad_datasets", got.String())
}

// TestBadPhotosAreSkippedAndSweepsFinish runs real trials on a folder of
// synthetic photos mixed with every kind of broken file. Broken files are
// skipped with a note, odd but valid ones (grayscale, CMYK, PNG named .jpg,
// a large photo) are used, a trial whose loss turns NaN fails alone, and a
// backbone file that is not the named backbone fails with its sha256.
func TestBadPhotosAreSkippedAndSweepsFinish(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the backbone")
	}
	cache := backbonetest.FreshCache(t)
	dir := corpusCopy(t)
	writeBadPhotos(t, filepath.Join(dir, "photos"))
	t.Setenv("DOGRUN_CACHE", cache)
	runs := t.TempDir()

	out, _, err := dogrun(t, "run", filepath.Join(dir, "photos.yaml"), "-runs", runs)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	golden(t, "bad_photos_notes", linesWith(out, "note: ", "experiment "))
	if !strings.Contains(out, "done: 1 trained, 0 failed") {
		t.Errorf("run over bad photos:\n%s", out)
	}

	// One trial at a time, so the log's order is the golden's.
	out, _, err = dogrun(t, "run", filepath.Join(dir, "nan_loss.yaml"), "-runs", runs, "-threads", "1")
	if err == nil {
		t.Fatalf("a sweep with a NaN trial reported success:\n%s", out)
	}
	// Timings vary, and trial hashes follow the synthetic photos' bytes.
	timing := regexp.MustCompile(`(?m)( [0-9a-f]{12}(, run ETA [0-9.]+m?s)?| in [0-9.]+m?s)$`)
	got := timing.ReplaceAllLiteralString(linesWith(out, "trial ", "done: "), "")
	golden(t, "bad_nan_loss", got+err.Error()+"\n")
	trials := storedTrials(t, filepath.Join(runs, "dogrun.db"), "nan_loss")
	if s := describe(trials); s != "[done/"+trials[0].Worker+" failed/"+trials[0].Worker+" done/"+trials[0].Worker+"]" {
		t.Errorf("trials %s, want the NaN one failed and the others done", s)
	}
	if trials[1].Attempts != 1 || !strings.HasPrefix(trials[1].Error, "train head: ") || !strings.Contains(trials[1].Error, "training loss is not finite") {
		t.Errorf("NaN trial: %d attempts, error %q; want 1 attempt (not retried in the same run) and the error of the step that failed", trials[1].Attempts, trials[1].Error)
	}

	// A model file that is not the named backbone: every byte is checked.
	npm := filepath.Join(cache, "npm")
	swapped := filepath.Join(t.TempDir(), "cache")
	pkgs := filepath.Join(swapped, "npm")
	if err := os.MkdirAll(pkgs, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(npm)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "faceplugin-face-recognition-js@") {
			model := readFile(t, filepath.Join(npm, e.Name(), "model", "fr_feature.onnx"))
			model[len(model)/2] ^= 1
			writeFile(t, filepath.Join(pkgs, e.Name(), "model", "fr_feature.onnx"), model)
		} else if err := os.Symlink(filepath.Join(npm, e.Name()), filepath.Join(pkgs, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("DOGRUN_CACHE", swapped)
	out, _, err = dogrun(t, "run", filepath.Join(dir, "photos.yaml"), "-runs", t.TempDir())
	if err == nil {
		t.Fatalf("a swapped backbone file ran:\n%s", out)
	}
	// The run refuses it before the sweep starts (backbone.Prepare).
	if strings.Contains(out, "trial ") {
		t.Errorf("a swapped backbone file reached the sweep:\n%s", out)
	}
	got = err.Error() + "\n"
	got = regexp.MustCompile(`sha256 [0-9a-f]{64}`).ReplaceAllLiteralString(strings.ReplaceAll(got, swapped, "$CACHE"), "sha256 $SHA")
	golden(t, "bad_backbone_sha", got)
}

// TestNewerDatabaseIsRefused: a results database from a newer dogrun is
// refused by every command with a message saying what to do.
func TestNewerDatabaseIsRefused(t *testing.T) {
	runs := t.TempDir()
	db := filepath.Join(runs, "dogrun.db")
	st, err := results.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	raw, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	_, _, err = dogrun(t, "status", "-runs", runs)
	got := strings.ReplaceAll(errText(err), runs, "$RUNS")
	got = regexp.MustCompile(`up to \d+;`).ReplaceAllLiteralString(got, "up to $VERSION;")
	_, _, err = dogrun(t, "run", filepath.Join("testdata", "tiny.yaml"), "-runs", runs) // refused before it reads photos
	if err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Errorf("run on a newer database: %v", err)
	}
	golden(t, "bad_newer_database", got)
}

func errText(err error) string {
	if err == nil {
		return "<no error>\n"
	}
	return err.Error() + "\n"
}

// corpusCopy copies testdata/bad's experiment files into a new folder, where a
// test can put photos/ beside them.
func corpusCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(badDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("corpus: %v %v", files, err)
	}
	for _, f := range files {
		writeFile(t, filepath.Join(dir, filepath.Base(f)), readFile(t, f))
	}
	return dir
}

func linesWith(out string, prefixes ...string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(out, "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				b.WriteString(l)
				break
			}
		}
	}
	return b.String()
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeBadPhotos fills root with three dogs of six synthetic photos each,
// broken and odd files in the first dog's folder, and a dog with one photo.
func writeBadPhotos(t *testing.T, root string) {
	t.Helper()
	for c, dog := range []string{"ace", "bo", "cy"} {
		for i := range 6 {
			writeFile(t, filepath.Join(root, dog, string(rune('1'+i))+".jpg"), jpegOf(t, photo(uint64(10*c+i), c), 90))
		}
	}
	writeFile(t, filepath.Join(root, "solo", "1.jpg"), jpegOf(t, photo(99, 3), 90))

	ace := filepath.Join(root, "ace")
	good := jpegOf(t, photo(50, 0), 90)
	writeFile(t, filepath.Join(ace, "truncated.jpg"), good[:len(good)/2])
	writeFile(t, filepath.Join(ace, "zero.jpg"), nil)
	writeFile(t, filepath.Join(ace, "notes.jpg"), []byte("This is not a photo of a dog.\n"))
	noise := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	writeFile(t, filepath.Join(ace, "random.jpg"), noise)
	var g bytes.Buffer
	if err := gif.Encode(&g, photo(51, 0), nil); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(ace, "moving.jpg"), g.Bytes())
	writeFile(t, filepath.Join(ace, "huge.jpg"), withJPEGSize(t, jpegOf(t, photo(52, 0), 90), 40000, 40000))

	// Odd but valid: these are used.
	var p bytes.Buffer
	if err := png.Encode(&p, photo(53, 0)); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(ace, "png_named.jpg"), p.Bytes())
	gray := image.NewGray(image.Rect(0, 0, 64, 64))
	src := photo(54, 0)
	for y := range 64 {
		for x := range 64 {
			gray.Set(x, y, src.At(x, y))
		}
	}
	writeFile(t, filepath.Join(ace, "gray.jpg"), jpegOf(t, gray, 90))
	writeFile(t, filepath.Join(ace, "cmyk.jpg"), cmykJPEG(color.CMYK{C: 20, M: 180, Y: 90, K: 40}))
	big := image.NewRGBA(image.Rect(0, 0, 2400, 1800))
	for y := range 1800 {
		for x := range 2400 {
			big.Set(x, y, src.At(x*64/2400, y*64/1800))
		}
	}
	writeFile(t, filepath.Join(ace, "large.jpg"), jpegOf(t, big, 80))
}

// photo is a 64x64 picture in class c's colour with a few random blocks, laid
// out differently by each seed so that no two photos are near-duplicates.
func photo(seed uint64, c int) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, uint64(c)))
	base := [][3]int{{200, 80, 40}, {40, 160, 200}, {90, 200, 60}, {180, 180, 180}}[c]
	m := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			m.Set(x, y, color.RGBA{uint8(base[0]), uint8(base[1]), uint8(base[2]), 255})
		}
	}
	for range 6 {
		x0, y0 := rng.IntN(56), rng.IntN(56)
		w, h := 4+rng.IntN(24), 4+rng.IntN(24)
		col := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
		for y := y0; y < min(64, y0+h); y++ {
			for x := x0; x < min(64, x0+w); x++ {
				m.Set(x, y, col)
			}
		}
	}
	return m
}

func jpegOf(t *testing.T, m image.Image, quality int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withJPEGSize rewrites the frame header's size: the file claims to be huge
// while holding a small image, as a decompression bomb would.
func withJPEGSize(t *testing.T, b []byte, w, h int) []byte {
	t.Helper()
	i := bytes.Index(b, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no baseline frame header")
	}
	out := bytes.Clone(b)
	out[i+5], out[i+6], out[i+7], out[i+8] = byte(h>>8), byte(h), byte(w>>8), byte(w)
	return out
}

// cmykJPEG is an 8x8 four-component JPEG of one ink colour with an Adobe
// marker (transform 0: CMYK stored inverted), which image/jpeg reads but
// cannot write. A flat block has only a DC coefficient, 8*(sample-128) with
// quantisation 1, so a DC-only Huffman code encodes it exactly.
func cmykJPEG(c color.CMYK) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xFF, 0xD8})
	b.Write([]byte{0xFF, 0xEE, 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, 0})
	b.Write(append([]byte{0xFF, 0xDB, 0, 67, 0}, bytes.Repeat([]byte{1}, 64)...))
	b.Write([]byte{0xFF, 0xC0, 0, 20, 8, 0, 8, 0, 8, 4, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 4, 0x11, 0})
	// DC: twelve 4-bit codes, code k for category k. AC: the 1-bit code "0" is EOB.
	b.Write([]byte{0xFF, 0xC4, 0, 49, 0x00, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	b.Write([]byte{0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00})
	b.Write([]byte{0xFF, 0xDA, 0, 14, 4, 1, 0, 2, 0, 3, 0, 4, 0, 0, 63, 0})
	var bits []bool
	put := func(v, n int) {
		for i := n - 1; i >= 0; i-- {
			bits = append(bits, v>>i&1 == 1)
		}
	}
	for _, ink := range []uint8{c.C, c.M, c.Y, c.K} {
		dc := 8 * (int(255-ink) - 128)
		cat := 0
		for a := max(dc, -dc); a > 0; a >>= 1 {
			cat++
		}
		v := dc
		if dc < 0 {
			v = dc + 1<<cat - 1
		}
		put(cat, 4)
		put(v, cat)
		put(0, 1)
	}
	for len(bits)%8 != 0 {
		bits = append(bits, true)
	}
	for i := 0; i < len(bits); i += 8 {
		var x byte
		for _, bit := range bits[i : i+8] {
			x <<= 1
			if bit {
				x |= 1
			}
		}
		b.WriteByte(x)
		if x == 0xFF {
			b.WriteByte(0) // stuffing
		}
	}
	b.Write([]byte{0xFF, 0xD9})
	return b.Bytes()
}

func TestCMYKJPEGHelperIsCMYK(t *testing.T) {
	m, err := jpeg.Decode(bytes.NewReader(cmykJPEG(color.CMYK{C: 20, M: 180, Y: 90, K: 40})))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*image.CMYK); !ok {
		t.Fatalf("decodes as %T, want *image.CMYK", m)
	}
}
