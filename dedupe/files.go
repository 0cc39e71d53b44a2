package dedupe

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/dogrun/dogrun/dataset"
)

// WriteCSV writes res as CSV: one row per photo of a near-duplicate group
// (keep is true for the first, the one Move leaves) and one per photo of a
// pair filed under two dogs.
func WriteCSV(w io.Writer, d *dataset.Dataset, res *Result) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"kind", "group", "class", "photo", "keep"})
	for n, g := range res.Multi() {
		for k, i := range g {
			p := d.Photos[i]
			cw.Write([]string{"near-duplicate", strconv.Itoa(n + 1), d.Classes[p.Class], p.Rel, strconv.FormatBool(k == 0)})
		}
	}
	for n, m := range res.CrossClass {
		for _, i := range []int{m.A, m.B} {
			p := d.Photos[i]
			cw.Write([]string{"cross-class", strconv.Itoa(n + 1), d.Classes[p.Class], p.Rel, "true"})
		}
	}
	cw.Flush()
	return cw.Error()
}

// Move moves every photo but the first of each group to dst/<class>/<name>,
// never overwriting anything, and returns how many it moved.
func Move(d *dataset.Dataset, groups [][]int, dst string) (int, error) {
	moved := 0
	for _, g := range groups {
		for _, i := range g[1:] {
			p := d.Photos[i]
			to := filepath.Join(dst, filepath.FromSlash(p.Rel))
			if _, err := os.Lstat(to); err == nil {
				return moved, fmt.Errorf("not moving %s: %s exists", p.Path, to)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return moved, err
			}
			if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
				return moved, err
			}
			if err := os.Rename(p.Path, to); err != nil {
				return moved, err
			}
			moved++
		}
	}
	return moved, nil
}
