package tfjs

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// A browserify bundle shaped like nsfwjs's model.min.js, with the minified
// literal forms the parser must understand.
const bundle = `!function(e){module.exports=e()}(function(){var r=n[_]={exports:{}};` +
	`return function e(a,n,i){}({1:[function(e,a,n){a.exports={modelTopology:{keras_version:"2.2.4",` +
	`"quoted key":'single \'q\'',t:!0,f:!1,n:null,u:void 0,x:.5,y:-.25,z:1e-3,w:[[1,2],[]],` +
	`s:"tab\there \u00e9 \x41"},weightsManifest:[]}},{}]},{},[1])(1)});`

func TestReadJSONFromBundle(t *testing.T) {
	js, err := readJSON([]byte(bundle))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatalf("%v in %s", err, js)
	}
	want := map[string]any{
		"modelTopology": map[string]any{
			"keras_version": "2.2.4", "quoted key": "single 'q'", "t": true, "f": false, "n": nil, "u": nil,
			"x": 0.5, "y": -0.25, "z": 0.001, "w": []any{[]any{1.0, 2.0}, []any{}}, "s": "tab\there é A",
		},
		"weightsManifest": []any{},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	// Plain JSON passes through.
	if js, err := readJSON([]byte(` {"a":1}`)); err != nil || string(js) != ` {"a":1}` {
		t.Errorf("plain JSON: %q, %v", js, err)
	}
}

func TestReadJSONRejectsCode(t *testing.T) {
	for _, src := range []string{
		`a.exports={x:require("fs")}`,
		`a.exports={x:1`,
		`a.exports={x:"open}`,
		`module.exports=e()`,
	} {
		if _, err := readJSON([]byte(src)); err == nil {
			t.Errorf("%s: accepted", src)
		}
	}
}

func TestReadWeightsFromBundle(t *testing.T) {
	got, err := readWeights([]byte(`!function(){}({1:[function(e,h,n){h.exports="AAEC/w=="},{}]})`), true)
	if err != nil || !slices.Equal(got, []byte{0, 1, 2, 255}) {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestDecodeWeights(t *testing.T) {
	le := binary.LittleEndian
	var data []byte
	data = le.AppendUint32(data, math.Float32bits(1.5))
	data = le.AppendUint32(data, math.Float32bits(-2))
	data = append(data, 0, 10, 255)       // uint8: v*0.5 - 1
	data = le.AppendUint16(data, 1000)    // uint16: v*0.001 + 0
	data = le.AppendUint16(data, 0x3C00)  // float16 1
	data = le.AppendUint16(data, 0xC000)  // -2
	data = le.AppendUint16(data, 0x7BFF)  // 65504, the largest half
	data = le.AppendUint16(data, 0x0001)  // 2^-24, the smallest subnormal
	data = le.AppendUint32(data, 1<<32-3) // int32 -3
	data = append(data, 3, 4)             // int32 via uint8: round(v*0.5 + 0.25)
	manifest := []WeightGroup{{Paths: []string{"shard1", "shard2"}, Weights: []WeightSpec{
		{Name: "f", Shape: []int64{2}, DType: "float32"},
		{Name: "u8", Shape: []int64{3}, DType: "float32", Quantization: &Quantization{DType: "uint8", Min: -1, Scale: 0.5}},
		{Name: "u16", Shape: []int64{1}, DType: "float32", Quantization: &Quantization{DType: "uint16", Scale: 0.001}},
		{Name: "h", Shape: []int64{2, 2}, DType: "float32", Quantization: &Quantization{DType: "float16"}},
		{Name: "i", Shape: []int64{}, DType: "int32"},
		{Name: "iq", Shape: []int64{2}, DType: "int32", Quantization: &Quantization{DType: "uint8", Min: 0.25, Scale: 0.5}},
	}}}
	dir := t.TempDir()
	// Two shards, split mid-weight: shards are one byte stream.
	if err := os.WriteFile(filepath.Join(dir, "shard1"), data[:5], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "shard2"), data[5:], 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := loadWeights(manifest, []string{filepath.Join(dir, "shard2"), filepath.Join(dir, "shard1")})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want []float32) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", name, got, want)
		}
	}
	check("f", w["f"].f, []float32{1.5, -2})
	check("u8", w["u8"].f, []float32{-1, 4, 126.5})
	check("u16", w["u16"].f, []float32{float32(1000 * 0.001)})
	check("h", w["h"].f, []float32{1, -2, 65504, float32(math.Ldexp(1, -24))})
	if !slices.Equal(w["i"].i, []int64{-3}) || !slices.Equal(w["iq"].i, []int64{2, 2}) {
		t.Errorf("int32 weights: %v %v", w["i"].i, w["iq"].i)
	}

	manifest[0].Weights = manifest[0].Weights[:5]
	if _, err := loadWeights(manifest, []string{filepath.Join(dir, "shard1"), filepath.Join(dir, "shard2")}); err == nil || !strings.Contains(err.Error(), "covers") {
		t.Errorf("got %v, want a length mismatch", err)
	}
}

