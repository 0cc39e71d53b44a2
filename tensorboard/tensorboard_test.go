package tensorboard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCRC32CAndMask(t *testing.T) {
	// The CRC-32C check value of "123456789" (RFC 3720, B.4).
	if got := crc32.Checksum([]byte("123456789"), castagnoli); got != 0xe3069283 {
		t.Fatalf("crc32c check value %08x, want e3069283", got)
	}
	c := uint32(0xe3069283)
	want := ((c >> 15) | (c << 17)) + 0xa282ead8
	if got := maskedCRC([]byte("123456789")); got != want {
		t.Errorf("masked CRC %08x, want %08x", got, want)
	}
}

// The wire bytes of a scalar event, spelled out field by field from
// event.proto and summary.proto.
func TestEventWireBytes(t *testing.T) {
	e := Event{WallTime: 1.5, Step: 3, Scalars: []Scalar{{Tag: "epoch_loss", Value: 0.25}}}
	var want []byte
	want = append(want, 0x09) // field 1 (wall_time), fixed64
	want = binary.LittleEndian.AppendUint64(want, math.Float64bits(1.5))
	want = append(want, 0x10, 0x03) // field 2 (step), varint 3
	value := []byte{0x0a, 10}       // Value.tag (field 1), length 10
	value = append(value, "epoch_loss"...)
	value = append(value, 0x15) // Value.simple_value (field 2), fixed32
	value = binary.LittleEndian.AppendUint32(value, math.Float32bits(0.25))
	summary := append([]byte{0x0a, byte(len(value))}, value...) // Summary.value (field 1)
	want = append(want, 0x2a, byte(len(summary)))               // field 5 (summary)
	want = append(want, summary...)
	if got := e.marshal(); !bytes.Equal(got, want) {
		t.Errorf("event bytes\n got % x\nwant % x", got, want)
	}

	v := Event{WallTime: 2, FileVersion: FileVersion}.marshal()
	if !bytes.HasSuffix(v, append([]byte{0x1a, byte(len(FileVersion))}, FileVersion...)) {
		t.Errorf("file_version not encoded as field 3: % x", v)
	}
}

func TestRecordFraming(t *testing.T) {
	rec := appendRecord(nil, []byte("abc"))
	if len(rec) != 8+4+3+4 {
		t.Fatalf("record is %d bytes, want 19", len(rec))
	}
	if n := binary.LittleEndian.Uint64(rec); n != 3 {
		t.Errorf("length %d, want 3", n)
	}
	if got, want := binary.LittleEndian.Uint32(rec[8:]), maskedCRC(rec[:8]); got != want {
		t.Errorf("length CRC %08x, want %08x", got, want)
	}
	if got, want := binary.LittleEndian.Uint32(rec[15:]), maskedCRC([]byte("abc")); got != want {
		t.Errorf("data CRC %08x, want %08x", got, want)
	}
}

