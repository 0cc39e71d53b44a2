package schemas

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecode feeds the experiment parser arbitrary bytes, seeded with every
// experiment file in the repository, valid and broken. CI runs it briefly
// (make test); run it longer with
//
//	go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 10m ./schemas
//
// Whatever the input, Decode must not panic, must answer with either an
// experiment or errors that each carry the file name and a message, and a
// decoded experiment must expand and hash without error.
func FuzzDecode(f *testing.F) {
	var seeds []string
	for _, pattern := range []string{"../experiments/*.yaml", "testdata/*.yaml", "../cmd/dogrun/testdata/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, files...)
	}
	if len(seeds) < 10 {
		f.Fatalf("only %d seed files", len(seeds))
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "fuzz.yaml"
		e, err := Decode(file, data)
		if err != nil {
			if e != nil {
				t.Fatalf("both an experiment and an error: %v", err)
			}
			errs := Errors(err)
			if len(errs) == 0 {
				t.Fatalf("error %q (%T) is not a located *Error", err, err)
			}
			for _, x := range errs {
				if x.File != file || x.Msg == "" || x.Line < 0 || x.Column < 0 {
					t.Fatalf("error without file or message: %#v", x)
				}
				if !strings.HasPrefix(x.Error(), file) {
					t.Fatalf("error %q does not start with the file name", x)
				}
			}
			return
		}
		seeds := e.Seeds
		if e.Settle.Declared() {
			seeds = e.SettleSeeds()
		}
		if e.File != file || e.Name == "" || len(seeds) == 0 {
			t.Fatalf("decoded experiment lacks required fields: %+v", e)
		}
		// A huge but valid grid is refused by Trials; only expand small ones.
		n := len(seeds)
		for _, a := range e.Sweep {
			n *= len(a.Values)
			if n > 10_000 {
				return
			}
		}
		trials, err := e.Trials()
		if err != nil {
			if len(Errors(err)) == 0 {
				t.Fatalf("Trials error %q is not a located *Error", err)
			}
			return
		}
		if len(trials) != n {
			t.Fatalf("%d trials, want %d", len(trials), n)
		}
		for _, tr := range trials {
			if _, err := tr.Config.CanonicalJSON(); err != nil {
				t.Fatalf("trial %d does not hash: %v", tr.Index, err)
			}
		}
		// Decoding is deterministic.
		again, err := Decode(file, data)
		if err != nil {
			t.Fatalf("second decode failed: %v", err)
		}
		a, _ := e.CanonicalJSON()
		b, _ := again.CanonicalJSON()
		if string(a) != string(b) {
			t.Fatalf("two decodes differ:\n%s\n%s", a, b)
		}
	})
}
