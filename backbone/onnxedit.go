package backbone

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of onnx.proto used below.
const (
	modelGraph       = 7
	graphNode        = 1
	graphInitializer = 5
	graphInput       = 11
	graphOutput      = 12
	graphValueInfo   = 13
	nodeInput        = 1
	nodeOpType       = 4
	valueInfoName    = 1
	valueInfoType    = 2
	typeTensor       = 1
	tensorTypeShape  = 2
	shapeDim         = 1
	dimParam         = 2
	tensorDataType   = 2
	tensorInt64Data  = 7
	tensorName       = 8
	tensorRawData    = 9
	onnxInt64        = 7
)

// field is one decoded protobuf field, kept with its raw encoding so that
// untouched fields are copied byte for byte.
type field struct {
	num   protowire.Number
	typ   protowire.Type
	bytes []byte // payload of a length-delimited field
	raw   []byte // whole field, tag included
}

func parseFields(b []byte) ([]field, error) {
	var out []field
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		f := field{num: num, typ: typ, raw: b[:n+m]}
		if typ == protowire.BytesType {
			f.bytes, _ = protowire.ConsumeBytes(b[n:])
		}
		out = append(out, f)
		b = b[n+m:]
	}
	return out, nil
}

func appendBytesField(b []byte, num protowire.Number, payload []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, payload)
}

func stringField(fs []field, num protowire.Number) string {
	for _, f := range fs {
		if f.num == num && f.typ == protowire.BytesType {
			return string(f.bytes)
		}
	}
	return ""
}

// BatchDynamic rewrites an ONNX model exported with batch size 1 so that it accepts
// any batch: the first dimension of every graph input and output becomes the symbol
// "batch", stale value_info shapes are dropped for ONNX Runtime to infer again, and
// Reshape targets that hard-code a leading 1 copy the input's batch instead (0).
// Batches amortise per-call overhead; tests check batched and single outputs agree.
func BatchDynamic(model []byte) ([]byte, error) {
	return rewriteGraph(model, batchGraph)
}

// rewriteGraph replaces the model's graph with fn's rewrite of it, copying
// every other field byte for byte.
func rewriteGraph(model []byte, fn func(graph []byte) ([]byte, error)) ([]byte, error) {
	top, err := parseFields(model)
	if err != nil {
		return nil, fmt.Errorf("onnx model: %w", err)
	}
	var out []byte
	found := false
	for _, f := range top {
		if f.num != modelGraph || f.typ != protowire.BytesType {
			out = append(out, f.raw...)
			continue
		}
		g, err := fn(f.bytes)
		if err != nil {
			return nil, err
		}
		out = appendBytesField(out, modelGraph, g)
		found = true
	}
	if !found {
		return nil, fmt.Errorf("onnx model: no graph")
	}
	return out, nil
}

func batchGraph(graph []byte) ([]byte, error) {
	fs, err := parseFields(graph)
	if err != nil {
		return nil, fmt.Errorf("onnx graph: %w", err)
	}
	initializers := map[string]bool{}
	reshapeTargets := map[string]bool{}
	for _, f := range fs {
		switch f.num {
		case graphInitializer:
			t, err := parseFields(f.bytes)
			if err != nil {
				return nil, err
			}
			initializers[stringField(t, tensorName)] = true
		case graphNode:
			n, err := parseFields(f.bytes)
			if err != nil {
				return nil, err
			}
			if stringField(n, nodeOpType) != "Reshape" {
				continue
			}
			var inputs []string
			for _, nf := range n {
				if nf.num == nodeInput {
					inputs = append(inputs, string(nf.bytes))
				}
			}
			if len(inputs) == 2 {
				reshapeTargets[inputs[1]] = true
			}
		}
	}
	var out []byte
	for _, f := range fs {
		switch f.num {
		case graphValueInfo:
			continue
		case graphInput, graphOutput:
			vi, err := parseFields(f.bytes)
			if err != nil {
				return nil, err
			}
			if initializers[stringField(vi, valueInfoName)] {
				out = append(out, f.raw...)
				continue
			}
			v, err := symbolicBatch(vi)
			if err != nil {
				return nil, fmt.Errorf("onnx value %q: %w", stringField(vi, valueInfoName), err)
			}
			out = appendBytesField(out, f.num, v)
		case graphInitializer:
			t, err := parseFields(f.bytes)
			if err != nil {
				return nil, err
			}
			if !reshapeTargets[stringField(t, tensorName)] {
				out = append(out, f.raw...)
				continue
			}
			out = appendBytesField(out, f.num, copyBatchInShape(t))
		default:
			out = append(out, f.raw...)
		}
	}
	return out, nil
}

// symbolicBatch replaces the first dimension of a ValueInfoProto's tensor shape.
func symbolicBatch(vi []field) ([]byte, error) {
	return rewriteNested(vi, []protowire.Number{valueInfoType, typeTensor, tensorTypeShape}, func(shape []field) ([]byte, error) {
		var out []byte
		replaced := false
		for _, f := range shape {
			if f.num == shapeDim && !replaced {
				dim := appendBytesField(nil, dimParam, []byte("batch"))
				out = appendBytesField(out, shapeDim, dim)
				replaced = true
				continue
			}
			out = append(out, f.raw...)
		}
		if !replaced {
			return nil, fmt.Errorf("scalar input has no batch dimension")
		}
		return out, nil
	})
}

// rewriteNested applies fn to the message found by following path, re-encoding
// every enclosing message.
func rewriteNested(fs []field, path []protowire.Number, fn func([]field) ([]byte, error)) ([]byte, error) {
	if len(path) == 0 {
		return fn(fs)
	}
	var out []byte
	found := false
	for _, f := range fs {
		if f.num != path[0] || f.typ != protowire.BytesType || found {
			out = append(out, f.raw...)
			continue
		}
		inner, err := parseFields(f.bytes)
		if err != nil {
			return nil, err
		}
		b, err := rewriteNested(inner, path[1:], fn)
		if err != nil {
			return nil, err
		}
		out = appendBytesField(out, f.num, b)
		found = true
	}
	if !found {
		return nil, fmt.Errorf("no field %d", path[0])
	}
	return out, nil
}

// copyBatchInShape turns a Reshape target [1, ...] into [0, ...]: 0 copies the
// input's dimension, so the batch passes through.
func copyBatchInShape(t []field) []byte {
	var out []byte
	for _, f := range t {
		switch {
		case f.num == tensorRawData && len(f.bytes) >= 8 && binary.LittleEndian.Uint64(f.bytes) == 1 && isInt64(t):
			raw := append([]byte(nil), f.bytes...)
			binary.LittleEndian.PutUint64(raw, 0)
			out = appendBytesField(out, tensorRawData, raw)
		case f.num == tensorInt64Data && f.typ == protowire.BytesType && isInt64(t):
			v, n := protowire.ConsumeVarint(f.bytes)
			if n > 0 && v == 1 {
				packed := protowire.AppendVarint(nil, 0)
				packed = append(packed, f.bytes[n:]...)
				out = appendBytesField(out, tensorInt64Data, packed)
			} else {
				out = append(out, f.raw...)
			}
		default:
			out = append(out, f.raw...)
		}
	}
	return out
}

func isInt64(t []field) bool {
	for _, f := range t {
		if f.num == tensorDataType && f.typ == protowire.VarintType {
			v, _ := protowire.ConsumeVarint(f.raw[protowire.SizeTag(f.num):])
			return v == onnxInt64
		}
	}
	return false
}
