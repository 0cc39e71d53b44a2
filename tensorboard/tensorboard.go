// Package tensorboard writes and reads TensorBoard event files: TFRecord
// framing around Event protobufs holding scalar summaries, so that
// `tensorboard --logdir` shows dogrun's per-epoch curves. It depends on no
// other dogrun package.
//
// Format (tensorflow/core/util/event.proto, framework/summary.proto):
//
//	record:  uint64 length | uint32 masked CRC32C(length) | data | uint32 masked CRC32C(data), little-endian
//	Event:   wall_time=1 (double), step=2 (int64), file_version=3 (string), summary=5 (Summary)
//	Summary: value=1 (repeated Value)
//	Value:   tag=1 (string), simple_value=2 (float)
package tensorboard

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// FileVersion is what the first event of every file says; TensorBoard
// reads "brain.Event:2" files.
const FileVersion = "brain.Event:2"

// FilePrefix starts every event file name; TensorBoard only reads files
// whose name contains it.
const FilePrefix = "events.out.tfevents."

// Protobuf field numbers of the messages we use.
const (
	eventWallTime    protowire.Number = 1
	eventStep        protowire.Number = 2
	eventFileVersion protowire.Number = 3
	eventSummary     protowire.Number = 5
	summaryValue     protowire.Number = 1
	valueTag         protowire.Number = 1
	valueSimple      protowire.Number = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's CRC32C with the rotation and offset that keep a
// CRC of data containing CRCs from being trivially zero.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

// Scalar is one tagged value of an event.
type Scalar struct {
	Tag   string
	Value float32
}

// Event is the part of a TensorBoard event this package knows.
type Event struct {
	WallTime    float64 // seconds since the Unix epoch
	Step        int64
	FileVersion string
	Scalars     []Scalar
}

func (e Event) marshal() []byte {
	var b []byte
	b = protowire.AppendTag(b, eventWallTime, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(e.WallTime))
	if e.Step != 0 {
		b = protowire.AppendTag(b, eventStep, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(e.Step))
	}
	if e.FileVersion != "" {
		b = protowire.AppendTag(b, eventFileVersion, protowire.BytesType)
		b = protowire.AppendString(b, e.FileVersion)
	}
	if len(e.Scalars) > 0 {
		var sum []byte
		for _, s := range e.Scalars {
			var v []byte
			v = protowire.AppendTag(v, valueTag, protowire.BytesType)
			v = protowire.AppendString(v, s.Tag)
			v = protowire.AppendTag(v, valueSimple, protowire.Fixed32Type)
			v = protowire.AppendFixed32(v, math.Float32bits(s.Value))
			sum = protowire.AppendTag(sum, summaryValue, protowire.BytesType)
			sum = protowire.AppendBytes(sum, v)
		}
		b = protowire.AppendTag(b, eventSummary, protowire.BytesType)
		b = protowire.AppendBytes(b, sum)
	}
	return b
}

// appendRecord frames data as one TFRecord.
func appendRecord(out, data []byte) []byte {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(data)))
	out = append(out, n[:]...)
	out = binary.LittleEndian.AppendUint32(out, maskedCRC(n[:]))
	out = append(out, data...)
	return binary.LittleEndian.AppendUint32(out, maskedCRC(data))
}

func wallSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// FileName is the event file name TensorBoard expects for a file started at
// t on host: events.out.tfevents.<unix seconds>.<host>.
func FileName(t time.Time, host string) string {
	host = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, host)
	if host == "" {
		host = "localhost"
	}
	return FilePrefix + strconv.FormatInt(t.Unix(), 10) + "." + host
}

// Encode returns a whole event file: the file-version event at start, then
// events in order.
func Encode(start time.Time, events []Event) []byte {
	out := appendRecord(nil, Event{WallTime: wallSeconds(start), FileVersion: FileVersion}.marshal())
	for _, e := range events {
		out = appendRecord(out, e.marshal())
	}
	return out
}

// WriteFile writes an event file into dir (created if needed) and returns
// its path. Earlier event files in dir are removed first: TensorBoard merges
// every file of a folder, so a rerun trial would otherwise show two curves.
// The file appears under its final name only once complete.
func WriteFile(dir string, start time.Time, events []Event) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("tensorboard: %w", err)
	}
	old, err := filepath.Glob(filepath.Join(dir, FilePrefix+"*"))
	if err != nil {
		return "", fmt.Errorf("tensorboard: %w", err)
	}
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			return "", fmt.Errorf("tensorboard: %w", err)
		}
	}
	host, _ := os.Hostname()
	path := filepath.Join(dir, FileName(start, host))
	tmp, err := os.CreateTemp(dir, ".tmp-events-*")
	if err != nil {
		return "", fmt.Errorf("tensorboard: %w", err)
	}
	if _, err := tmp.Write(Encode(start, events)); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return "", fmt.Errorf("tensorboard: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("tensorboard: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("tensorboard: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("tensorboard: %w", err)
	}
	return path, nil
}

