package serve

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/results"
)

// xssExperiment and xssDog are names from the data that would run script
// if a page put them into its markup unescaped.
const (
	xssExperiment = `"><img src=x onerror=alert(1)>`
	xssDog        = `<script>alert(1)</script>`
)

// twoSweeps stores a finished sweep with photos on disk and a half-done one
// whose experiment and first dog have hostile names.
func twoSweeps(t *testing.T) (path string, st *results.Store, photos string) {
	t.Helper()
	return twoSweepsOf(t, "sqlite")
}

// twoSweepsOf is twoSweeps in a store of kind.
func twoSweepsOf(t *testing.T, kind string) (path string, st *results.Store, photos string) {
	t.Helper()
	path, st = newStoreOf(t, kind)
	photos = t.TempDir()
	a := sweep{name: "alpha", variants: 3, seeds: 3, dogs: dogs(5), photos: 20, done: -1, dataset: photos}
	a.write(t, st)
	for p := range a.photos {
		writePNG(t, filepath.Join(photos, filepath.FromSlash(a.photo(p))))
	}
	b := sweep{name: xssExperiment, variants: 2, seeds: 2, dogs: append([]string{xssDog}, dogs(3)...), photos: 20, done: 2, dataset: photos}
	b.write(t, st)
	return path, st, photos
}

// pagesOf lists a URL of every kind of page and part of the dashboard.
func pagesOf(t *testing.T, base string) []string {
	t.Helper()
	out := []string{"/", "/part/experiments", "/compare", "/identify", "/compare?e=alpha&e=" + url.QueryEscape(xssExperiment)}
	for _, e := range []string{"alpha", xssExperiment} {
		q := url.QueryEscape(e)
		out = append(out, "/experiment?e="+q, "/experiment?e="+q+"&status=done&sort=accuracy&tpage=2&vpage=1",
			"/part/experiment/status?e="+q, "/part/experiment/variants?e="+q, "/part/experiment/charts?e="+q,
			"/part/experiment/trials?e="+q, "/part/experiment/verdicts?e="+q, "/part/experiment/verdicts?e="+q+"&by=variant&metric=top5",
			"/points.json?e="+q, "/chart/curves.svg?e="+q, "/chart/variants.svg?e="+q)
	}
	_, body, _ := get(t, base+"/experiment?e="+url.QueryEscape(xssExperiment))
	for i, m := range regexp.MustCompile(`href="/trial\?id=([0-9a-f]+)"`).FindAllStringSubmatch(body, -1) {
		out = append(out, "/trial?id="+m[1], "/part/trial/main?id="+m[1])
		if i < 2 { // the two done trials, whose dogs include xssDog
			out = append(out, "/chart/confusion.svg?id="+m[1], "/chart/learning.svg?id="+m[1])
		}
	}
	out = append(out, "/trial?id="+fmt.Sprintf("%08x%056x", 1, 0), "/chart/learning.svg?id="+fmt.Sprintf("%08x%056x", 1, 0),
		"/chart/confusion.svg?id="+fmt.Sprintf("%08x%056x", 1, 0), "/photo?e=alpha&p=dog00/0.png", "/static/live.js", "/static/style.css")
	return out
}

// Every page answers, with the security headers, from either store.
func TestEveryPageAnswers(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) { everyPageAnswers(t, kind) })
	}
}

func everyPageAnswers(t *testing.T, kind string) {
	path, _, _ := twoSweepsOf(t, kind)
	_, hs := dashboard(t, path, Options{})
	for _, p := range pagesOf(t, hs.URL) {
		status, body, h := get(t, hs.URL+p)
		if status != http.StatusOK {
			t.Errorf("%s: status %d\n%.500s", p, status, body)
			continue
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: security headers %v", p, h)
		}
		if strings.HasPrefix(h.Get("Content-Type"), "text/html") && !strings.Contains(p, "/part/") &&
			!strings.Contains(body, "<!doctype html>") {
			t.Errorf("%s: not a whole page:\n%.300s", p, body)
		}
	}
	// What is not there says so, with the status to match.
	for p, want := range map[string]int{
		"/experiment?e=nope":                         http.StatusNotFound,
		"/experiment":                                http.StatusBadRequest,
		"/trial?id=zz":                               http.StatusBadRequest,
		"/trial?id=ffff":                             http.StatusNotFound,
		"/photo?e=alpha&p=../x.png":                  http.StatusNotFound,
		"/photo?e=alpha&p=dog00/99.png":              http.StatusNotFound,
		"/photo?e=alpha&p=/etc/passwd":               http.StatusNotFound,
		"/chart/nope.svg?e=alpha":                    http.StatusNotFound,
		"/part/experiment/nope?e=alpha":              http.StatusNotFound,
		"/static/../serve.go":                        http.StatusNotFound,
		"/compare?v=zz":                              http.StatusBadRequest,
		"/identify?trial=" + strings.Repeat("0", 64): http.StatusNotFound,
	} {
		status, body, _ := get(t, hs.URL+p)
		if status != want {
			t.Errorf("%s: status %d, want %d\n%.300s", p, status, want, body)
		}
	}
}

