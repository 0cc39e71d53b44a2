// Package workspace decides where dogrun keeps a project's results and its
// cache of models and features, so that the binary, the Makefile and the
// tests agree on one place wherever a command is started.
//
// A project is the nearest folder, from the working directory up, that holds
// runs/dogrun.db or .cache/dogrun/ (as git finds .git). When none does, the
// working directory is the project, and the first command that writes creates
// them there. DOGRUN_RUNS and DOGRUN_CACHE override each folder.
package workspace

import (
	"errors"
	"os"
	"path/filepath"
)

// Markers: what dogrun writes into a project. runs/ alone is not one, since
// TensorBoard and other tools write folders of that name too.
var (
	dbMarker    = filepath.Join("runs", "dogrun.db")
	cacheMarker = filepath.Join(".cache", "dogrun")
)

// Root returns the project folder (absolute) for the working directory and
// whether a marker found it; when none did, it is the working directory.
func Root() (dir string, found bool, err error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", false, err
	}
	return rootFrom(wd)
}

func rootFrom(start string) (string, bool, error) {
	for dir := start; ; {
		for _, m := range []string{dbMarker, cacheMarker} {
			if _, err := os.Stat(filepath.Join(dir, m)); err == nil {
				return dir, true, nil
			} else if !errors.Is(err, os.ErrNotExist) {
				return "", false, err
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return start, false, nil
		}
		dir = parent
	}
}

// RunsDir is where results go: $DOGRUN_RUNS, else the project's runs/.
func RunsDir() (string, error) {
	return dirOr("DOGRUN_RUNS", "runs")
}

// CacheDir is where fetched models and cached features go: $DOGRUN_CACHE,
// else the project's .cache/dogrun/.
func CacheDir() (string, error) {
	return dirOr("DOGRUN_CACHE", cacheMarker)
}

func dirOr(env, rel string) (string, error) {
	if d := os.Getenv(env); d != "" {
		return filepath.Abs(d)
	}
	root, _, err := Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, rel), nil
}
