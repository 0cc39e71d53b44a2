package gradcam

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dogrun/dogrun/dataset"
)

// RenderVersion changes whenever Explain or Overlay would draw a stored tile
// differently, so that reports redraw their tiles (TestRenderVersion pins
// the drawing to it).
const RenderVersion = 2

// TileKey is everything a tile's picture depends on besides RenderVersion.
type TileKey struct {
	Trial    string // the trial's hash
	Finished string // when the trial finished: a retrained trial has another checkpoint
	Backbone string // the backbone's sha256
	Photo    string // the photo's content sha256
	Class    int    // the explained class
}

func (k TileKey) name() string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\n%s\n%s\n%s\n%d\n%d", k.Trial, k.Finished, k.Backbone, k.Photo, k.Class, RenderVersion))
	return hex.EncodeToString(sum[:10])
}

// Tile is a stored explanation: the overlay and what it shows.
type Tile struct {
	PNG    []byte  `json:"-"`
	Class  int     `json:"class"`
	Pred   int     `json:"pred"`
	Prob   float64 `json:"prob"`       // the predicted class's probability
	Method string  `json:"method"`     // MethodGradCAM or MethodOcclusion
	Empty  bool    `json:"empty"`      // no evidence for the class by either method
	Map    string  `json:"map"`        // the Grad-CAM feature map
	Side   [2]int  `json:"map_size"`   // W, H of the map shown
	Photo  string  `json:"photo"`      // for a person reading the folder
	Trial  string  `json:"trial_hash"` // likewise
}

// DrawTile explains class on the photo at path (photo is its name in the
// dataset, trial the trial's hash, both kept for a person reading the folder).
func (e *Explainer) DrawTile(path, photo, trial string, class int) (Tile, error) {
	img, err := dataset.Decode(path)
	if err != nil {
		return Tile{}, err
	}
	r, err := e.Explain(img, class)
	if err != nil {
		return Tile{}, err
	}
	png, err := OverlayPNG(img, r)
	if err != nil {
		return Tile{}, err
	}
	return Tile{PNG: png, Class: r.Class, Pred: r.Pred, Prob: float64(r.Probs[r.Pred]), Method: r.Method, Empty: r.Empty(),
		Map: e.Map, Side: [2]int{r.W, r.H}, Photo: photo, Trial: trial}, nil
}

// TileStore keeps drawn tiles by key: Tiles in a folder (the report's), or
// memory (the dashboard's, which writes nothing).
type TileStore interface {
	Get(TileKey) (Tile, bool)
	Put(TileKey, Tile) error
}

// Tiles keeps tiles in a folder as <key>.png with <key>.json beside it, so
// that a report drawn again reuses the tiles whose inputs did not change.
type Tiles struct {
	Dir  string
	used map[string]bool
}

// Path is where the tile of k is, relative to the folder holding Dir.
func (s *Tiles) Path(k TileKey) string { return filepath.Base(s.Dir) + "/" + k.name() + ".png" }

// Get returns the stored tile of k; ok is false when there is none or it
// does not read back whole.
func (s *Tiles) Get(k TileKey) (t Tile, ok bool) {
	base := filepath.Join(s.Dir, k.name())
	js, err := os.ReadFile(base + ".json")
	if err != nil || json.Unmarshal(js, &t) != nil {
		return Tile{}, false
	}
	if t.PNG, err = os.ReadFile(base + ".png"); err != nil || len(t.PNG) == 0 {
		return Tile{}, false
	}
	s.use(k)
	return t, true
}

// Put stores t as the tile of k, the picture before its description so that
// an interrupted Put leaves no description of a missing picture.
func (s *Tiles) Put(k TileKey, t Tile) error {
	js, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(s.Dir, k.name())
	if err := os.WriteFile(base+".png", t.PNG, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return err
	}
	s.use(k)
	return nil
}

func (s *Tiles) use(k TileKey) {
	if s.used == nil {
		s.used = map[string]bool{}
	}
	s.used[k.name()] = true
}

// Prune removes the tiles neither got nor put since s was made: those of
// photos, trials or drawings no longer shown.
func (s *Tiles) Prune() error {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		name, ext, _ := strings.Cut(e.Name(), ".")
		if (ext == "png" || ext == "json") && len(name) == 20 && !s.used[name] {
			errs = append(errs, os.Remove(filepath.Join(s.Dir, e.Name())))
		}
	}
	return errors.Join(errs...)
}
