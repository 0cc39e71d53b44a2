package hdf5

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// datatype is a parsed datatype message.
type datatype struct {
	class     int // 0 integer, 1 float, 3 string, 9 variable-length
	size      int
	bigEndian bool
	signed    bool
	vlenStr   bool // class 9 holding strings
}

const (
	classInt    = 0
	classFloat  = 1
	classString = 3
	classVLen   = 9
)

func parseDatatype(b []byte) (datatype, error) {
	if len(b) < 8 {
		return datatype{}, errors.New("truncated datatype")
	}
	t := datatype{class: int(b[0] & 0x0f), size: int(binary.LittleEndian.Uint32(b[4:]))}
	bits := int(b[1]) | int(b[2])<<8
	switch t.class {
	case classInt:
		t.bigEndian, t.signed = bits&1 != 0, bits&8 != 0
	case classFloat:
		t.bigEndian = bits&1 != 0
	case classString:
	case classVLen:
		t.vlenStr = bits&0x0f == 1
	default:
		return t, fmt.Errorf("datatype class %d is not supported", t.class)
	}
	return t, nil
}

// dataspace returns the dimensions: empty for a scalar.
func (f *File) dataspace(b []byte) ([]int, error) {
	d := decoder{b: b, f: f}
	version, rank, flags := d.u8(), d.u8(), d.u8()
	switch version {
	case 1:
		d.bytes(5)
	case 2:
		if typ := d.u8(); typ == 2 {
			return nil, errors.New("null dataspace")
		}
	default:
		return nil, fmt.Errorf("dataspace version %d is not supported", version)
	}
	dims := make([]int, rank)
	for i := range dims {
		dims[i] = int(d.length())
	}
	_ = flags // maximum dimensions follow; not needed
	return dims, d.err
}

func count(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// Attr returns the named attribute's values: []string for strings, []float64
// for floats, []int64 for integers (a scalar is one value). ok is false when
// the object has no such attribute.
func (o *Object) Attr(name string) (value any, ok bool, err error) {
	for _, m := range o.msgs {
		if m.typ != msgAttribute {
			continue
		}
		a, err := o.f.attribute(m.body)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", o.Path, err)
		}
		if a.name != name {
			continue
		}
		v, err := o.f.attrValue(a)
		if err != nil {
			return nil, false, fmt.Errorf("%s: attribute %s: %w", o.Path, name, err)
		}
		return v, true, nil
	}
	return nil, false, nil
}

// Attrs lists the object's attribute names.
func (o *Object) Attrs() ([]string, error) {
	var names []string
	for _, m := range o.msgs {
		if m.typ == msgAttribute {
			a, err := o.f.attribute(m.body)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", o.Path, err)
			}
			names = append(names, a.name)
		}
	}
	return names, nil
}

type attribute struct {
	name string
	typ  datatype
	dims []int
	data []byte
}

func (f *File) attribute(b []byte) (attribute, error) {
	d := decoder{b: b, f: f}
	version := d.u8()
	flags := d.u8()
	nameSize, typeSize, spaceSize := d.u16(), d.u16(), d.u16()
	pad := func() {}
	switch version {
	case 1:
		pad = func() { d.align(8) }
	case 2:
	case 3:
		d.u8() // name encoding
	default:
		return attribute{}, fmt.Errorf("attribute message version %d is not supported", version)
	}
	if version > 1 && flags&3 != 0 {
		return attribute{}, errors.New("attributes with shared datatypes are not supported")
	}
	var a attribute
	a.name = strings.TrimRight(string(d.bytes(nameSize)), "\x00")
	pad()
	tb := d.bytes(typeSize)
	pad()
	sb := d.bytes(spaceSize)
	pad()
	if d.err != nil {
		return a, d.err
	}
	var err error
	if a.typ, err = parseDatatype(tb); err != nil {
		return a, fmt.Errorf("attribute %s: %w", a.name, err)
	}
	if a.dims, err = f.dataspace(sb); err != nil {
		return a, fmt.Errorf("attribute %s: %w", a.name, err)
	}
	a.data = b[d.p:]
	return a, nil
}

