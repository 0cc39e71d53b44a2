// Package hdf5 reads the part of HDF5 that h5py writes by default, which is
// what every Keras .h5 weights file is: superblock 0 or 1, version 1 object
// headers, symbol-table groups (v1 B-trees of any depth, local heaps),
// attributes of fixed- or variable-length strings and numbers, and float
// datasets stored compact, contiguous or chunked (deflate, shuffle,
// fletcher32).
//
// It exists because the maintained pure-Go reader (github.com/scigolib/hdf5
// v0.14) cannot read a group whose B-tree has more than one level, which a
// file with a few hundred layers (keras-vggface's SENet50) has. Files written
// with h5py's libver="latest" (superblock 2 or 3, version 2 object headers)
// are refused with an error saying so.
package hdf5

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

var signature = []byte("\x89HDF\r\n\x1a\n")

// undefined is HDF5's "no address".
const undefined = ^uint64(0)

// File is an HDF5 file open for reading.
type File struct {
	r        io.ReaderAt
	closer   io.Closer
	base     uint64 // addresses are relative to it
	offsets  int    // size of an address in bytes
	lengths  int    // size of a length in bytes
	root     uint64 // object header address of "/"
	children map[uint64]map[string]uint64
}

// Open opens the file at path.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	f, err := NewReader(fh)
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.closer = fh
	return f, nil
}

// NewReader reads an HDF5 file from r.
func NewReader(r io.ReaderAt) (*File, error) {
	f := &File{r: r, children: map[uint64]map[string]uint64{}}
	// The superblock is at 0 or after a user block of 512, 1024, 2048, ... bytes.
	var at int64
	head := make([]byte, 9)
	for at = 0; ; at = max(512, 2*at) {
		if _, err := r.ReadAt(head, at); err != nil {
			return nil, errors.New("not an HDF5 file")
		}
		if bytes.Equal(head[:8], signature) {
			break
		}
		if at > 1<<30 {
			return nil, errors.New("not an HDF5 file")
		}
	}
	switch v := head[8]; v {
	case 0, 1:
	default:
		return nil, fmt.Errorf("superblock version %d (written with h5py libver=\"latest\"?) is not supported: "+
			"save the file again with h5py's default libver", v)
	}
	sb := make([]byte, 256)
	n, err := r.ReadAt(sb, at)
	if n < 24 {
		return nil, fmt.Errorf("superblock: %w", err)
	}
	sb = sb[:n]
	f.offsets, f.lengths = int(sb[13]), int(sb[14])
	if f.offsets != 8 && f.offsets != 4 || f.lengths != 8 && f.lengths != 4 {
		return nil, fmt.Errorf("unsupported address size %d / length size %d", f.offsets, f.lengths)
	}
	p := 24
	if head[8] == 1 {
		p += 4 // indexed storage K and reserved
	}
	d := decoder{b: sb, p: p, f: f}
	f.base = d.addr()
	d.addr() // free-space info
	d.addr() // end of file
	d.addr() // driver info
	// Root group symbol table entry: link name offset, object header address.
	d.addr()
	f.root = d.addr()
	if d.err != nil {
		return nil, fmt.Errorf("superblock: %w", d.err)
	}
	return f, nil
}

// Close closes the file.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

func (f *File) read(addr uint64, n int) ([]byte, error) {
	if addr == undefined {
		return nil, errors.New("read at undefined address")
	}
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, int64(f.base+addr)); err != nil {
		return nil, fmt.Errorf("read %d bytes at %d: %w", n, addr, err)
	}
	return b, nil
}

// decoder reads little-endian fields from b, remembering the first error.
type decoder struct {
	b   []byte
	p   int
	f   *File
	err error
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return make([]byte, n)
	}
	if n < 0 || d.p+n > len(d.b) {
		d.err = errors.New("truncated structure")
		return make([]byte, max(n, 0))
	}
	out := d.b[d.p : d.p+n]
	d.p += n
	return out
}

