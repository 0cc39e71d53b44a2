package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateFreeze checks that validate states what a freeze depth trains
// and costs, and names the depths that work for one that does not.
func TestValidateFreeze(t *testing.T) {
	out, _, err := dogrun(t, "validate", shippedExperiment(t, "freeze.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"2 variants x 2 seeds = 4 trials",
		"backbone.freeze -5 of mobilenetv2-imagenet: trains Conv_1, Conv_1_bn, out_relu, average_pooling2d_1, flatten_1 on the cached output of block_16_project_BN",
		"40.4 MFLOP per image forward",
		"ms per training image per epoch",
		"0.35-0.9 images/s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	bad := filepath.Join(t.TempDir(), "deep.yaml")
	yaml := "name: deep\ndataset: {path: d}\nbackbone: {name: mobilenetv2-imagenet, freeze: -10}\nseeds: [1]\n"
	if err := os.WriteFile(bad, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = dogrun(t, "validate", bad)
	if err == nil || !strings.Contains(err.Error(), "deep.yaml:3:48: backbone.freeze: freeze -10") ||
		!strings.Contains(err.Error(), "block_16_depthwise (DepthwiseConv2D)") || !strings.Contains(err.Error(), "all, -1, -2, -3, -4, -5, -6, -7, -8, -9") {
		t.Errorf("freeze -10: %v", err)
	}
}
