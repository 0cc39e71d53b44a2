package schemas

import (
	"encoding/json"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite experiment.schema.json from the Go types")

const schemaFile = "experiment.schema.json"

func TestSchemaInSync(t *testing.T) {
	got, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v; generate it with: go run ./schemas/gen (or go test ./schemas -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s is out of date with the Go types; regenerate with: go run ./schemas/gen (or go test ./schemas -update)\n(-file +generated):\n%s", schemaFile, diff)
	}
}

func TestSchemaContent(t *testing.T) {
	data, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	props := s["properties"].(map[string]any)
	head := props["head"].(map[string]any)
	dropout := head["properties"].(map[string]any)["dropout"].(map[string]any)
	sweep := props["sweep"].(map[string]any)
	got := map[string]any{
		"$schema":              s["$schema"],
		"additionalProperties": s["additionalProperties"],
		"required":             s["required"],
		"head.additional":      head["additionalProperties"],
		"dropout":              dropout,
		"seeds":                props["seeds"],
		"anyOf":                s["anyOf"],
		"settle.required":      props["settle"].(map[string]any)["required"],
		"sweep.names":          sweep["propertyNames"].(map[string]any)["pattern"],
		"sweep.additional":     sweep["additionalProperties"],
		"sweep.lr.items":       sweep["properties"].(map[string]any)["train.lr"].(map[string]any)["items"],
	}
	want := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"additionalProperties": false,
		"required":             []any{"name", "dataset", "backbone"},
		// seeds, unless settle says which seeds run.
		"anyOf":           []any{map[string]any{"required": []any{"seeds"}}, map[string]any{"required": []any{"settle"}}},
		"settle.required": []any{"by", "margin", "max_seeds"},
		"head.additional": false,
		"dropout": map[string]any{
			"description": "Dropout rate after each hidden layer.", "type": "number",
			"minimum": 0.0, "exclusiveMaximum": 1.0, "default": 0.0,
		},
		"seeds": map[string]any{
			"description": "Training seeds; each variant is trained once per seed. Required unless settle is given; with settle, the first seeds in the order they run, the rest being the smallest positive integers not listed.",
			"type":        "array", "items": map[string]any{"type": "integer"}, "uniqueItems": true,
		},
		"sweep.names":      sweepKeyPattern,
		"sweep.additional": map[string]any{"type": "array", "minItems": 1.0},
		"sweep.lr.items":   map[string]any{"type": "number", "exclusiveMinimum": 0.0, "maximum": 10.0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schema (-want +got):\n%s", diff)
	}
	// The schema offers exactly the paths Decode accepts in a sweep.
	var names []string
	for _, n := range sweep["propertyNames"].(map[string]any)["enum"].([]any) {
		names = append(names, n.(string))
		if _, err := sweepTarget(n.(string)); err != nil {
			t.Errorf("schema offers sweep path %s but Decode rejects it: %v", n, err)
		}
	}
	for _, want := range []string{"backbone.name", "head.dropout", "head.hidden", "train.lr", "train.early_stopping.patience"} {
		if !slices.Contains(names, want) {
			t.Errorf("sweepable paths lack %s: %v", want, names)
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, "dataset.") || n == "name" || n == "seeds" || n == "sweep" {
			t.Errorf("schema offers %s as a sweep path; it must not be swept", n)
		}
	}
}
