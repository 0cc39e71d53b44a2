package backbone

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// NeedsFile reports whether the backbone is bring-your-own and not yet bound
// to a file: experiments must give backbone.file.
func (s Spec) NeedsFile() bool { return s.Source.Package == "" && len(s.Source.Files) == 0 }

// WithFile binds a bring-your-own backbone to the user's file at path. The
// file's sha256, not its path, becomes the backbone's identity (trial hashes,
// feature caches, converted models), and Cuts keeps only the outputs the file
// has (an include_top=False file has no classifier).
func (s Spec) WithFile(path string) (Spec, error) {
	if s.Source.Package != "" {
		return s, fmt.Errorf("%s comes from the npm package %s; backbone.file is for bring-your-own backbones (dogrun backbones lists them)",
			s.Name, s.Source.Package)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return s, err
	}
	c, err := inspectFile(s, abs)
	if err != nil {
		return s, err
	}
	var cuts []Cut
	var lacking []string
	for _, cut := range s.Cuts {
		if c.outputs == nil || slices.Contains(c.outputs, cut.Output) {
			cuts = append(cuts, cut)
		} else {
			lacking = append(lacking, cut.Name)
		}
	}
	s.Cuts = cuts
	s.lacking = lacking
	s.Source.Files = []File{{Path: abs, SHA256: c.sha256}}
	return s, nil
}

// LackingCut explains why a bound backbone has no cut that its registry entry
// has: the user's file lacks the layers ("" when that is not the reason).
func (s Spec) LackingCut(name string) string {
	if !slices.Contains(s.lacking, name) {
		return ""
	}
	return fmt.Sprintf("cut %s needs layers that %s lacks (a file without the top?): give backbone.file the %s",
		name, filepath.Base(s.Source.Files[0].Path), s.Source.Own)
}

// checked is what inspecting a user file found, kept per path, size and
// modification time so that a sweep of many trials reads a large file once.
type checked struct {
	sha256  string
	outputs []string
	err     error
}

var userFiles = struct {
	sync.Mutex
	m map[string]checked
}{m: map[string]checked{}}

func inspectFile(s Spec, abs string) (checked, error) {
	st, err := os.Stat(abs)
	if errors.Is(err, os.ErrNotExist) {
		return checked{}, fmt.Errorf("%s does not exist", abs)
	}
	if err != nil {
		return checked{}, err
	}
	if st.IsDir() {
		return checked{}, fmt.Errorf("%s is a folder, not a %s file", abs, s.Format)
	}
	key := fmt.Sprintf("%s\x00%s\x00%d\x00%s", s.Name, abs, st.Size(), st.ModTime().Format(time.RFC3339Nano))
	userFiles.Lock()
	c, ok := userFiles.m[key]
	userFiles.Unlock()
	if ok {
		return c, c.err
	}
	c.sha256, c.err = fileSHA256(abs)
	if c.err == nil && s.CheckFile != nil {
		c.outputs, c.err = s.CheckFile(abs)
		if c.outputs == nil && c.err == nil {
			c.outputs = []string{}
		}
	}
	userFiles.Lock()
	userFiles.m[key] = c
	userFiles.Unlock()
	return c, c.err
}

// fetchUser returns a bound bring-your-own source's files after checking that
// each still has the sha256 it had when the experiment was planned.
func fetchUser(src Source) ([]string, error) {
	if len(src.Files) == 0 {
		return nil, fmt.Errorf("bring your own %s: no file given (set backbone.file)", src.Own)
	}
	paths := make([]string, len(src.Files))
	for i, f := range src.Files {
		got, err := fileSHA256(f.Path)
		if err != nil {
			return nil, err
		}
		if got != f.SHA256 {
			return nil, fmt.Errorf("%s changed since the experiment was planned (sha256 %s, was %s)", f.Path, got[:16], f.SHA256[:16])
		}
		paths[i] = f.Path
	}
	return paths, nil
}

// FileHint says which file a bring-your-own backbone wants.
func (s Spec) FileHint() string {
	return fmt.Sprintf("%s is bring-your-own: set backbone.file to your %s", s.Name, s.Source.Own)
}