func TestWriteKerasReadBack(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	epochs := []Epoch{
		{Epoch: 1, Loss: 2.5, Accuracy: 0.25, ValLoss: 2.75, ValAccuracy: 0.2, Seconds: 1.5},
		{Epoch: 2, Loss: 1.25, Accuracy: 0.5, ValLoss: math.NaN(), ValAccuracy: 0.4, Seconds: 1},
		{Epoch: 3, Loss: 0.5, Accuracy: 0.75, ValLoss: 1.5, ValAccuracy: 0.6, Seconds: 2},
	}
	paths, err := WriteKeras(dir, start, epochs)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 {
		t.Fatalf("wrote %v, want a train and a validation file", paths)
	}
	name := regexp.MustCompile(`^events\.out\.tfevents\.1772600767\.[^/]+$`)
	for i, sub := range []string{TrainDir, ValidationDir} {
		if filepath.Dir(paths[i]) != filepath.Join(dir, sub) || !name.MatchString(filepath.Base(paths[i])) {
			t.Errorf("file %d is %s, want %s/events.out.tfevents.<unix>.<host>", i, paths[i], sub)
		}
	}

	sec := func(d float64) float64 { return float64(start.Unix()) + d }
	train, err := ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	wantTrain := []Event{
		{WallTime: sec(0), FileVersion: "brain.Event:2"},
		{WallTime: sec(1.5), Step: 1, Scalars: []Scalar{{TagLoss, 2.5}, {TagAccuracy, 0.25}}},
		{WallTime: sec(2.5), Step: 2, Scalars: []Scalar{{TagLoss, 1.25}, {TagAccuracy, 0.5}}},
		{WallTime: sec(4.5), Step: 3, Scalars: []Scalar{{TagLoss, 0.5}, {TagAccuracy, 0.75}}},
	}
	if d := cmp.Diff(wantTrain, train); d != "" {
		t.Errorf("train events (-want +got):\n%s", d)
	}
	val, err := ReadFile(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	wantVal := []Event{
		{WallTime: sec(0), FileVersion: "brain.Event:2"},
		{WallTime: sec(1.5), Step: 1, Scalars: []Scalar{{TagLoss, 2.75}, {TagAccuracy, 0.2}}},
		// The NaN loss is left out; the accuracy of that epoch stays.
		{WallTime: sec(2.5), Step: 2, Scalars: []Scalar{{TagAccuracy, 0.4}}},
		{WallTime: sec(4.5), Step: 3, Scalars: []Scalar{{TagLoss, 1.5}, {TagAccuracy, 0.6}}},
	}
	if d := cmp.Diff(wantVal, val); d != "" {
		t.Errorf("validation events (-want +got):\n%s", d)
	}

	// A rerun replaces the file instead of adding a second curve.
	again, err := WriteKeras(dir, start.Add(time.Hour), epochs[:1])
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{TrainDir, ValidationDir} {
		files, _ := filepath.Glob(filepath.Join(dir, sub, "*"))
		if len(files) != 1 {
			t.Errorf("%s holds %v after a rewrite, want only the new file", sub, files)
		}
	}
	if evs, err := ReadFile(again[0]); err != nil || len(evs) != 2 {
		t.Errorf("rewritten file: %d events, %v; want version + 1 epoch", len(evs), err)
	}
}

func TestNoValidationSplitWritesNoValidationFile(t *testing.T) {
	dir := t.TempDir()
	nan := math.NaN()
	paths, err := WriteKeras(dir, time.Unix(100, 0), []Epoch{{Epoch: 1, Loss: 1, Accuracy: 0.5, ValLoss: nan, ValAccuracy: nan}})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 1 || filepath.Base(filepath.Dir(paths[0])) != TrainDir {
		t.Errorf("wrote %v, want only a train file", paths)
	}
	if _, err := os.Stat(filepath.Join(dir, ValidationDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("validation folder exists: %v", err)
	}
}

func TestReadRejectsCorruption(t *testing.T) {
	good := Encode(time.Unix(100, 0), []Event{{WallTime: 101, Step: 1, Scalars: []Scalar{{"a", 1}}}})
	if evs, err := Read(bytes.NewReader(good)); err != nil || len(evs) != 2 {
		t.Fatalf("intact file: %d events, %v", len(evs), err)
	}
	first := 8 + 4 + int(binary.LittleEndian.Uint64(good)) + 4
	cases := map[string][]byte{
		"flipped data byte":   flip(good, first+12+2),
		"flipped length byte": flip(good, first),
		"flipped data CRC":    flip(good, len(good)-1),
		"cut in header":       good[:first+5],
		"cut in data":         good[:len(good)-3],
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(b))
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

func TestFileNameSanitisesHost(t *testing.T) {
	if got := FileName(time.Unix(1700000000, 0), "a/b"); got != "events.out.tfevents.1700000000.a_b" {
		t.Errorf("got %q", got)
	}
	if got := FileName(time.Unix(5, 0), ""); got != "events.out.tfevents.5.localhost" {
		t.Errorf("got %q", got)
	}
}