// Names from the data reach the pages as text: escaped in HTML, and never
// inside a script (the pages have none inline; their CSP allows none).
func TestNamesFromTheDataAreEscaped(t *testing.T) {
	path, _, _ := twoSweeps(t)
	_, hs := dashboard(t, path, Options{})
	seen := map[string]bool{}
	for _, p := range pagesOf(t, hs.URL) {
		_, body, h := get(t, hs.URL+p)
		ct := h.Get("Content-Type")
		if !strings.HasPrefix(ct, "text/html") && !strings.HasPrefix(ct, "image/svg") {
			continue
		}
		for _, raw := range []string{xssExperiment, xssDog, "<img src=x", "<script>alert"} {
			if strings.Contains(body, raw) {
				t.Errorf("%s holds %q unescaped", p, raw)
			}
		}
		if strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			seen["dog"] = true
		}
		if strings.Contains(body, "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;") {
			seen["experiment"] = true
		}
		if strings.HasPrefix(ct, "text/html") && regexp.MustCompile(`<script>|<script [^>]*>[^<]`).MatchString(body) {
			t.Errorf("%s has an inline script", p)
		}
	}
	if !seen["dog"] || !seen["experiment"] {
		t.Errorf("the escaped names were shown on no page (%v): the test did not look where they are", seen)
	}
}

// dump is every row of every table, as text, for telling whether anything
// changed.
func dump(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	names, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for names.Next() {
		var n string
		names.Scan(&n)
		tables = append(tables, n)
	}
	names.Close()
	var b strings.Builder
	for _, tb := range tables {
		rows, err := db.Query(`SELECT * FROM "` + tb + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			fmt.Fprintln(&b, tb, vals)
		}
		rows.Close()
	}
	return b.String()
}

// No page changes what is stored, and the dashboard's store could not even
// if one tried: it is opened read-only.
func TestPagesNeverWrite(t *testing.T) {
	path, _, _ := twoSweeps(t)
	srv, hs := dashboard(t, path, Options{})
	before := dump(t, path)
	for _, p := range pagesOf(t, hs.URL) {
		get(t, hs.URL+p)
	}
	postPhoto(t, hs.URL, "", "dog.png", tinyPNG(t), "")
	if after := dump(t, path); after != before {
		t.Errorf("the pages changed the store")
	}
	if err := srv.st.SetProgress(context.Background(), 1, "w", time.Now(), results.Progress{Phase: "x"}); err == nil ||
		!strings.Contains(err.Error(), "readonly") {
		t.Errorf("a write through the dashboard's store: %v, want a read-only database's refusal", err)
	}
}