// ErrCorrupt is returned (wrapped) for a record whose framing or CRC is wrong.
var ErrCorrupt = errors.New("corrupt event file")

// Read parses every record of an event file, checking both CRCs of each.
// A file cut inside a record (a writer killed mid-write) is reported as
// corrupt rather than silently shortened.
func Read(r io.Reader) ([]Event, error) {
	br := bufio.NewReader(r)
	var out []Event
	for i := 0; ; i++ {
		var head [12]byte
		if _, err := io.ReadFull(br, head[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("tensorboard: record %d header: %w: %v", i, ErrCorrupt, err)
		}
		if got, want := binary.LittleEndian.Uint32(head[8:]), maskedCRC(head[:8]); got != want {
			return nil, fmt.Errorf("tensorboard: record %d: %w: length CRC %08x, want %08x", i, ErrCorrupt, got, want)
		}
		n := binary.LittleEndian.Uint64(head[:8])
		if n > 1<<30 {
			return nil, fmt.Errorf("tensorboard: record %d: %w: length %d", i, ErrCorrupt, n)
		}
		data := make([]byte, n+4)
		if _, err := io.ReadFull(br, data); err != nil {
			return nil, fmt.Errorf("tensorboard: record %d data: %w: %v", i, ErrCorrupt, err)
		}
		if got, want := binary.LittleEndian.Uint32(data[n:]), maskedCRC(data[:n]); got != want {
			return nil, fmt.Errorf("tensorboard: record %d: %w: data CRC %08x, want %08x", i, ErrCorrupt, got, want)
		}
		e, err := parseEvent(data[:n])
		if err != nil {
			return nil, fmt.Errorf("tensorboard: record %d: %w", i, err)
		}
		out = append(out, e)
	}
}

// ReadFile reads the event file at path.
func ReadFile(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tensorboard: %w", err)
	}
	defer f.Close()
	return Read(f)
}

// fields walks the fields of one message, calling fn with each field's
// number, wire type and raw value bytes. Unknown fields are skipped.
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return protowire.ParseError(m)
		}
		if err := fn(num, typ, b[:m]); err != nil {
			return err
		}
		b = b[m:]
	}
	return nil
}

func wantType(num protowire.Number, got, want protowire.Type) error {
	if got != want {
		return fmt.Errorf("field %d has wire type %d, want %d", num, got, want)
	}
	return nil
}

func parseEvent(b []byte) (Event, error) {
	var e Event
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch num {
		case eventWallTime:
			if err := wantType(num, typ, protowire.Fixed64Type); err != nil {
				return err
			}
			x, _ := protowire.ConsumeFixed64(v)
			e.WallTime = math.Float64frombits(x)
		case eventStep:
			if err := wantType(num, typ, protowire.VarintType); err != nil {
				return err
			}
			x, _ := protowire.ConsumeVarint(v)
			e.Step = int64(x)
		case eventFileVersion:
			if err := wantType(num, typ, protowire.BytesType); err != nil {
				return err
			}
			e.FileVersion, _ = protowire.ConsumeString(v)
		case eventSummary:
			if err := wantType(num, typ, protowire.BytesType); err != nil {
				return err
			}
			sum, _ := protowire.ConsumeBytes(v)
			return fields(sum, func(num protowire.Number, typ protowire.Type, v []byte) error {
				if num != summaryValue {
					return nil
				}
				if err := wantType(num, typ, protowire.BytesType); err != nil {
					return err
				}
				val, _ := protowire.ConsumeBytes(v)
				s, ok, err := parseValue(val)
				if ok {
					e.Scalars = append(e.Scalars, s)
				}
				return err
			})
		}
		return nil
	})
	if err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return e, nil
}

// parseValue returns the value's scalar; ok is false for non-scalar values.
func parseValue(b []byte) (s Scalar, ok bool, err error) {
	err = fields(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		switch num {
		case valueTag:
			if err := wantType(num, typ, protowire.BytesType); err != nil {
				return err
			}
			s.Tag, _ = protowire.ConsumeString(v)
		case valueSimple:
			if err := wantType(num, typ, protowire.Fixed32Type); err != nil {
				return err
			}
			x, _ := protowire.ConsumeFixed32(v)
			s.Value, ok = math.Float32frombits(x), true
		}
		return nil
	})
	return s, ok, err
}