func (f *File) attrValue(a attribute) (any, error) {
	n := count(a.dims)
	switch a.typ.class {
	case classString:
		if len(a.data) < n*a.typ.size {
			return nil, errors.New("truncated data")
		}
		out := make([]string, n)
		for i := range out {
			out[i] = trimString(a.data[i*a.typ.size : (i+1)*a.typ.size])
		}
		return out, nil
	case classVLen:
		if !a.typ.vlenStr {
			return nil, errors.New("variable-length sequences are not supported")
		}
		return f.vlenStrings(a.data, n)
	case classFloat:
		v, err := toFloat64(a.typ, a.data, n)
		return v, err
	case classInt:
		if len(a.data) < n*a.typ.size {
			return nil, errors.New("truncated data")
		}
		out := make([]int64, n)
		for i := range out {
			d := decoder{b: a.data[i*a.typ.size:], f: f}
			v := d.uint(a.typ.size)
			if a.typ.signed && a.typ.size < 8 && v&(1<<(8*a.typ.size-1)) != 0 {
				v |= ^uint64(0) << (8 * a.typ.size)
			}
			out[i] = int64(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("datatype class %d", a.typ.class)
}

func trimString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimRight(string(b), " ")
}

// vlenStrings reads n variable-length strings: each a length and a global
// heap reference (collection address, object index).
func (f *File) vlenStrings(b []byte, n int) ([]string, error) {
	d := decoder{b: b, f: f}
	out := make([]string, n)
	heaps := map[uint64]map[int][]byte{}
	for i := range out {
		d.u32() // length, repeated in the heap object
		coll, idx := d.addr(), d.u32()
		if d.err != nil {
			return nil, d.err
		}
		objs, ok := heaps[coll]
		if !ok {
			var err error
			if objs, err = f.globalHeap(coll); err != nil {
				return nil, err
			}
			heaps[coll] = objs
		}
		out[i] = trimString(objs[idx])
	}
	return out, nil
}

func (f *File) globalHeap(addr uint64) (map[int][]byte, error) {
	head, err := f.read(addr, 8+f.lengths)
	if err != nil {
		return nil, err
	}
	if string(head[:4]) != "GCOL" {
		return nil, fmt.Errorf("no global heap at %d", addr)
	}
	size := (&decoder{b: head, p: 8, f: f}).length()
	b, err := f.read(addr, int(size))
	if err != nil {
		return nil, err
	}
	d := decoder{b: b, p: 8 + f.lengths, f: f}
	objs := map[int][]byte{}
	for d.p+8+f.lengths <= len(b) {
		idx := d.u16()
		d.bytes(6) // reference count, reserved
		n := int(d.length())
		if idx == 0 { // free space to the end
			break
		}
		objs[idx] = d.bytes(n)
		d.align(8)
		if d.err != nil {
			return nil, d.err
		}
	}
	return objs, nil
}

func toFloat64(t datatype, b []byte, n int) ([]float64, error) {
	out := make([]float64, n)
	if err := convert(t, b, n, func(i int, v float64) { out[i] = v }); err != nil {
		return nil, err
	}
	return out, nil
}

func convert(t datatype, b []byte, n int, set func(int, float64)) error {
	if t.class != classFloat || t.size != 4 && t.size != 8 {
		return fmt.Errorf("not a float32 or float64 (class %d, %d bytes)", t.class, t.size)
	}
	if len(b) < n*t.size {
		return errors.New("truncated data")
	}
	var order binary.ByteOrder = binary.LittleEndian
	if t.bigEndian {
		order = binary.BigEndian
	}
	for i := 0; i < n; i++ {
		if t.size == 4 {
			set(i, float64(math.Float32frombits(order.Uint32(b[4*i:]))))
		} else {
			set(i, math.Float64frombits(order.Uint64(b[8*i:])))
		}
	}
	return nil
}

// Shape returns a dataset's dimensions (empty for a scalar).
func (o *Object) Shape() ([]int, error) {
	ds := find(o.msgs, msgDataspace)
	if ds == nil || find(o.msgs, msgLayout) == nil {
		return nil, fmt.Errorf("%s is not a dataset", o.Path)
	}
	dims, err := o.f.dataspace(ds)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Path, err)
	}
	return dims, nil
}

// Float32s reads a float32 or float64 dataset, row-major, as float32.
func (o *Object) Float32s() ([]float32, error) {
	v, err := o.readFloats()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Path, err)
	}
	return v, nil
}

func (o *Object) readFloats() ([]float32, error) {
	dims, err := o.Shape()
	if err != nil {
		return nil, err
	}
	t, err := parseDatatype(find(o.msgs, msgDatatype))
	if err != nil {
		return nil, err
	}
	n := count(dims)
	raw, err := o.raw(dims, t.size)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	if err := convert(t, raw, n, func(i int, v float64) { out[i] = float32(v) }); err != nil {
		return nil, err
	}
	return out, nil
}

// raw returns the dataset's bytes in row-major order.
func (o *Object) raw(dims []int, elem int) ([]byte, error) {
	f := o.f
	d := decoder{b: find(o.msgs, msgLayout), f: f}
	if v := d.u8(); v != 3 {
		return nil, fmt.Errorf("data layout version %d is not supported", v)
	}
	size := count(dims) * elem
	switch class := d.u8(); class {
	case 0: // compact
		n := d.u16()
		b := d.bytes(n)
		if d.err != nil || n < size {
			return nil, errors.New("truncated compact data")
		}
		return b[:size], nil
	case 1: // contiguous
		addr := d.addr()
		d.length()
		if d.err != nil {
			return nil, d.err
		}
		if addr == undefined { // never written: the fill value, 0
			return make([]byte, size), nil
		}
		return f.read(addr, size)
	case 2:
		rank := d.u8()
		btree := d.addr()
		chunk := make([]int, rank)
		for i := range chunk {
			chunk[i] = d.u32()
		}
		if d.err != nil {
			return nil, d.err
		}
		if rank != len(dims)+1 || chunk[rank-1] != elem {
			return nil, fmt.Errorf("chunk dimensions %v do not fit the dataset's %v", chunk, dims)
		}
		filters, err := f.filters(find(o.msgs, msgFilters))
		if err != nil {
			return nil, err
		}
		return f.chunked(btree, dims, chunk[:rank-1], elem, filters)
	default:
		return nil, fmt.Errorf("layout class %d is not supported", class)
	}
}

