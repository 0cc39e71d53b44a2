package schemas

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Nine levels of nine aliases name 9^9 values in under 300 bytes; decoding
// must refuse them quickly instead of expanding them all.
func TestAliasBombIsRefused(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: bomb\ndataset: {path: p}\nbackbone: {name: m}\nseeds: [1]\nl0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", "))
	}
	b.WriteString("sweep: {head.hidden: *l8}\n")
	start := time.Now()
	_, err := Decode("bomb.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "aliases expanding too far") {
		t.Errorf("got %v, want the alias expansion refused", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}
