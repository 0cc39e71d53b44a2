// Package onnx writes ONNX models: the small subset of onnx.proto that dogrun's
// importers need to turn pretrained weights (TF.js, Keras, dlib) into graphs that
// ONNX Runtime runs. Encoding is done with protowire; no generated code.
package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Element types (TensorProto.DataType).
const (
	Float = 1
	Int32 = 6
	Int64 = 7
)

// Model is a whole ONNX file.
type Model struct {
	Producer string
	Opset    int64 // default domain's opset; 0 means 17
	Graph    Graph
}

// Graph holds the computation. Inputs and outputs are float32 tensors.
type Graph struct {
	Name         string
	Inputs       []Value
	Outputs      []Value
	Initializers []Tensor
	Nodes        []Node
}

// Value declares a graph input or output. A negative dimension is symbolic,
// named "batch" when it is the first one, so any batch size is accepted.
type Value struct {
	Name  string
	Shape []int64
}

// Tensor is a constant: exactly one of Float, Int64 holds its data.
type Tensor struct {
	Name  string
	Dims  []int64
	Float []float32
	Int64 []int64
}

// Node is one operator application.
type Node struct {
	Op      string
	Name    string
	Inputs  []string
	Outputs []string
	Attrs   []Attr
}

// Attr is a node attribute; build it with Int, Ints, Float, Floats or String.
type Attr struct {
	Name   string
	kind   int
	i      int64
	f      float32
	s      string
	ints   []int64
	floats []float32
}

// Attribute types (AttributeProto.AttributeType).
const (
	attrFloat  = 1
	attrInt    = 2
	attrString = 3
	attrFloats = 6
	attrInts   = 7
)

// Int is an integer attribute.
func Int(name string, v int64) Attr { return Attr{Name: name, kind: attrInt, i: v} }

// Ints is an integer list attribute.
func Ints(name string, v ...int64) Attr { return Attr{Name: name, kind: attrInts, ints: v} }

// Float32 is a float attribute.
func Float32(name string, v float32) Attr { return Attr{Name: name, kind: attrFloat, f: v} }

// Floats is a float list attribute.
func Floats(name string, v ...float32) Attr { return Attr{Name: name, kind: attrFloats, floats: v} }

// String is a string attribute.
func String(name, v string) Attr { return Attr{Name: name, kind: attrString, s: v} }

// irVersion 8 is what ONNX 1.12+ writes for opsets up to 17.
const irVersion = 8

// Marshal encodes the model as ONNX protobuf bytes, after checking that every
// node input is defined and every output is produced.
func (m *Model) Marshal() ([]byte, error) {
	if err := m.Graph.check(); err != nil {
		return nil, err
	}
	opset := m.Opset
	if opset == 0 {
		opset = 17
	}
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, irVersion)
	b = appendString(b, 2, m.Producer)
	b = appendMessage(b, 7, m.Graph.encode())
	var op []byte
	op = appendString(op, 1, "")
	op = protowire.AppendTag(op, 2, protowire.VarintType)
	op = protowire.AppendVarint(op, uint64(opset))
	b = appendMessage(b, 8, op)
	return b, nil
}

// Extend appends nodes, initializers and outputs to an encoded GraphProto
// (a model's field 7), for tools that add to a graph they did not write.
// The nodes must read only what graph or the new initializers define.
func Extend(graph []byte, nodes []Node, inits []Tensor, outputs []Value) []byte {
	g := Graph{Nodes: nodes, Initializers: inits, Outputs: outputs}
	return append(append([]byte(nil), graph...), g.encode()...)
}

func (g *Graph) check() error {
	defined := map[string]bool{"": true} // "" marks an omitted optional input
	for _, v := range g.Inputs {
		defined[v.Name] = true
	}
	for _, t := range g.Initializers {
		if defined[t.Name] {
			return fmt.Errorf("onnx: %q defined twice", t.Name)
		}
		if err := t.check(); err != nil {
			return err
		}
		defined[t.Name] = true
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if !defined[in] {
				return fmt.Errorf("onnx: node %s (%s) reads %q before anything defines it", n.Name, n.Op, in)
			}
		}
		for _, out := range n.Outputs {
			if defined[out] {
				return fmt.Errorf("onnx: node %s (%s) redefines %q", n.Name, n.Op, out)
			}
			defined[out] = true
		}
	}
	for _, v := range g.Outputs {
		if !defined[v.Name] {
			return fmt.Errorf("onnx: graph output %q is never produced", v.Name)
		}
	}
	return nil
}

