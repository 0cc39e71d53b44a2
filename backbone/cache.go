package backbone

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Key identifies one feature vector: a photo's content and the view rendered from it.
type Key [32]byte

// ViewKey is the cache key of view number view of a photo; view 0 is the photo itself
// and does not depend on the augmentation, so changing augmentation settings only
// recomputes the augmented views.
func ViewKey(photoSHA256, augmentKey string, view int) Key {
	h := sha256.New()
	h.Write([]byte(photoSHA256))
	if view > 0 {
		h.Write([]byte{0})
		h.Write([]byte(augmentKey))
		h.Write([]byte{0})
		h.Write([]byte(strconv.Itoa(view)))
	}
	var k Key
	h.Sum(k[:0])
	return k
}

const cacheMagic = "DOGFEAT1"
const cacheHeader = 16 // magic, uint32 dim, 4 reserved bytes

// segmentExt ends the name of a segment; anything else in the folder (a
// temporary file a killed writer left) is not read.
const segmentExt = ".feat"

// Cache holds the feature vectors of one backbone and preprocessing: a
// folder of segments, each a header and (key, features) records, named by
// the SHA-256 of its bytes. A segment is written to a temporary file and
// renamed into place, and never changed after: several processes, on one
// machine or on many sharing the folder over NFS, add segments without any
// lock, and a reader sees a segment whole or not at all. Two processes that
// compute the same vectors at once both store them; either is right.
//
// Caches written before segments were a single append-only file beside the
// folder (Path + ".bin"); it is read, never written, so its features stay.
type Cache struct {
	Path string // the folder of segments
	dim  int

	mu    sync.Mutex
	read  map[string]bool // segments indexed
	index map[Key][]float32
}

// OpenCache opens (creating) the cache of spec's features at cut under dir
// and reads every segment in it.
func OpenCache(dir string, spec Spec, cut Cut) (*Cache, error) {
	id := sha256.Sum256([]byte(spec.SHA256() + "\x00" + spec.PreprocessKey(cut)))
	path := filepath.Join(dir, "features", spec.Name+"-"+cut.Name+"-"+hex.EncodeToString(id[:8]))
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, err
	}
	c := &Cache{Path: path, dim: cut.Dim, read: map[string]bool{}, index: map[Key][]float32{}}
	switch b, err := os.ReadFile(path + ".bin"); {
	case err == nil:
		// A writer of the old format may have been killed mid-record: whole records only.
		if len(b) > cacheHeader {
			b = b[:int64(len(b))-int64(len(b)-cacheHeader)%c.recordLen()]
		}
		if err := c.indexSegment(path+".bin", b); err != nil {
			return nil, err
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	if err := c.Refresh(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cache) recordLen() int64 { return 32 + 4*int64(c.dim) }

// Refresh reads the segments other processes added since the last look.
func (c *Cache) Refresh() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refresh()
}

func (c *Cache) refresh() error {
	entries, err := os.ReadDir(c.Path)
	if err != nil {
		return fmt.Errorf("feature cache %s: %w", c.Path, err)
	}
	for _, e := range entries { // by name: every process reads them in one order
		name := e.Name()
		if !strings.HasSuffix(name, segmentExt) || c.read[name] {
			continue
		}
		p := filepath.Join(c.Path, name)
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("feature cache: %w", err)
		}
		if err := c.indexSegment(p, b); err != nil {
			return err
		}
		c.read[name] = true
	}
	return nil
}

// indexSegment indexes the records of segment b, read from path.
func (c *Cache) indexSegment(path string, b []byte) error {
	if len(b) < cacheHeader || string(b[:8]) != cacheMagic {
		return fmt.Errorf("feature cache %s: not a dogrun feature file", path)
	}
	if d := int(binary.LittleEndian.Uint32(b[8:])); d != c.dim {
		return fmt.Errorf("feature cache %s: holds %d-d features, want %d", path, d, c.dim)
	}
	b = b[cacheHeader:]
	if int64(len(b))%c.recordLen() != 0 {
		return fmt.Errorf("feature cache %s is damaged (not whole records); delete it and its features are computed again", path)
	}
	n := int64(len(b)) / c.recordLen()
	feats := make([]float32, int(n)*c.dim)
	for i := range n {
		rec := b[i*c.recordLen():]
		var k Key
		copy(k[:], rec[:32])
		v := feats[int(i)*c.dim : int(i+1)*c.dim : int(i+1)*c.dim]
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(rec[32+4*j:]))
		}
		c.index[k] = v
	}
	return nil
}

// Get returns the cached features of k; the slice must not be modified.
func (c *Cache) Get(k Key) ([]float32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.index[k]
	return v, ok
}

// Len is the number of cached vectors.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.index)
}

// Put stores feats (len(keys)*dim floats) as a new segment and makes them
// visible to Get; they are on disk when it returns.
func (c *Cache) Put(keys []Key, feats []float32) error {
	if len(feats) != len(keys)*c.dim {
		return fmt.Errorf("feature cache: %d floats for %d keys of dim %d", len(feats), len(keys), c.dim)
	}
	if len(keys) == 0 {
		return nil
	}
	b := make([]byte, cacheHeader, cacheHeader+int64(len(keys))*c.recordLen())
	copy(b, cacheMagic)
	binary.LittleEndian.PutUint32(b[8:], uint32(c.dim))
	for i, k := range keys {
		b = append(b, k[:]...)
		for _, v := range feats[i*c.dim : (i+1)*c.dim] {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	sum := sha256.Sum256(b)
	name := hex.EncodeToString(sum[:]) + segmentExt
	if err := writeSegment(filepath.Join(c.Path, name), b); err != nil {
		return fmt.Errorf("feature cache %s: %w", c.Path, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	own := slices.Clone(feats)
	for i, k := range keys {
		c.index[k] = own[i*c.dim : (i+1)*c.dim : (i+1)*c.dim]
	}
	c.read[name] = true
	return nil
}

// writeSegment writes b to a temporary file, flushes it to disk and renames
// it to path: on a local disk and over NFS a rename is atomic, so path holds
// all of b or is not there.
func writeSegment(path string, b []byte) error {
	var suffix [8]byte
	rand.Read(suffix[:])
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+hex.EncodeToString(suffix[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
