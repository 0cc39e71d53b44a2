// Command gen writes the experiment JSON Schema generated from the Go types.
//
//	go run ./schemas/gen            (from the repository root)
//	go generate ./schemas
package main

import (
	"flag"
	"log"
	"os"

	"github.com/dogrun/dogrun/schemas"
)

func main() {
	out := flag.String("o", "schemas/experiment.schema.json", "output file")
	flag.Parse()
	data, err := schemas.JSONSchema()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		log.Fatal(err)
	}
}
