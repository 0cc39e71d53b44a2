package dataset

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/internal/needs"
	"github.com/google/go-cmp/cmp"
)

func TestLoadSniffsFormatFromContent(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "a", "png-named.jpg"), tinyPNG(t, 1))
	writeFile(t, filepath.Join(root, "a", "jpeg-named.png"), jpegBytes(t, noisyRGBA(8, 8, 2)))
	writeFile(t, filepath.Join(root, "a", "noext"), jpegBytes(t, noisyRGBA(8, 8, 3)))

	d, err := Load(root, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range d.Photos {
		got[p.Rel] = p.Format
	}
	want := map[string]string{"a/jpeg-named.png": "jpeg", "a/noext": "jpeg", "a/png-named.jpg": "png"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("formats (-want +got):\n%s", diff)
	}
	if len(d.Skipped) != 0 {
		t.Errorf("unexpected skips: %v", d.Skipped)
	}
}

func TestSniffRealPNGNamedJPG(t *testing.T) {
	path := filepath.Join(needs.Photos(t), "537", "537.1.jpg")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	format, reason := sniff(b)
	if diff := cmp.Diff([2]string{"png", ""}, [2]string{format, reason}); diff != "" {
		t.Errorf("sniff(537.1.jpg) (-want +got):\n%s", diff)
	}
	img, err := Decode(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(image.Rect(0, 0, 224, 224), img.Bounds()); diff != "" {
		t.Errorf("bounds (-want +got):\n%s", diff)
	}
}

func TestLoadSkipsUnusableFiles(t *testing.T) {
	root := t.TempDir()
	good := jpegBytes(t, noisyRGBA(64, 64, 1))
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, noisyRGBA(4, 4, 2), nil); err != nil {
		t.Fatal(err)
	}
	goodPNG := tinyPNG(t, 3)
	badCRC := slices.Clone(goodPNG)
	badCRC[len(badCRC)-20] ^= 0xFF // inside the last IDAT's data

	files := map[string][]byte{
		"good.jpg":        good,
		"good.png":        goodPNG,
		"empty.jpg":       {},
		"truncated.jpg":   good[:len(good)/2],
		"no-eoi.jpg":      good[:len(good)-2],
		"truncated.png":   goodPNG[:len(goodPNG)-15],
		"bad-crc.png":     badCRC,
		"notes.txt":       []byte("dog 12 likes walks\n"),
		"labels.jpg":      []byte("name,id\nrex,1\n"),
		"anim.gif":        gifBuf.Bytes(),
		"random.bin":      {0x00, 0x01, 0x02, 0x9C, 0xFE},
		".DS_Store":       {0, 0, 0, 1, 'B', 'u', 'd', '1'},
		"sub/ignored.jpg": good,
		"header-only.jpg": {0xFF, 0xD8, 0xFF},
	}
	for name, data := range files {
		writeFile(t, filepath.Join(root, "dog", filepath.FromSlash(name)), data)
	}

	d, err := Load(root, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Skip{
		{"dog/.DS_Store", "hidden file"},
		{"dog/anim.gif", "unsupported image format GIF (only JPEG and PNG are read)"},
		{"dog/bad-crc.png", `truncated or corrupt PNG: chunk "IDAT" fails its CRC`},
		{"dog/empty.jpg", "empty file (0 bytes)"},
		{"dog/header-only.jpg", "corrupt JPEG header: unexpected EOF"},
		{"dog/labels.jpg", "not an image (text)"},
		{"dog/no-eoi.jpg", "truncated or corrupt JPEG: data ends before the end-of-image marker"},
		{"dog/notes.txt", "not an image (text)"},
		{"dog/random.bin", "not an image (unrecognised content)"},
		{"dog/sub", "folder inside a class folder (not searched)"},
		{"dog/truncated.jpg", "truncated or corrupt JPEG: data ends before the end-of-image marker"},
		{"dog/truncated.png", "truncated or corrupt PNG: data ends inside a chunk"},
	}
	if diff := cmp.Diff(want, d.Skipped); diff != "" {
		t.Errorf("Skipped (-want +got):\n%s", diff)
	}
	var kept []string
	for _, p := range d.Photos {
		kept = append(kept, p.Rel)
	}
	if diff := cmp.Diff([]string{"dog/good.jpg", "dog/good.png"}, kept); diff != "" {
		t.Errorf("kept photos (-want +got):\n%s", diff)
	}

	// Whatever Load skips as corrupt must indeed fail to decode.
	for _, name := range []string{"truncated.jpg", "no-eoi.jpg", "truncated.png", "bad-crc.png", "empty.jpg", "notes.txt"} {
		if _, err := Decode(filepath.Join(root, "dog", name)); err == nil {
			t.Errorf("Decode(%s) succeeded; Load skipped it", name)
		}
	}
}

func TestCheckJPEGStructureSkipsThumbnails(t *testing.T) {
	// An APP1 segment holding a complete JPEG (as EXIF thumbnails do) must
	// not end the walk: truncating the main image is still detected.
	thumb := jpegBytes(t, noisyRGBA(8, 8, 4))
	main := jpegBytes(t, noisyRGBA(32, 32, 5))
	app1 := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(thumb)+2))
	withThumb := slices.Concat(main[:2], app1, thumb, main[2:])

	if err := checkJPEGStructure(withThumb); err != nil {
		t.Errorf("complete file with thumbnail: %v", err)
	}
	if err := checkJPEGStructure(withThumb[:len(withThumb)-100]); err == nil {
		t.Error("truncated file with thumbnail passed")
	}
	// Trailing bytes after EOI (camera trailers) are fine: decoders ignore them.
	if err := checkJPEGStructure(append(slices.Clone(main), "trailer"...)); err != nil {
		t.Errorf("file with trailer: %v", err)
	}
}

