package backbone

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of onnx.proto read below, beyond those onnxedit.go rewrites.
const (
	nodeOutput     = 2
	nodeAttribute  = 5
	attrName       = 1
	attrF          = 2
	attrI          = 3
	attrFloats     = 7
	attrInts       = 8
	tensorDims     = 1
	tensorFloats   = 4
	tensorElemType = 1
	onnxFloat      = 1
)

// Graph is what tools that compute part of a backbone themselves (Grad-CAM)
// read of an ONNX graph: its nodes in order and its constant tensors.
type Graph struct {
	Nodes     []Node
	Constants map[string]Constant // initializers by name
}

// Node is one operator application with its numeric attributes.
type Node struct {
	Op              string
	Inputs, Outputs []string
	Ints            map[string][]int64 // int and ints attributes
	Floats          map[string][]float32
}

// Constant is an initializer: float data in Float, int64 data in Int64.
type Constant struct {
	Dims  []int64
	Float []float32
	Int64 []int64
}

// Int returns the node's int attribute name, or def when it is absent.
func (n Node) Int(name string, def int64) int64 {
	if v, ok := n.Ints[name]; ok && len(v) == 1 {
		return v[0]
	}
	return def
}

// Producer returns the index of the node that writes tensor name, or -1.
func (g *Graph) Producer(name string) int {
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == name {
				return i
			}
		}
	}
	return -1
}

// ReadGraph parses an ONNX model's nodes and initializers.
func ReadGraph(model []byte) (*Graph, error) {
	top, err := parseFields(model)
	if err != nil {
		return nil, fmt.Errorf("onnx model: %w", err)
	}
	gf, err := nested(top, modelGraph)
	if err != nil || gf == nil {
		return nil, fmt.Errorf("onnx model: no graph (%v)", err)
	}
	g := &Graph{Constants: map[string]Constant{}}
	for _, f := range gf {
		switch f.num {
		case graphNode:
			n, err := readNode(f.bytes)
			if err != nil {
				return nil, err
			}
			g.Nodes = append(g.Nodes, n)
		case graphInitializer:
			name, c, err := readConstant(f.bytes)
			if err != nil {
				return nil, err
			}
			g.Constants[name] = c
		}
	}
	return g, nil
}

func readNode(b []byte) (Node, error) {
	fs, err := parseFields(b)
	if err != nil {
		return Node{}, fmt.Errorf("onnx node: %w", err)
	}
	n := Node{Op: stringField(fs, nodeOpType), Ints: map[string][]int64{}, Floats: map[string][]float32{}}
	for _, f := range fs {
		switch f.num {
		case nodeInput:
			n.Inputs = append(n.Inputs, string(f.bytes))
		case nodeOutput:
			n.Outputs = append(n.Outputs, string(f.bytes))
		case nodeAttribute:
			af, err := parseFields(f.bytes)
			if err != nil {
				return Node{}, fmt.Errorf("onnx node %s: %w", n.Op, err)
			}
			name := stringField(af, attrName)
			for _, a := range af {
				switch {
				case a.num == attrI && a.typ == protowire.VarintType:
					v, _ := varintField(af, attrI)
					n.Ints[name] = []int64{int64(v)}
				case a.num == attrInts:
					n.Ints[name] = append(n.Ints[name], varints(a)...)
				case a.num == attrF && a.typ == protowire.Fixed32Type:
					n.Floats[name] = []float32{fixed32(a)}
				case a.num == attrFloats:
					n.Floats[name] = append(n.Floats[name], floats(a)...)
				}
			}
		}
	}
	return n, nil
}

func readConstant(b []byte) (string, Constant, error) {
	fs, err := parseFields(b)
	if err != nil {
		return "", Constant{}, fmt.Errorf("onnx initializer: %w", err)
	}
	var c Constant
	var raw []byte
	for _, f := range fs {
		switch f.num {
		case tensorDims:
			c.Dims = append(c.Dims, varints(f)...)
		case tensorFloats:
			c.Float = append(c.Float, floats(f)...)
		case tensorInt64Data:
			c.Int64 = append(c.Int64, varints(f)...)
		case tensorRawData:
			raw = f.bytes
		}
	}
	if raw != nil {
		dt, _ := varintField(fs, tensorDataType)
		switch dt {
		case onnxFloat:
			for i := 0; i+4 <= len(raw); i += 4 {
				c.Float = append(c.Float, math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
			}
		case onnxInt64:
			for i := 0; i+8 <= len(raw); i += 8 {
				c.Int64 = append(c.Int64, int64(binary.LittleEndian.Uint64(raw[i:])))
			}
		}
	}
	return stringField(fs, tensorName), c, nil
}

// varints decodes a repeated int field, packed or not.
func varints(f field) []int64 {
	if f.typ == protowire.VarintType {
		v, _ := protowire.ConsumeVarint(f.raw[protowire.SizeTag(f.num):])
		return []int64{int64(v)}
	}
	var out []int64
	for b := f.bytes; len(b) > 0; {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			break
		}
		out = append(out, int64(v))
		b = b[n:]
	}
	return out
}

func fixed32(f field) float32 {
	v, _ := protowire.ConsumeFixed32(f.raw[protowire.SizeTag(f.num):])
	return math.Float32frombits(v)
}

// floats decodes a repeated float field, packed or not.
func floats(f field) []float32 {
	if f.typ == protowire.Fixed32Type {
		return []float32{fixed32(f)}
	}
	var out []float32
	for b := f.bytes; len(b) >= 4; b = b[4:] {
		out = append(out, math.Float32frombits(binary.LittleEndian.Uint32(b)))
	}
	return out
}

// WithOutputs returns the model with the named inner tensors added as float
// graph outputs (those that are outputs already stay as they are), so that a
// session can return them beside the features.
func WithOutputs(model []byte, names ...string) ([]byte, error) {
	return rewriteGraph(model, func(graph []byte) ([]byte, error) {
		gf, err := parseFields(graph)
		if err != nil {
			return nil, fmt.Errorf("onnx graph: %w", err)
		}
		have := map[string]bool{}
		for _, o := range gf {
			if o.num == graphOutput {
				vi, err := parseFields(o.bytes)
				if err != nil {
					return nil, err
				}
				have[stringField(vi, valueInfoName)] = true
			}
		}
		g := append([]byte(nil), graph...)
		for _, name := range names {
			if have[name] {
				continue
			}
			have[name] = true
			tt := protowire.AppendTag(nil, tensorElemType, protowire.VarintType)
			tt = protowire.AppendVarint(tt, onnxFloat)
			vi := appendBytesField(nil, valueInfoName, []byte(name))
			vi = appendBytesField(vi, valueInfoType, appendBytesField(nil, typeTensor, tt))
			g = appendBytesField(g, graphOutput, vi)
		}
		return g, nil
	})
}

// BatchedONNX is the backbone's model as its sessions run it: any batch size
// (see BatchDynamic).
func BatchedONNX(ctx context.Context, cacheDir string, spec Spec) ([]byte, error) {
	raw, err := ONNX(ctx, cacheDir, spec)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", spec.Name, err)
	}
	b, err := BatchDynamic(raw)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", spec.Name, err)
	}
	return b, nil
}