type filter struct {
	id   int
	args []int
}

func (f *File) filters(b []byte) ([]filter, error) {
	if b == nil {
		return nil, nil
	}
	d := decoder{b: b, f: f}
	version, n := d.u8(), d.u8()
	if version == 1 {
		d.bytes(6)
	} else if version != 2 {
		return nil, fmt.Errorf("filter pipeline version %d is not supported", version)
	}
	out := make([]filter, n)
	for i := range out {
		id := d.u16()
		nameLen := 0
		if version == 1 || id >= 256 {
			nameLen = d.u16()
		}
		d.u16() // flags
		nargs := d.u16()
		d.bytes(nameLen) // in version 1 it includes the padding to 8 bytes
		args := make([]int, nargs)
		for j := range args {
			args[j] = d.u32()
		}
		if version == 1 && nargs%2 == 1 {
			d.bytes(4)
		}
		switch id {
		case 1, 2, 3: // deflate, shuffle, fletcher32
		default:
			return nil, fmt.Errorf("filter %d is not supported (only deflate, shuffle and fletcher32)", id)
		}
		out[i] = filter{id, args}
	}
	return out, d.err
}

// chunked assembles a chunked dataset from the leaves of its B-tree.
func (f *File) chunked(btree uint64, dims, chunk []int, elem int, filters []filter) ([]byte, error) {
	rank := len(dims)
	out := make([]byte, count(dims)*elem)
	if btree == undefined {
		return out, nil
	}
	chunkBytes := count(chunk) * elem
	keySize := 8 + 8*(rank+1)
	// Strides, in elements, of the dataset and of a chunk.
	stride, cstride := make([]int, rank), make([]int, rank)
	stride[rank-1], cstride[rank-1] = 1, 1
	for i := rank - 2; i >= 0; i-- {
		stride[i] = stride[i+1] * dims[i+1]
		cstride[i] = cstride[i+1] * chunk[i+1]
	}
	err := f.walkBTree(btree, 1, keySize, func(child uint64, key []byte) error {
		kd := decoder{b: key, f: f}
		size, mask := kd.u32(), kd.u32()
		off := make([]int, rank)
		for i := range off {
			off[i] = int(kd.uint(8))
		}
		data, err := f.read(child, size)
		if err != nil {
			return err
		}
		if data, err = unfilter(data, filters, mask, elem); err != nil {
			return err
		}
		if len(data) < chunkBytes {
			return fmt.Errorf("chunk at %v has %d bytes, want %d", off, len(data), chunkBytes)
		}
		// Copy row by row along the last axis, clipping at the dataset's edge.
		rowLen := min(chunk[rank-1], dims[rank-1]-off[rank-1])
		idx := make([]int, rank) // position inside the chunk, last axis 0
		for {
			inside := true
			src, dst := 0, 0
			for i := 0; i < rank; i++ {
				if off[i]+idx[i] >= dims[i] {
					inside = false
					break
				}
				src += idx[i] * cstride[i]
				dst += (off[i] + idx[i]) * stride[i]
			}
			if inside && rowLen > 0 {
				copy(out[dst*elem:(dst+rowLen)*elem], data[src*elem:])
			}
			// Next row: odometer over all axes but the last.
			i := rank - 2
			for ; i >= 0; i-- {
				idx[i]++
				if idx[i] < chunk[i] {
					break
				}
				idx[i] = 0
			}
			if i < 0 {
				return nil
			}
		}
	})
	return out, err
}

// unfilter undoes the filters (last applied first), skipping those the
// chunk's mask marks as not applied.
func unfilter(data []byte, filters []filter, mask, elem int) ([]byte, error) {
	for i := len(filters) - 1; i >= 0; i-- {
		if mask&(1<<i) != 0 {
			continue
		}
		switch filters[i].id {
		case 1:
			r, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				return nil, fmt.Errorf("deflate: %w", err)
			}
			if data, err = io.ReadAll(r); err != nil {
				return nil, fmt.Errorf("deflate: %w", err)
			}
		case 2:
			size := elem
			if len(filters[i].args) > 0 {
				size = filters[i].args[0]
			}
			data = unshuffle(data, size)
		case 3:
			if len(data) < 4 {
				return nil, errors.New("fletcher32: chunk too short")
			}
			data = data[:len(data)-4]
		}
	}
	return data, nil
}

// unshuffle undoes the shuffle filter: byte j of every element is stored
// together, then byte j+1, ...
func unshuffle(b []byte, size int) []byte {
	n := len(b) / size
	if size <= 1 || n == 0 {
		return b
	}
	out := make([]byte, len(b))
	for j := 0; j < size; j++ {
		for i := 0; i < n; i++ {
			out[i*size+j] = b[j*n+i]
		}
	}
	copy(out[n*size:], b[n*size:]) // a tail shorter than an element stays
	return out
}
