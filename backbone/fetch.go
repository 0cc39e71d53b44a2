package backbone

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dogrun/dogrun/internal/english"
)

// Fetch returns the local paths of src's files under cacheDir, in src.Files
// order, downloading the package's tarball from the npm registry when any is
// missing. The download reports its progress (see WithProgress) and must match
// the registry's sha512 integrity, and every file its pinned sha256, on
// download and on every reuse, so a corrupted or swapped file is never run.
func Fetch(ctx context.Context, cacheDir string, src Source) ([]string, error) {
	if src.Package == "" {
		return fetchUser(src)
	}
	paths := make([]string, len(src.Files))
	want := map[string]File{}
	for i, f := range src.Files {
		paths[i] = fetchedPath(cacheDir, src, f)
		got, err := fileSHA256(paths[i])
		switch {
		case err == nil && got == f.SHA256:
			continue
		case err == nil:
			return nil, fmt.Errorf("%s: sha256 %s, want %s (delete the file to fetch it again)", paths[i], got, f.SHA256)
		case !errors.Is(err, os.ErrNotExist):
			return nil, err
		}
		want["package/"+f.Path] = f
	}
	if len(want) == 0 {
		return paths, nil
	}
	dist, err := resolve(ctx, npmRegistry(), src)
	if err != nil {
		return nil, err
	}
	if err := download(ctx, cacheDir, src, dist, want); err != nil {
		return nil, fmt.Errorf("%s@%s: %w", src.Package, src.Version, err)
	}
	return paths, nil
}

// Prepare fetches ONNX Runtime and the npm packages of specs before work
// starts, so that downloads show up front rather than in the middle of a run.
// Conversions to ONNX happen when a model is first opened, and say so.
func Prepare(ctx context.Context, cacheDir string, specs []Spec) error {
	if _, err := Fetch(ctx, cacheDir, ONNXRuntime.Source); err != nil {
		return fmt.Errorf("onnx runtime: %w", err)
	}
	done := map[string]bool{}
	for _, s := range specs {
		if s.Source.Package == "" || done[s.Source.String()] {
			continue // a file of the user's own is checked where it is used
		}
		done[s.Source.String()] = true
		if _, err := Fetch(ctx, cacheDir, s.Source); err != nil {
			return fmt.Errorf("backbone %s: %w", s.Name, err)
		}
	}
	return nil
}

// stallAfter ends a download that received nothing for that long.
const stallAfter = time.Minute

// download streams the tarball at dist into a temporary folder of cacheDir,
// extracting the wanted members as they pass, and moves them into the cache
// only once the whole tarball matched its integrity and every member its
// sha256.
func download(ctx context.Context, cacheDir string, src Source, dist npmDist, want map[string]File) error {
	w := progressOf(ctx)
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(cacheDir, ".fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(stallAfter, func() { cancel(fmt.Errorf("no data from %s for %s", dist.Tarball, stallAfter)) })
	defer stall.Stop()
	body, size, err := get(ctx, dist.Tarball, "")
	if err != nil {
		return err
	}
	defer body.Close()
	fmt.Fprintf(w, "fetching %s@%s (%s): %s from %s\n", src.Package, src.Version, usersOf(src), sizeOrUnknown(size), dist.Tarball)
	m := newMeter(w, size)
	m.onWrite = func() { stall.Reset(stallAfter) }
	sum := sha512.New()
	tarball := io.TeeReader(body, io.MultiWriter(sum, m))
	extracted, err := extract(tarball, tmp, want)
	if err == nil {
		_, err = io.Copy(io.Discard, tarball) // the rest, for the integrity
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
		return err
	}
	m.finish()
	if got := base64.StdEncoding.EncodeToString(sum.Sum(nil)); got != dist.sha512 {
		return fmt.Errorf("%s: sha512 %s, want the registry's integrity %s; nothing was kept", dist.Tarball, got, dist.sha512)
	}
	for _, f := range extracted {
		dst := filepath.Join(cacheDir, "npm", src.Package+"@"+src.Version, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(tmp, filepath.FromSlash(f.Path)), dst); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "  checked: the tarball's sha512 (npm integrity) and the sha256 of %s\n", english.Count(len(extracted), "file"))
	return nil
}

func sizeOrUnknown(n int64) string {
	if n <= 0 {
		return "size unknown"
	}
	return megabytes(n)
}

// usersOf names what a package is fetched for: ONNX Runtime, or the
// backbones whose weights it holds.
func usersOf(src Source) string {
	if src.Package == ONNXRuntime.Source.Package {
		return "ONNX Runtime"
	}
	var names []string
	for _, s := range All() {
		if s.Source.Package == src.Package && s.Source.Version == src.Version {
			names = append(names, s.Name)
		}
	}
	return "backbone " + strings.Join(names, ", ")
}

// extract writes the wanted members of a .tgz stream under dir, each checked
// against its sha256, and returns them.
func extract(tgz io.Reader, dir string, want map[string]File) ([]File, error) {
	gz, err := gzip.NewReader(tgz)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	left := maps.Clone(want)
	var got []File
	for len(left) > 0 {
		h, err := tr.Next()
		if err == io.EOF {
			for member := range left {
				return nil, fmt.Errorf("%s not in the package", strings.TrimPrefix(member, "package/"))
			}
		}
		if err != nil {
			return nil, err
		}
		file, ok := left[h.Name]
		if !ok {
			continue
		}
		if err := writeChecked(tr, filepath.Join(dir, filepath.FromSlash(file.Path)), file.SHA256); err != nil {
			return nil, fmt.Errorf("%s: %w", file.Path, err)
		}
		delete(left, h.Name)
		got = append(got, file)
	}
	return got, nil
}

// writeChecked writes r to dst through a temporary file, renaming it into place
// only when its sha256 is the expected one.
func writeChecked(r io.Reader, dst, sha string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.CreateTemp(filepath.Dir(dst), ".part-")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	hash := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, hash), r); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if got := hex.EncodeToString(hash.Sum(nil)); got != sha {
		return fmt.Errorf("sha256 %s, want %s", got, sha)
	}
	return os.Rename(out.Name(), dst)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