func (t *Tensor) check() error {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	switch {
	case t.Float != nil && t.Int64 == nil && int64(len(t.Float)) == n:
	case t.Int64 != nil && t.Float == nil && int64(len(t.Int64)) == n:
	default:
		return fmt.Errorf("onnx: tensor %q: dims %v need %d values of exactly one type, got %d floats and %d int64s",
			t.Name, t.Dims, n, len(t.Float), len(t.Int64))
	}
	return nil
}

func (g *Graph) encode() []byte {
	var b []byte
	for _, n := range g.Nodes {
		b = appendMessage(b, 1, n.encode())
	}
	b = appendString(b, 2, g.Name)
	for _, t := range g.Initializers {
		b = appendMessage(b, 5, t.encode())
	}
	for _, v := range g.Inputs {
		b = appendMessage(b, 11, v.encode())
	}
	for _, v := range g.Outputs {
		b = appendMessage(b, 12, v.encode())
	}
	return b
}

func (n *Node) encode() []byte {
	var b []byte
	for _, in := range n.Inputs {
		b = appendString(b, 1, in)
	}
	for _, out := range n.Outputs {
		b = appendString(b, 2, out)
	}
	b = appendString(b, 3, n.Name)
	b = appendString(b, 4, n.Op)
	for _, a := range n.Attrs {
		b = appendMessage(b, 5, a.encode())
	}
	return b
}

func (a *Attr) encode() []byte {
	var b []byte
	b = appendString(b, 1, a.Name)
	switch a.kind {
	case attrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.f))
	case attrInt:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.i))
	case attrString:
		b = appendString(b, 4, a.s)
	case attrFloats:
		var packed []byte
		for _, f := range a.floats {
			packed = protowire.AppendFixed32(packed, math.Float32bits(f))
		}
		b = appendMessage(b, 7, packed)
	case attrInts:
		var packed []byte
		for _, i := range a.ints {
			packed = protowire.AppendVarint(packed, uint64(i))
		}
		b = appendMessage(b, 8, packed)
	}
	b = protowire.AppendTag(b, 20, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(a.kind))
}

func (t *Tensor) encode() []byte {
	var b []byte
	if len(t.Dims) > 0 {
		var dims []byte
		for _, d := range t.Dims {
			dims = protowire.AppendVarint(dims, uint64(d))
		}
		b = appendMessage(b, 1, dims)
	}
	var raw []byte
	elem := Float
	if t.Int64 != nil {
		elem = Int64
		raw = make([]byte, 8*len(t.Int64))
		for i, v := range t.Int64 {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
		}
	} else {
		raw = make([]byte, 4*len(t.Float))
		for i, v := range t.Float {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(elem))
	b = appendString(b, 8, t.Name)
	return appendMessage(b, 9, raw)
}

func (v *Value) encode() []byte {
	var shape []byte
	for i, d := range v.Shape {
		var dim []byte
		if d < 0 {
			name := fmt.Sprintf("d%d", i)
			if i == 0 {
				name = "batch"
			}
			dim = appendString(dim, 2, name)
		} else {
			dim = protowire.AppendTag(dim, 1, protowire.VarintType)
			dim = protowire.AppendVarint(dim, uint64(d))
		}
		shape = appendMessage(shape, 1, dim)
	}
	var tensorType []byte
	tensorType = protowire.AppendTag(tensorType, 1, protowire.VarintType)
	tensorType = protowire.AppendVarint(tensorType, Float)
	tensorType = appendMessage(tensorType, 2, shape)
	var b []byte
	b = appendString(b, 1, v.Name)
	return appendMessage(b, 2, appendMessage(nil, 1, tensorType))
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}