func TestSamePad(t *testing.T) {
	for _, c := range []struct{ in, k, s, d, begin, end int64 }{
		{224, 3, 2, 1, 0, 1}, // TF puts the odd pixel at the end
		{224, 3, 1, 1, 1, 1},
		{7, 1, 1, 1, 0, 0},
		{35, 3, 1, 2, 2, 2},
		{17, 7, 1, 1, 3, 3},
		{5, 2, 2, 1, 0, 1},
	} {
		b, e := samePad(c.in, c.k, c.s, c.d)
		if b != c.begin || e != c.end {
			t.Errorf("samePad(%d, k=%d, s=%d, d=%d) = %d, %d; want %d, %d", c.in, c.k, c.s, c.d, b, e, c.begin, c.end)
		}
	}
}

func TestNHWCToNCHW(t *testing.T) {
	dims, data, err := nhwcToNCHW([]int64{3}, []float32{1, 2, 3})
	if err != nil || !slices.Equal(dims, []int64{3, 1, 1}) || !slices.Equal(data, []float32{1, 2, 3}) {
		t.Errorf("vector: %v %v %v", dims, data, err)
	}
	// [1, H=1, W=2, C=3] -> [1, C=3, H=1, W=2]
	dims, data, err = nhwcToNCHW([]int64{1, 1, 2, 3}, []float32{1, 2, 3, 4, 5, 6})
	if err != nil || !slices.Equal(dims, []int64{1, 3, 1, 2}) || !slices.Equal(data, []float32{1, 4, 2, 5, 3, 6}) {
		t.Errorf("4-D: %v %v %v", dims, data, err)
	}
}

func TestConvKernel(t *testing.T) {
	// 1x1 kernels: TF [1, 1, in=2, out=3] -> ONNX [3, 2, 1, 1], i.e. transposed.
	k := weight{shape: []int64{1, 1, 2, 3}, f: []float32{1, 2, 3, 4, 5, 6}}
	w, dims, g := convKernel(&k, false)
	if !slices.Equal(w, []float32{1, 4, 2, 5, 3, 6}) || !slices.Equal(dims, []int64{3, 2, 1, 1}) || g != 1 {
		t.Errorf("conv: %v %v %d", w, dims, g)
	}
	// Depthwise [1, 1, in=2, multiplier=2]: output channel i*2+m reads input i.
	k = weight{shape: []int64{1, 1, 2, 2}, f: []float32{1, 2, 3, 4}}
	w, dims, g = convKernel(&k, true)
	if !slices.Equal(w, []float32{1, 2, 3, 4}) || !slices.Equal(dims, []int64{4, 1, 1, 1}) || g != 2 {
		t.Errorf("depthwise: %v %v %d", w, dims, g)
	}
}

// TestFolding checks that padding, batch norm style scale and shift, and a
// Relu / Minimum / Maximum chain all end up in one Conv and one Clip.
func TestFolding(t *testing.T) {
	b := newBuilder("t")
	b.reserve("y")
	x := b.input("x", []int64{-1, 2, 4, 4})
	p := b.pad("pad", x, [4]int64{0, 0, 1, 1})
	win, err := newWindow(hwOf(b.shape[p]), [2]int64{2, 2}, [2]int64{1, 1}, [2]int64{1, 1}, "VALID", [4]int64{})
	if err != nil {
		t.Fatal(err)
	}
	w := []float32{1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2} // [2, 2, 2, 2]
	c, err := b.conv("conv", p, w, []int64{2, 2, 2, 2}, nil, win, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := b.node("Mul", "bn/scale", []string{c, b.channelConst("s", c, []float32{10, 100})}, b.shape[c])
	a := b.node("Add", "bn", []string{m, b.channelConst("t", m, []float32{1, 2})}, b.shape[m])
	r := b.clip("relu", a, 0, inf32)
	lo := b.clip("min", r, -inf32, 6)
	hi := b.clip("max", lo, 0, inf32)
	b.output("y", hi)
	for b.foldChannelwise() || b.foldPad() || b.mergeClip() {
	}
	b.prune()
	var ops []string
	for _, n := range b.g.Nodes {
		ops = append(ops, n.Op)
	}
	if !slices.Equal(ops, []string{"Conv", "Clip", "Identity"}) {
		t.Fatalf("ops %v, want Conv, Clip, Identity", ops)
	}
	conv := b.g.Nodes[0]
	if conv.Inputs[0] != "x" || b.windows[conv.Name].pads != [4]int64{0, 0, 1, 1} {
		t.Errorf("pad not folded: input %s, pads %v", conv.Inputs[0], b.windows[conv.Name].pads)
	}
	cw, _ := b.constant(conv.Inputs[1])
	cb, _ := b.constant(conv.Inputs[2])
	if cw.Float[0] != 10 || cw.Float[15] != 200 || !slices.Equal(cb.Float, []float32{1, 2}) {
		t.Errorf("scale/shift not folded: W[0]=%g W[15]=%g B=%v", cw.Float[0], cw.Float[15], cb.Float)
	}
	if w[0] != 1 {
		t.Error("folding changed the caller's weights")
	}
	lo2, hi2, ok := b.bounds(b.g.Nodes[1])
	if !ok || lo2 != 0 || hi2 != 6 {
		t.Errorf("clip bounds %g, %g", lo2, hi2)
	}
	if _, err := b.model("t"); err != nil {
		t.Fatal(err)
	}
}
