// Command verifyexp measures issue 21's protocols outside the runner, on the
// shared photos with cached features, and prints Markdown tables:
//
//   - verification and one-shot identification of dogs nothing was trained
//     on, for a few feature configurations (no head), over several draws of
//     dogs (-protocol verify);
//   - open-set rejection of unseen dogs by head-free scores, calibrated on a
//     third of the dogs below dataset.min_images_per_class and measured on
//     another third, on the task of experiments/openset.yaml (-protocol
//     openset).
//
// It is phase 1 of the issue: the lead may fold these into the runner, the
// store and the report.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/dogrun/dogrun/adapter"
	"github.com/dogrun/dogrun/internal/workspace"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		os.Exit(fail(os.Stderr, err))
	}
}

// fail reports err on stderr and returns the exit status: 2 for a mistake in
// the arguments (flag has printed it with the usage), 1 for a failure.
func fail(stderr io.Writer, err error) int {
	var usage usageError
	if errors.As(err, &usage) {
		return 2
	}
	fmt.Fprintln(stderr, "verifyexp:", err)
	return 1
}

// usageError is a mistake in the arguments, already reported with the usage.
type usageError struct{ error }

// Run parses args, measures and writes the tables to out, progress to log.
func Run(ctx context.Context, args []string, out, log io.Writer) error {
	fs := flag.NewFlagSet("verifyexp", flag.ContinueOnError)
	fs.SetOutput(log)
	root := fs.String("data", "../shared/data/dogfacenet", "the photos, one folder per dog")
	protocol := fs.String("protocol", "both", "verify, openset or both")
	draws := fs.Int("draws", 6, "draws of dogs (seeds 1 to draws)")
	exp := fs.String("openset", "experiments/openset.yaml", "the open-set task whose known and held-out dogs are used")
	target := fs.Float64("far", 0.05, "open set: the false-accept rate rules are calibrated to")
	minPhotos := fs.Int("min-photos", 8, "verify: dogs measured have at least this many photos; those with fewer fit the whitening")
	dogs := fs.Int("dogs", 48, "verify: dogs measured per draw (as many others choose the threshold); the DogFaceNet paper's open set has 48")
	pairs := fs.Int("pairs", 2500, "verify: genuine pairs per draw, and as many impostor pairs (fewer when the dogs have fewer)")
	threads := fs.Int("threads", 1, "ONNX Runtime threads for features not cached yet")
	// flag prints the usage on -h as on a mistake; help asked for is the
	// answer (stdout), a mistake is not (stderr).
	var parsed bytes.Buffer
	fs.SetOutput(&parsed)
	err := fs.Parse(args)
	fs.SetOutput(log)
	if errors.Is(err, flag.ErrHelp) {
		_, err = out.Write(parsed.Bytes())
		return err
	} else if err != nil {
		log.Write(parsed.Bytes())
		return usageError{err}
	}
	mistake := func(format string, a ...any) error {
		fmt.Fprintf(log, format+"\n", a...)
		fs.Usage()
		return usageError{fmt.Errorf(format, a...)}
	}
	if fs.NArg() > 0 {
		return mistake("unexpected argument %q", fs.Arg(0))
	}
	doVerify, doOpenSet := *protocol == "verify" || *protocol == "both", *protocol == "openset" || *protocol == "both"
	if !doVerify && !doOpenSet {
		return mistake("-protocol %q: want verify, openset or both", *protocol)
	}
	if *draws < 2 {
		return mistake("-draws %d: at least 2, for an interval across draws", *draws)
	}
	cacheDir, err := workspace.CacheDir()
	if err != nil {
		return err
	}
	c, err := loadCorpus(ctx, *root, cacheDir, *threads, log)
	if err != nil {
		return err
	}
	if doVerify {
		pool, err := adapter.LoadPool(*root, *minPhotos)
		if err != nil {
			return err
		}
		s := verifySettings{MinPhotos: *minPhotos, Dogs: *dogs, Pairs: *pairs}
		res, err := verificationDraws(c, pool, s, *draws, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "## Verification and one-shot identification (%d draws)\n\n", *draws)
		fmt.Fprint(out, markdown(verificationTable(res)))
		fmt.Fprintf(out, "\n%s\n\n", verificationCounts(res))
	}
	if doOpenSet {
		res, err := opensetDraws(c, *exp, *target, *draws, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "## Open-set rejection at a %.0f%% target (%d draws)\n\n", *target*100, *draws)
		fmt.Fprint(out, markdown(opensetTable(res)))
		fmt.Fprintf(out, "\n### The rule validation chose, draw by draw\n\n")
		fmt.Fprint(out, markdown(chosenTable(res)))
	}
	return nil
}