func (d *decoder) uint(n int) uint64 {
	b := d.bytes(n)
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func (d *decoder) u8() int  { return int(d.uint(1)) }
func (d *decoder) u16() int { return int(d.uint(2)) }
func (d *decoder) u32() int { return int(d.uint(4)) }

func (d *decoder) addr() uint64 {
	v := d.uint(d.f.offsets)
	if d.f.offsets == 4 && v == 0xffffffff {
		return undefined
	}
	return v
}

func (d *decoder) length() uint64 { return d.uint(d.f.lengths) }

func (d *decoder) align(to int) { d.p = (d.p + to - 1) / to * to }

// message is one object header message.
type message struct {
	typ  int
	body []byte
}

const (
	msgDataspace    = 0x01
	msgDatatype     = 0x03
	msgLayout       = 0x08
	msgFilters      = 0x0b
	msgAttribute    = 0x0c
	msgContinuation = 0x10
	msgSymbolTable  = 0x11
)

// header reads a version 1 object header, following continuation blocks.
func (f *File) header(addr uint64) ([]message, error) {
	pre, err := f.read(addr, 16)
	if err != nil {
		return nil, err
	}
	if string(pre[:4]) == "OHDR" {
		return nil, errors.New("version 2 object header (h5py libver=\"latest\"?) is not supported")
	}
	if pre[0] != 1 {
		return nil, fmt.Errorf("object header version %d at %d is not supported", pre[0], addr)
	}
	count := int(binary.LittleEndian.Uint16(pre[2:]))
	size := int(binary.LittleEndian.Uint32(pre[8:]))
	type block struct {
		addr uint64
		size int
	}
	blocks := []block{{addr + 16, size}}
	var msgs []message
	for len(blocks) > 0 && len(msgs) < count {
		blk := blocks[0]
		blocks = blocks[1:]
		b, err := f.read(blk.addr, blk.size)
		if err != nil {
			return nil, err
		}
		d := decoder{b: b, f: f}
		for d.p+8 <= len(b) && len(msgs) < count {
			typ, n, flags := d.u16(), d.u16(), d.u8()
			d.bytes(3)
			body := d.bytes(n)
			if d.err != nil {
				return nil, fmt.Errorf("object header at %d: %w", addr, d.err)
			}
			if flags&0x02 != 0 && typ != msgContinuation {
				return nil, fmt.Errorf("object header at %d: shared message type %d is not supported", addr, typ)
			}
			msgs = append(msgs, message{typ, body})
			if typ == msgContinuation {
				c := decoder{b: body, f: f}
				a, l := c.addr(), c.length()
				if c.err != nil {
					return nil, c.err
				}
				blocks = append(blocks, block{a, int(l)})
			}
		}
	}
	return msgs, nil
}

func find(msgs []message, typ int) []byte {
	for _, m := range msgs {
		if m.typ == typ {
			return m.body
		}
	}
	return nil
}

// Object is a group or a dataset.
type Object struct {
	f    *File
	Path string
	addr uint64
	msgs []message
}

// Get returns the object at an absolute or root-relative path ("a/b").
func (f *File) Get(path string) (*Object, error) {
	addr := f.root
	var walked []string
	for _, name := range strings.Split(strings.Trim(path, "/"), "/") {
		if name == "" {
			continue
		}
		kids, err := f.childrenOf(addr)
		if err != nil {
			return nil, fmt.Errorf("/%s: %w", strings.Join(walked, "/"), err)
		}
		walked = append(walked, name)
		a, ok := kids[name]
		if !ok {
			return nil, fmt.Errorf("/%s: %w", strings.Join(walked, "/"), os.ErrNotExist)
		}
		addr = a
	}
	msgs, err := f.header(addr)
	if err != nil {
		return nil, fmt.Errorf("/%s: %w", strings.Join(walked, "/"), err)
	}
	return &Object{f: f, Path: "/" + strings.Join(walked, "/"), addr: addr, msgs: msgs}, nil
}

// IsGroup reports whether the object is a group.
func (o *Object) IsGroup() bool { return find(o.msgs, msgSymbolTable) != nil }

// Children lists a group's members by name.
func (o *Object) Children() ([]string, error) {
	kids, err := o.f.childrenOf(o.addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Path, err)
	}
	names := make([]string, 0, len(kids))
	for n := range kids {
		names = append(names, n)
	}
	return names, nil
}