func TestLoadClassesAndOrder(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, map[string]int{"10": 2, "2": 1, "b": 1, "a": 1, "02": 1}, 0)
	writeFile(t, filepath.Join(root, "README.md"), []byte("# not a class\n"))
	writeFile(t, filepath.Join(root, ".cache", "x.png"), tinyPNG(t, 99))

	d, err := Load(root, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"02", "2", "10", "a", "b"}, d.Classes); diff != "" {
		t.Errorf("Classes (-want +got):\n%s", diff)
	}
	type row struct {
		Rel   string
		Class string
	}
	var got []row
	for _, p := range d.Photos {
		got = append(got, row{p.Rel, d.Classes[p.Class]})
		if p.Path != filepath.Join(root, filepath.FromSlash(p.Rel)) {
			t.Errorf("Path %q does not match Rel %q", p.Path, p.Rel)
		}
		if len(p.SHA256) != 64 {
			t.Errorf("SHA256 %q is not 64 hex digits", p.SHA256)
		}
	}
	want := []row{
		{"02/02.0.png", "02"}, {"10/10.0.png", "10"}, {"10/10.1.png", "10"},
		{"2/2.0.png", "2"}, {"a/a.0.png", "a"}, {"b/b.0.png", "b"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Photos (-want +got):\n%s", diff)
	}
	if len(d.Skipped) != 0 || len(d.Dropped) != 0 {
		t.Errorf("Skipped %v, Dropped %v; want none", d.Skipped, d.Dropped)
	}
}

func TestCompareClassNames(t *testing.T) {
	names := []string{"b", "10", "A", "2", "002", "1", "dog-3", "100", "02", "0"}
	slices.SortFunc(names, CompareClassNames)
	want := []string{"0", "1", "002", "02", "2", "10", "100", "A", "b", "dog-3"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestLoadMinImagesPerClass(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, map[string]int{"1": 1, "2": 2, "3": 3, "4": 4}, 0)
	// Class 5 has files, but none usable: it counts 0 photos.
	writeFile(t, filepath.Join(root, "5", "5.0.jpg"), nil)
	writeFile(t, filepath.Join(root, "5", "5.1.jpg"), []byte("text"))
	// Photo 4/4.0.png is broken, leaving class 4 with 3 usable photos.
	writeFile(t, filepath.Join(root, "4", "4.0.png"), []byte("oops"))

	d, err := Load(root, LoadOptions{MinImagesPerClass: 3})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"3", "4"}, d.Classes); diff != "" {
		t.Errorf("Classes (-want +got):\n%s", diff)
	}
	wantDropped := []DroppedClass{{"1", 1}, {"2", 2}, {"5", 0}}
	if diff := cmp.Diff(wantDropped, d.Dropped); diff != "" {
		t.Errorf("Dropped (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{3, 3}, d.PhotosPerClass()); diff != "" {
		t.Errorf("PhotosPerClass (-want +got):\n%s", diff)
	}

	// Min 0 still drops the class without usable photos.
	d, err = Load(root, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]DroppedClass{{"5", 0}}, d.Dropped); diff != "" {
		t.Errorf("Dropped with min 0 (-want +got):\n%s", diff)
	}
}