// Requests that name another host are refused unless the dashboard is
// exposed on purpose: a page elsewhere cannot reach it by pointing a name
// of its own at 127.0.0.1.
func TestOnlyLoopbackNamesAreAnswered(t *testing.T) {
	path, _ := newStore(t)
	for _, exposed := range []bool{false, true} {
		_, hs := dashboard(t, path, Options{Exposed: exposed})
		for host, local := range map[string]bool{"": true, "localhost": true, "localhost:8080": true, "[::1]:80": true,
			"127.0.0.2": true, "evil.example": false, "evil.example:8080": false, "10.0.0.1": false} {
			req, _ := http.NewRequest("GET", hs.URL+"/", nil)
			if host != "" {
				req.Host = host
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			want := http.StatusOK
			if !local && !exposed {
				want = http.StatusMisdirectedRequest
			}
			if res.StatusCode != want {
				t.Errorf("exposed %v, Host %q: status %d, want %d", exposed, host, res.StatusCode, want)
			}
		}
	}
	for addr, want := range map[string]bool{"127.0.0.1:8080": true, "localhost:0": true, "[::1]:8080": true,
		":8080": false, "0.0.0.0:8080": false, "192.168.1.5:80": false, "example.com:80": false, "8080": false} {
		if got := LoopbackAddr(addr); got != want {
			t.Errorf("LoopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}

// postPhoto posts the identify form and returns the status and page.
func postPhoto(t *testing.T, base, trial, name string, photo []byte, origin string) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if trial != "" {
		mw.WriteField("trial", trial)
	}
	if photo != nil {
		fw, err := mw.CreateFormFile("photo", name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(photo)
	}
	mw.Close()
	req, err := http.NewRequest("POST", base+"/identify", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// A bad upload is refused with a message saying what to do, before any
// trial runs; an upload from another site is refused outright.
func TestBadUploadsAreRefusedClearly(t *testing.T) {
	path, _, _ := twoSweeps(t)
	_, hs := dashboard(t, path, Options{})
	trial := fmt.Sprintf("%08x%056x", 1, 0)
	big := make([]byte, MaxUpload+1)
	copy(big, tinyPNG(t))
	gif := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00")
	for _, c := range []struct {
		name, trial, file string
		photo             []byte
		origin            string
		status            int
		says              string
	}{
		{"no trial", "", "dog.png", tinyPNG(t), "", http.StatusBadRequest, "Choose a trial"},
		{"no photo", trial, "", nil, "", http.StatusBadRequest, "Choose a photo"},
		{"too big", trial, "dog.png", big, "", http.StatusRequestEntityTooLarge, "larger than 10 MB"},
		{"a GIF", trial, "cat.gif", gif, "", http.StatusUnsupportedMediaType, "cat.gif: unsupported image format GIF (only JPEG and PNG are read)"},
		{"text", trial, "notes.jpg", []byte("hello, dog"), "", http.StatusUnsupportedMediaType, "notes.jpg: not an image (text)"},
		{"cut short", trial, "cut.png", tinyPNG(t)[:40], "", http.StatusUnsupportedMediaType, "cut.png: truncated or corrupt PNG"},
		{"another site", trial, "dog.png", tinyPNG(t), "https://evil.example", http.StatusForbidden, ""},
	} {
		status, body := postPhoto(t, hs.URL, c.trial, c.file, c.photo, c.origin)
		if status != c.status || !strings.Contains(body, c.says) {
			t.Errorf("%s: status %d (want %d), page:\n%.400s", c.name, status, c.status, after(body, "<main>"))
		}
	}
	// A same-site post passes the origin check (and then finds no backbone
	// in this test's empty cache, which is not the point here).
	if status, body := postPhoto(t, hs.URL, "", "dog.png", tinyPNG(t), hs.URL); status != http.StatusBadRequest {
		t.Errorf("same-origin post: status %d\n%.300s", status, body)
	}
}

func after(s, sep string) string {
	if _, a, ok := strings.Cut(s, sep); ok {
		return a
	}
	return s
}

// The event stream says at once which versions the page shows, and again
// as soon as a trial is claimed, reports progress or finishes, on either
// store.
func TestEventsFollowTheSweep(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) { eventsFollowTheSweep(t, kind) })
	}
}

func eventsFollowTheSweep(t *testing.T, kind string) {
	path, st := newStoreOf(t, kind)
	sw := sweep{name: "live", variants: 1, seeds: 3, dogs: dogs(3), photos: 6, done: 1}
	id := sw.write(t, st)
	_, hs := dashboard(t, path, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL+"/events?e=live", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan string)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- d
			}
		}
		close(events)
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("%s: the stream ended", what)
			}
			return e
		case <-ctx.Done():
			t.Fatalf("%s: no event", what)
		}
		return ""
	}
	first := next("first")
	tr := claimNext(t, st, id, "w2")
	claimed := next("after a claim")
	if err := st.SetProgress(ctx, tr.ID, "w2", *tr.StartedAt, results.Progress{Phase: results.PhaseTraining, Epoch: 2, Epochs: 10}); err != nil {
		t.Fatal(err)
	}
	progress := next("after progress")
	if err := st.Finish(ctx, tr.ID, "w2", sw.outcome(t, tr)); err != nil {
		t.Fatal(err)
	}
	finished := next("after a finish")
	if first == claimed || claimed == progress || progress == finished {
		t.Errorf("events %s, %s, %s, %s: each change must give a new one", first, claimed, progress, finished)
	}
	// The page's running trials show the progress the stream announced.
	tr2 := claimNext(t, st, id, "w3")
	st.SetProgress(ctx, tr2.ID, "w3", *tr2.StartedAt, results.Progress{Phase: results.PhaseTraining, Epoch: 7, Epochs: 10, EpochSeconds: 0.5})
	next("claim")
	_, body, _ := get(t, hs.URL+"/part/experiment/status?e=live")
	for _, want := range []string{`<progress max="10" value="7">`, "7/10", "500 ms", "≤ 1.5 s", "2 of 3 trials done"} {
		if !strings.Contains(body, want) {
			t.Errorf("status part lacks %q:\n%s", want, body)
		}
	}
}