// childrenOf reads (once) the symbol table of the group whose header is at addr.
func (f *File) childrenOf(addr uint64) (map[string]uint64, error) {
	if kids, ok := f.children[addr]; ok {
		return kids, nil
	}
	msgs, err := f.header(addr)
	if err != nil {
		return nil, err
	}
	st := find(msgs, msgSymbolTable)
	if st == nil {
		return nil, errors.New("not a group")
	}
	d := decoder{b: st, f: f}
	btree, heapAddr := d.addr(), d.addr()
	if d.err != nil {
		return nil, d.err
	}
	heap, err := f.localHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	kids := map[string]uint64{}
	err = f.walkBTree(btree, 0, f.lengths, func(child uint64, _ []byte) error {
		return f.symbolNode(child, heap, kids)
	})
	if err != nil {
		return nil, err
	}
	f.children[addr] = kids
	return kids, nil
}

// localHeap returns a local heap's data segment.
func (f *File) localHeap(addr uint64) ([]byte, error) {
	b, err := f.read(addr, 8+2*f.lengths+f.offsets)
	if err != nil {
		return nil, err
	}
	if string(b[:4]) != "HEAP" {
		return nil, fmt.Errorf("no local heap at %d", addr)
	}
	d := decoder{b: b, p: 8, f: f}
	size := d.length()
	d.length() // free list
	data := d.addr()
	return f.read(data, int(size))
}

// symbolNode adds the entries of the symbol table node at addr to kids.
func (f *File) symbolNode(addr uint64, heap []byte, kids map[string]uint64) error {
	b, err := f.read(addr, 8)
	if err != nil {
		return err
	}
	if string(b[:4]) != "SNOD" {
		return fmt.Errorf("no symbol table node at %d", addr)
	}
	n := int(binary.LittleEndian.Uint16(b[6:]))
	entry := 2*f.offsets + 24
	b, err = f.read(addr+8, n*entry)
	if err != nil {
		return err
	}
	d := decoder{b: b, f: f}
	for i := 0; i < n; i++ {
		d.p = i * entry
		nameOff, obj := d.addr(), d.addr()
		if d.err != nil {
			return d.err
		}
		if nameOff >= uint64(len(heap)) {
			return fmt.Errorf("symbol name offset %d outside the heap", nameOff)
		}
		name := heap[nameOff:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		kids[string(name)] = obj
	}
	return nil
}

// walkBTree visits the leaf children of a version 1 B-tree of the given type
// (0 groups, 1 chunks) with keys of keySize bytes, in key order, passing each
// child's left key.
func (f *File) walkBTree(addr uint64, typ, keySize int, visit func(child uint64, key []byte) error) error {
	head, err := f.read(addr, 8+2*f.offsets)
	if err != nil {
		return err
	}
	if string(head[:4]) != "TREE" {
		return fmt.Errorf("no B-tree node at %d", addr)
	}
	if int(head[4]) != typ {
		return fmt.Errorf("B-tree node at %d has type %d, want %d", addr, head[4], typ)
	}
	level := int(head[5])
	n := int(binary.LittleEndian.Uint16(head[6:]))
	b, err := f.read(addr+uint64(len(head)), n*(keySize+f.offsets)+keySize)
	if err != nil {
		return err
	}
	d := decoder{b: b, f: f}
	for i := 0; i < n; i++ {
		key := d.bytes(keySize)
		child := d.addr()
		if d.err != nil {
			return d.err
		}
		if level > 0 {
			err = f.walkBTree(child, typ, keySize, visit)
		} else {
			err = visit(child, key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
