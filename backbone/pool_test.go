package backbone

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/dogrun/dogrun/convert/onnx"
	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/internal/workspace"
)

func TestPooledNamesAndKeys(t *testing.T) {
	m := Cut{Name: "conv_pw_11", Output: "conv_pw_11_relu/clip_by_value", Dim: 512, Map: true}
	avg, err := m.Pooled("", 0)
	if err != nil || avg.Name != "conv_pw_11.avg" || avg.Pool != PoolAvg {
		t.Fatalf("default pooling: %+v, %v", avg, err)
	}
	gem, err := m.Pooled(PoolGeM, 0)
	if err != nil || gem.Name != "conv_pw_11.gem3" || gem.P != 3 {
		t.Fatalf("GeM with the default exponent: %+v, %v", gem, err)
	}
	gem4, _ := m.Pooled(PoolGeM, 4.5)
	if gem4.Name != "conv_pw_11.gem4.5" {
		t.Errorf("GeM 4.5 is named %s", gem4.Name)
	}
	spec := Spec{Name: "x", InputSize: 4}
	keys := map[string]bool{}
	for _, c := range []Cut{avg, gem, gem4} {
		keys[spec.PreprocessKey(c)] = true
	}
	if len(keys) != 3 {
		t.Errorf("poolings of one map share a cache key: %v", keys)
	}
	vec := Cut{Name: "embedding", Output: "output", Dim: 512}
	if v, err := vec.Pooled(PoolGeM, 3); err != nil || v != vec {
		t.Errorf("a vector cut changed by pooling: %+v, %v", v, err)
	}
	if !strings.HasSuffix(spec.PreprocessKey(vec), "out=output") {
		t.Errorf("a vector cut's key changed: %s", spec.PreprocessKey(vec))
	}
	for _, bad := range []struct {
		pool string
		p    float64
	}{{"max", 0}, {PoolGeM, 0.5}, {PoolGeM, 40}} {
		if _, err := m.Pooled(bad.pool, bad.p); err == nil {
			t.Errorf("pooling %s p=%g accepted", bad.pool, bad.p)
		}
	}
}