func TestLoadMaxClasses(t *testing.T) {
	root := t.TempDir()
	counts := map[string]int{}
	for i := range 12 {
		counts["dog"+string(rune('a'+i))] = 2
	}
	counts["tiny"] = 1 // fails the minimum, never picked
	makeTree(t, root, counts, 0)

	load := func(max int, seed int64) *Dataset {
		t.Helper()
		d, err := Load(root, LoadOptions{MinImagesPerClass: 2, MaxClasses: max, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := load(4, 7), load(4, 7)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different datasets (-first +second):\n%s", diff)
	}
	if len(a.Classes) != 4 || len(a.Photos) != 8 {
		t.Errorf("got %d classes, %d photos; want 4, 8", len(a.Classes), len(a.Photos))
	}
	if !slices.IsSortedFunc(a.Classes, CompareClassNames) {
		t.Errorf("classes not sorted: %v", a.Classes)
	}
	for _, p := range a.Photos {
		if !strings.HasPrefix(p.Rel, a.Classes[p.Class]+"/") {
			t.Errorf("photo %s has class %s", p.Rel, a.Classes[p.Class])
		}
	}
	// Picks are nested: a smaller draw with the same seed is a subset.
	small := load(2, 7)
	for _, c := range small.Classes {
		if !slices.Contains(a.Classes, c) {
			t.Errorf("class %s picked for MaxClasses=2 but not for 4 (%v)", c, a.Classes)
		}
	}
	differs := false
	for seed := int64(8); seed < 20 && !differs; seed++ {
		differs = !slices.Equal(load(4, seed).Classes, a.Classes)
	}
	if !differs {
		t.Error("12 other seeds all picked the same 4 classes")
	}
	if got := load(50, 7).Classes; len(got) != 12 {
		t.Errorf("MaxClasses above the count kept %d classes, want 12", len(got))
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file.txt")
	writeFile(t, file, []byte("x"))
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	onlyFiles := filepath.Join(dir, "flat")
	writeFile(t, filepath.Join(onlyFiles, "a.png"), tinyPNG(t, 1))
	small := filepath.Join(dir, "small")
	makeTree(t, small, map[string]int{"a": 1, "b": 2}, 0)
	missing := filepath.Join(dir, "missing")

	for _, tc := range []struct {
		root string
		opt  LoadOptions
		want string
	}{
		{missing, LoadOptions{}, `root "` + missing + `" does not exist`},
		{file, LoadOptions{}, `root "` + file + `" is not a directory`},
		{empty, LoadOptions{}, `no class folders in "` + empty + `"`},
		{onlyFiles, LoadOptions{}, `no class folders in "` + onlyFiles + `"`},
		{small, LoadOptions{MinImagesPerClass: 3}, `no class in "` + small + `" has at least 3 usable photos`},
		{small, LoadOptions{MaxClasses: -1}, "MaxClasses must be >= 0"},
	} {
		_, err := Load(tc.root, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%q, %+v) error = %v; want it to contain %q", tc.root, tc.opt, err, tc.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	base := t.TempDir()
	counts := map[string]int{"1": 2, "2": 3}
	rootA, rootB := filepath.Join(base, "A"), filepath.Join(base, "renamed")
	makeTree(t, rootA, counts, 0)
	makeTree(t, rootB, counts, 0)
	// Skipped files are not data: they must not change the fingerprint.
	writeFile(t, filepath.Join(rootB, "1", "notes.txt"), []byte("hi"))

	fp := func(root string) string {
		t.Helper()
		d, err := Load(root, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d.Fingerprint()
	}
	a := fp(rootA)
	if diff := cmp.Diff(a, fp(rootB)); diff != "" {
		t.Errorf("fingerprint depends on the root name (-A +renamed):\n%s", diff)
	}
	if len(a) != 64 {
		t.Errorf("fingerprint %q is not a hex SHA-256", a)
	}

	// Renaming a photo file keeps the content, so the fingerprint.
	if err := os.Rename(filepath.Join(rootB, "2", "2.0.png"), filepath.Join(rootB, "2", "renamed.png")); err != nil {
		t.Fatal(err)
	}
	if got := fp(rootB); got != a {
		t.Errorf("renaming a photo changed the fingerprint")
	}

	writeFile(t, filepath.Join(rootB, "2", "renamed.png"), pngBytes(t, solidRGBA(6, 5, color.RGBA{1, 2, 3, 255})))
	if got := fp(rootB); got == a {
		t.Error("changing a photo's content kept the fingerprint")
	}

	// Moving a photo to another class changes it too.
	makeTree(t, rootB, counts, 0) // restore
	if err := os.Remove(filepath.Join(rootB, "2", "renamed.png")); err != nil {
		t.Fatal(err)
	}
	if got := fp(rootB); got != a {
		t.Fatal("restored tree has a different fingerprint")
	}
	if err := os.Rename(filepath.Join(rootB, "2", "2.0.png"), filepath.Join(rootB, "1", "moved.png")); err != nil {
		t.Fatal(err)
	}
	if got := fp(rootB); got == a {
		t.Error("moving a photo to another class kept the fingerprint")
	}
}
