package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/results"
)

// TestServeMessages: what dogrun serve says when it cannot serve, with its
// exit status (golden).
func TestServeMessages(t *testing.T) {
	runs := t.TempDir()
	var got strings.Builder
	for _, args := range [][]string{
		{"-addr", "0.0.0.0:8080"},
		{"-addr", ":8080"},
		{"extra"},
		{"-addr", "127.0.0.1:8080", "-runs", runs},
	} {
		_, stderr, err := dogrun(t, append([]string{"serve"}, args...)...)
		code := 0
		if err != nil {
			code = fail(io.Discard, err)
		}
		usage := ""
		if strings.Contains(stderr, "Usage: dogrun serve") {
			usage = " (after the usage)"
		}
		fmt.Fprintf(&got, "$ dogrun serve %s\nexit %d%s: %s", strings.Join(args, " "), code, usage, errText(err))
	}
	golden(t, "serve_messages", strings.ReplaceAll(got.String(), runs, "$RUNS"))
}

// TestServeStartsAndStops serves a store on a free loopback port, answers a
// page, and stops cleanly when its context ends (Ctrl-C), with status 0.
func TestServeStartsAndStops(t *testing.T) {
	runs := t.TempDir()
	st, err := results.Open(filepath.Join(runs, "dogrun.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutExperiment(context.Background(), results.Experiment{Name: "hello"}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, w, io.Discard, []string{"serve", "-runs", runs, "-addr", "127.0.0.1:0"})
		w.Close()
		done <- err
	}()
	lines := bufio.NewScanner(out)
	if !lines.Scan() {
		t.Fatalf("serve printed nothing: %v", <-done)
	}
	first := lines.Text()
	m := regexp.MustCompile(`^dogrun serve: .*dogrun\.db on (http://127\.0\.0\.1:\d+/) \(Ctrl-C stops\)$`).FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("first line %q", first)
	}
	res, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `href="/experiment?e=hello"`) {
		t.Errorf("GET /: %d\n%s", res.StatusCode, body)
	}
	// An open event stream must not hold the server up when it stops.
	stream, err := http.Get(m[1] + "events")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	cancel()
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
	}
	select {
	case err := <-done:
		if err != nil || rest.String() != "dogrun serve: stopped\n" {
			t.Errorf("after Ctrl-C: %v, printed %q", err, rest.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}