// TestPoolingByHand runs the pooling nodes on a map whose pools are easy to
// work out: a 2x2 map of 3 channels.
func TestPoolingByHand(t *testing.T) {
	m := onnx.Model{Producer: "dogrun-test", Graph: onnx.Graph{
		Name:    "identity",
		Inputs:  []onnx.Value{{Name: "x", Shape: []int64{-1, 3, 2, 2}}},
		Outputs: []onnx.Value{{Name: "y", Shape: []int64{-1, 3, 2, 2}}},
		Nodes:   []onnx.Node{{Op: "Identity", Name: "id", Inputs: []string{"x"}, Outputs: []string{"y"}}},
	}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	mapCut := Cut{Name: "y", Output: "y", Dim: 3, Map: true}
	avg, _ := mapCut.Pooled(PoolAvg, 0)
	gem, _ := mapCut.Pooled(PoolGeM, 3)
	gem1, _ := mapCut.Pooled(PoolGeM, 1)
	cuts := []Cut{avg, gem, gem1}
	pooled, err := withPooling(b, cuts)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{Name: "identity", InputName: "x", InputSize: 2, Layout: "NCHW"}
	p, err := OpenProbe(context.Background(), cache, spec, pooled, []string{avg.sessionOutput(), gem.sessionOutput(), gem1.sessionOutput()}, 1)
	needs.Met(t, err)
	defer p.Close()
	// Channel 0 is 1, 2, 3, 4; channel 1 has negatives, which GeM clamps to
	// its epsilon; channel 2 is constant.
	ts, err := p.Run([]float32{1, 2, 3, 4, -1, 0, 2, 0, 5, 5, 5, 5}, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float64{
		{2.5, 0.25, 5},
		{math.Cbrt((1 + 8 + 27 + 64) / 4.0), math.Cbrt(8 / 4.0), 5},
		{2.5, (2 + 3*gemEps) / 4, 5},
	}
	for i, tensor := range ts {
		if len(tensor.Shape) != 2 || tensor.Shape[0] != 1 || tensor.Shape[1] != 3 {
			t.Fatalf("%s: shape %v, want [1 3]", cuts[i].Name, tensor.Shape)
		}
		for c, v := range tensor.Data {
			if math.Abs(float64(v)-want[i][c]) > 1e-5*math.Max(1, want[i][c]) {
				t.Errorf("%s channel %d: %g, want %g", cuts[i].Name, c, v, want[i][c])
			}
		}
	}
}

// averagedBy names, per backbone, a map whose mean over positions is a
// vector cut the network computes itself.
var averagedBy = map[string][2]string{
	"vggface2-mobilenet": {"conv_pw_13", "global_pooling"},
	"dlib-resnet34":      {"conv256_down_out", "pooled"},
}

// TestInnerMapsOfRealBackbones opens every cut of every fetched backbone in
// one model, maps pooled both ways: each output has its width, is finite,
// and the averaged last map equals the network's own global pooling.
func TestInnerMapsOfRealBackbones(t *testing.T) {
	dir, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range All() {
		if spec.NeedsFile() || spec.Source.Package == "" {
			continue
		}
		t.Run(spec.Name, func(t *testing.T) {
			var cuts []Cut
			index := map[string]int{}
			for _, c := range spec.Cuts {
				pools := []string{""}
				if c.Map {
					pools = []string{PoolAvg, PoolGeM}
				}
				for _, pool := range pools {
					pc, err := c.Pooled(pool, 0)
					if err != nil {
						t.Fatal(err)
					}
					index[pc.Name] = len(cuts)
					cuts = append(cuts, pc)
				}
			}
			m, err := OpenCuts(context.Background(), dir, spec, cuts, 1)
			needs.Met(t, err)
			defer m.Close()
			const n = 2
			rng := rand.New(rand.NewPCG(3, 4))
			input := make([]float32, n*m.InputLen())
			for i := range input {
				input[i] = rng.Float32()
			}
			feats, err := m.ForwardCuts(input, n)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range cuts {
				if len(feats[i]) != n*c.Dim {
					t.Fatalf("%s: %d values, want %d", c.Name, len(feats[i]), n*c.Dim)
				}
				for _, v := range feats[i] {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("%s: not finite", c.Name)
					}
				}
			}
			pair, ok := averagedBy[spec.Name]
			if !ok {
				return
			}
			got, ref := feats[index[pair[0]+".avg"]], feats[index[pair[1]]]
			for j := range ref {
				if d := math.Abs(float64(got[j] - ref[j])); d > 1e-4*math.Max(1, math.Abs(float64(ref[j]))) {
					t.Fatalf("%s averaged differs from %s at %d: %g vs %g", pair[0], pair[1], j, got[j], ref[j])
				}
			}
		})
	}
}

// TestExtractCutsFillsEachCache extracts two cuts in one pass into caches
// of which one already holds some photos: each ends up with every photo,
// each vector what a model of that cut alone computes, and the photos the
// full cache held are not written to it again.
func TestExtractCutsFillsEachCache(t *testing.T) {
	dir, err := workspace.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := Lookup("mobilefacenet")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := spec.Cut("expand28")
	block, _ = block.Pooled(PoolGeM, 3)
	emb, _ := spec.Cut("")
	ctx := context.Background()
	both, err := OpenCuts(ctx, dir, spec, []Cut{emb, block}, 2)
	needs.Met(t, err)
	defer both.Close()
	var reqs []Request
	for i, p := range writePhotos(t, 5) {
		reqs = append(reqs, Request{Path: p, Key: ViewKey(fmt.Sprint(i), "", 0)})
	}
	tmp := t.TempDir()
	embCache, _ := OpenCache(tmp, spec, emb)
	blockCache, err := OpenCache(tmp, spec, block)
	if err != nil {
		t.Fatal(err)
	}
	alone, err := OpenCuts(ctx, dir, spec, []Cut{block}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	if _, err := Extract(ctx, alone, blockCache, reqs[:3], 2, nil); err != nil {
		t.Fatal(err)
	}
	before := storedRecords(t, blockCache)
	n, err := ExtractCuts(ctx, both, []*Cache{embCache, blockCache}, reqs, 2, nil)
	if err != nil || n != len(reqs) {
		t.Fatalf("extracted %d of %d: %v", n, len(reqs), err)
	}
	if grew := storedRecords(t, blockCache) - before; grew != 2 {
		t.Errorf("the block cache's segments gained %d vectors, want 2 (the photos it lacked)", grew)
	}
	single, err := Open(ctx, dir, spec, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	refEmb, _ := OpenCache(t.TempDir(), spec, emb)
	if _, err := Extract(ctx, single, refEmb, reqs, 2, nil); err != nil {
		t.Fatal(err)
	}
	refBlock, _ := OpenCache(t.TempDir(), spec, block)
	if _, err := Extract(ctx, alone, refBlock, reqs, 2, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		for _, pair := range [][2]*Cache{{embCache, refEmb}, {blockCache, refBlock}} {
			got, ok := pair[0].Get(r.Key)
			want, _ := pair[1].Get(r.Key)
			if !ok || len(got) != len(want) {
				t.Fatalf("%s: %d values cached, want %d", pair[0].Path, len(got), len(want))
			}
			for j := range want {
				if math.Abs(float64(got[j]-want[j])) > 1e-4 {
					t.Fatalf("%s value %d: %g together, %g alone", pair[0].Path, j, got[j], want[j])
				}
			}
		}
	}
}

// storedRecords counts the vectors written to c's segment files, duplicates
// included.
func storedRecords(t *testing.T, c *Cache) int64 {
	t.Helper()
	entries, err := os.ReadDir(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += (info.Size() - cacheHeader) / c.recordLen()
	}
	return n
}