// Long lists come a page at a time, and the pages link to each other.
func TestListsArePaged(t *testing.T) {
	path, st := newStore(t)
	sweep{name: "many", variants: 30, seeds: 2, dogs: dogs(3), photos: 6, done: -1}.write(t, st)
	_, hs := dashboard(t, path, Options{})
	_, body, _ := get(t, hs.URL+"/experiment?e=many")
	if n := strings.Count(body, `name="v"`); n != variantsPerPage {
		t.Errorf("first page shows %d variants, want %d", n, variantsPerPage)
	}
	if n := strings.Count(body, `<tr class="t-done">`); n != trialsPerPage {
		t.Errorf("first page shows %d trials, want %d", n, trialsPerPage)
	}
	for _, want := range []string{"1–25 of 30 (page 1 of 2)", "1–50 of 60 (page 1 of 2)", `vpage=2`, `tpage=2`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	_, body, _ = get(t, hs.URL+"/experiment?e=many&tpage=2&vpage=2")
	if n := strings.Count(body, `<tr class="t-done">`); n != 10 || strings.Count(body, `name="v"`) != 5 {
		t.Errorf("second pages show %d trials and %d variants, want 10 and 5", n, strings.Count(body, `name="v"`))
	}
}

// A photo is served only when the experiment's split names it, from its
// dataset folder, and only as the image it is.
func TestPhotosComeFromTheSplitOnly(t *testing.T) {
	path, _, photos := twoSweeps(t)
	_, hs := dashboard(t, path, Options{})
	status, body, h := get(t, hs.URL+"/photo?e=alpha&p=dog01/1.png")
	if status != http.StatusOK || h.Get("Content-Type") != "image/png" || body != string(tinyPNG(t)) {
		t.Errorf("a photo of the split: status %d, type %s", status, h.Get("Content-Type"))
	}
	// A file in the folder that the split does not name is not served.
	writePNG(t, filepath.Join(photos, "dog01", "secret.png"))
	if status, _, _ := get(t, hs.URL+"/photo?e=alpha&p=dog01/secret.png"); status != http.StatusNotFound {
		t.Errorf("a file the split does not name: status %d", status)
	}
	// Nor is a named photo that is not an image.
	os.WriteFile(filepath.Join(photos, "dog02", "2.png"), []byte("<html>"), 0o644)
	if status, _, _ := get(t, hs.URL+"/photo?e=alpha&p=dog02/2.png"); status != http.StatusNotFound {
		t.Errorf("a named file that is not an image: status %d", status)
	}
}

// A read the dashboard holds open (a slow page's query) does not stop the
// sweep's writes: the store is in WAL mode, where readers take no lock a
// writer waits for. Were it otherwise, the write below would wait out the
// busy timeout with the read still open, and fail.
func TestOpenReadsDoNotBlockWrites(t *testing.T) {
	path, st := newStore(t)
	sw := sweep{name: "w", variants: 1, seeds: 3, dogs: dogs(3), photos: 6, done: 1}
	id := sw.write(t, st)
	ro, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	rows, err := ro.Query(`SELECT p.photo FROM predictions p JOIN trials t ON t.id = p.trial_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatal("no rows to hold the read open with")
	}
	tr := claimNext(t, st, id, "w")
	if err := st.Finish(context.Background(), tr.ID, "w", sw.outcome(t, tr)); err != nil {
		t.Fatalf("a write while a read was open: %v", err)
	}
	if !rows.Next() {
		t.Error("the open read lost its rows")
	}
}

// A settled experiment's page shows its verdicts and each path's chart.
func TestSettledExperimentShowsItsPath(t *testing.T) {
	path, st := newStore(t)
	id := sweep{name: "settled", variants: 2, seeds: 4, dogs: dogs(4), photos: 20, done: -1}.write(t, st)
	design := results.SettleDesign{By: "head.dropout", Reference: "0", Metric: "top1", Margin: 0.05, Alpha: 0.05,
		Round: 2, MaxSeeds: 4, Spending: "pocock", Seeds: []int64{1, 2, 3, 4}}
	if _, err := st.DeclareSettle(context.Background(), id, design, false); err != nil {
		t.Fatal(err)
	}
	_, hs := dashboard(t, path, Options{})
	_, body, _ := get(t, hs.URL+"/experiment?e=settled")
	if !strings.Contains(body, "<h2>Settled: head.dropout against 0</h2>") || !strings.Contains(body, "head.dropout=0.1 vs 0") {
		t.Fatalf("no settle section:\n%s", after(body, "<main>"))
	}
	m := regexp.MustCompile(`src="(/chart/settle\.svg\?[^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no chart of the path")
	}
	status, svg, h := get(t, hs.URL+strings.ReplaceAll(m[1], "&amp;", "&"))
	if status != http.StatusOK || h.Get("Content-Type") != "image/svg+xml" || !strings.Contains(svg, "<svg") {
		t.Errorf("the path's chart: status %d, %s", status, h.Get("Content-Type"))
	}
	if status, _, _ := get(t, hs.URL+"/chart/settle.svg?e=settled&i=7"); status != http.StatusNotFound {
		t.Errorf("a path that is not there: status %d", status)
	}
}
