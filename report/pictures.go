package report

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// picturesIndex, in a report's folder, records what each chart there was
// drawn from.
const picturesIndex = ".pictures.json"

// pictures draws a report folder's charts, reusing each file drawn before
// from the same inputs by the same build of dogrun: drawing and encoding the
// PNGs is most of a report's work, and a rerun mostly draws the same ones.
type pictures struct {
	dir   string
	build string // buildID(); "" draws everything anew
	old   map[string]pictureEntry
	mu    sync.Mutex
	now   map[string]pictureEntry // by path relative to dir
}

type pictureEntry struct {
	Key    string `json:"key"`    // of the build and the inputs
	SHA256 string `json:"sha256"` // of the file, to notice one changed or cut short
}

func openPictures(dir string) *pictures {
	p := &pictures{dir: dir, build: buildID(), now: map[string]pictureEntry{}}
	if b, err := os.ReadFile(filepath.Join(dir, picturesIndex)); err == nil {
		json.Unmarshal(b, &p.old) // an unreadable index only costs a redraw
	}
	return p
}

// draw returns the picture at rel (relative to the report's folder) drawn by
// fn, whose output depends on nothing but inputs: the file already there when
// it was drawn from the same inputs by this build, else fn's, written there.
func (p *pictures) draw(rel string, inputs []any, fn func() ([]byte, error)) ([]byte, error) {
	key := p.key(inputs)
	path := filepath.Join(p.dir, filepath.FromSlash(rel))
	if e, ok := p.old[rel]; ok && key != "" && e.Key == key {
		if b, err := os.ReadFile(path); err == nil && sha(b) == e.SHA256 {
			p.record(rel, e)
			return b, nil
		}
	}
	b, err := fn()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return nil, err
	}
	p.record(rel, pictureEntry{Key: key, SHA256: sha(b)})
	return b, nil
}

// key is "" when the build is unknown: then nothing is reused.
func (p *pictures) key(inputs []any) string {
	if p.build == "" {
		return ""
	}
	h := sha256.New()
	io.WriteString(h, p.build)
	for _, in := range inputs {
		fmt.Fprintf(h, "\x00%#v", in) // %#v spells out values, sorts maps and keeps NaN
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (p *pictures) record(rel string, e pictureEntry) {
	p.mu.Lock()
	p.now[rel] = e
	p.mu.Unlock()
}

// save writes the index of the pictures drawn or reused this time.
func (p *pictures) save() error {
	b, err := json.MarshalIndent(p.now, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(p.dir, picturesIndex), append(b, '\n'), 0o644)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// buildID identifies the running program's code, as the Go build ID that
// the toolchain derives from every input of the build; elsewhere than ELF it
// is the executable's sha256. "" when neither can be read.
var buildID = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if f, err := elf.Open(exe); err == nil {
		defer f.Close()
		if s := f.Section(".note.go.buildid"); s != nil {
			if b, err := s.Data(); err == nil && bytes.Contains(b, []byte("Go\x00")) {
				return string(b)
			}
		}
	}
	f, err := os.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
})
