package backbone

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
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

// Cache is an append-only file of (key, features) records for one backbone and
// preprocessing. Appends take an exclusive flock and truncate a torn tail first, so
// several processes may share it and a crash loses at most the record being written.
type Cache struct {
	Path string
	dim  int

	mu    sync.Mutex
	size  int64 // bytes of the file already read into index
	index map[Key][]float32
}

// OpenCache opens (creating) the cache of spec's features at cut under dir.
func OpenCache(dir string, spec Spec, cut Cut) (*Cache, error) {
	id := sha256.Sum256([]byte(spec.SHA256() + "\x00" + spec.PreprocessKey(cut)))
	path := filepath.Join(dir, "features", spec.Name+"-"+cut.Name+"-"+hex.EncodeToString(id[:8])+".bin")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	c := &Cache{Path: path, dim: cut.Dim, index: map[Key][]float32{}}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return nil, err
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		var h [cacheHeader]byte
		copy(h[:], cacheMagic)
		binary.LittleEndian.PutUint32(h[8:], uint32(cut.Dim))
		if _, err := f.Write(h[:]); err != nil {
			return nil, err
		}
	}
	if err := c.readHeader(f); err != nil {
		return nil, err
	}
	if err := c.readNew(f); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cache) recordLen() int64 { return 32 + 4*int64(c.dim) }

func (c *Cache) readHeader(f *os.File) error {
	var h [cacheHeader]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return fmt.Errorf("feature cache %s: %w", c.Path, err)
	}
	if string(h[:8]) != cacheMagic {
		return fmt.Errorf("feature cache %s: not a dogrun feature file", c.Path)
	}
	if d := int(binary.LittleEndian.Uint32(h[8:])); d != c.dim {
		return fmt.Errorf("feature cache %s: holds %d-d features, want %d", c.Path, d, c.dim)
	}
	c.size = cacheHeader
	return nil
}

// readNew indexes the whole records appended since the last read.
func (c *Cache) readNew(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	n := (st.Size() - c.size) / c.recordLen()
	if n <= 0 {
		return nil
	}
	buf := make([]byte, n*c.recordLen())
	if _, err := f.ReadAt(buf, c.size); err != nil && err != io.EOF {
		return fmt.Errorf("feature cache %s: %w", c.Path, err)
	}
	feats := make([]float32, int(n)*c.dim)
	for i := int64(0); i < n; i++ {
		rec := buf[i*c.recordLen():]
		var k Key
		copy(k[:], rec[:32])
		v := feats[int(i)*c.dim : int(i+1)*c.dim : int(i+1)*c.dim]
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(rec[32+4*j:]))
		}
		c.index[k] = v
	}
	c.size += n * c.recordLen()
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

// Put appends feats (len(keys)*dim floats) and makes them visible to Get.
func (c *Cache) Put(keys []Key, feats []float32) error {
	if len(feats) != len(keys)*c.dim {
		return fmt.Errorf("feature cache: %d floats for %d keys of dim %d", len(feats), len(keys), c.dim)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := os.OpenFile(c.Path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if err := c.readNew(f); err != nil {
		return err
	}
	// A crashed writer may have left part of a record after the last whole one.
	if err := f.Truncate(c.size); err != nil {
		return err
	}
	buf := make([]byte, int64(len(keys))*c.recordLen())
	for i, k := range keys {
		rec := buf[int64(i)*c.recordLen():]
		copy(rec, k[:])
		for j, v := range feats[i*c.dim : (i+1)*c.dim] {
			binary.LittleEndian.PutUint32(rec[32+4*j:], math.Float32bits(v))
		}
	}
	if _, err := f.WriteAt(buf, c.size); err != nil {
		return fmt.Errorf("feature cache %s: %w", c.Path, err)
	}
	own := append([]float32(nil), feats...)
	for i, k := range keys {
		c.index[k] = own[i*c.dim : (i+1)*c.dim : (i+1)*c.dim]
	}
	c.size += int64(len(buf))
	return nil
}
