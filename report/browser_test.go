package report

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dogrun/dogrun/internal/needs"
	"github.com/dogrun/dogrun/plots"
)

// artifactsDir keeps the browser test's screenshots for people (and CI) to
// look at; git ignores it.
const artifactsDir = "testdata/artifacts"

// browserWidth is the window the pages are laid out in: a laptop screen.
const browserWidth = 1280

// runChromium runs headless chromium on a page with a fresh profile and
// returns its standard output.
func runChromium(t *testing.T, bin string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + t.TempDir()}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, lastLines(stderr.String(), 20))
	}
	return stdout.Bytes()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// probeScript opens every collapsed section, then records how many images
// the page has, which did not load (no pixels), the page's size, the
// smallest computed font size of any element holding text, and the smallest
// ratio of a chart's shown width to its own, into a hidden element that
// --dump-dom then prints. A deliberately broken control image proves that
// the probe can tell.
const probeScript = `<img id="dogrun-probe-control" alt="control" style="display:none" src="data:image/png;base64,AAAA">
<script>
window.addEventListener("load", function () {
  document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  var minFont = Infinity, minFontText = "";
  document.querySelectorAll("body *").forEach(function (el) {
    var text = Array.prototype.some.call(el.childNodes, function (n) { return n.nodeType === 3 && n.textContent.trim() !== ""; });
    if (!text || el.tagName === "SCRIPT" || el.tagName === "STYLE") { return; }
    var px = parseFloat(getComputedStyle(el).fontSize);
    if (px < minFont) { minFont = px; minFontText = el.tagName + ": " + el.textContent.trim().slice(0, 40); }
  });
  var charts = document.querySelectorAll("img.chart"), minChartScale = Infinity;
  charts.forEach(function (i) { minChartScale = Math.min(minChartScale, i.getBoundingClientRect().width / i.naturalWidth); });
  var ctl = document.getElementById("dogrun-probe-control");
  var imgs = Array.prototype.slice.call(document.images).filter(function (i) { return i !== ctl; });
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
    .map(function (i) { return i.alt || i.src.slice(0, 40); });
  ctl.remove();
  var probe = document.createElement("pre");
  probe.id = "dogrun-probe";
  probe.style.display = "none";
  probe.textContent = JSON.stringify({images: imgs.length, broken: broken,
    controlBroken: !(ctl.complete && ctl.naturalWidth > 0),
    minFontPx: minFont, minFontText: minFontText, charts: charts.length, minChartScale: minChartScale,
    width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight});
  document.body.appendChild(probe);
});
</script>`

var probeRE = regexp.MustCompile(`(?s)<pre id="dogrun-probe"[^>]*>(.*?)</pre>`)

type probeResult struct {
	Images        int
	Broken        []string
	ControlBroken bool
	Width, Height int
	MinFontPx     float64
	MinFontText   string
	Charts        int
	MinChartScale float64
}

// minTextPx is the smallest text a reader should have to read, in CSS px.
const minTextPx = 11

// openInBrowser opens page in headless chromium (through a copy carrying
// the probe, beside it so relative links resolve), saves a screenshot of
// the whole page under artifactsDir as shot, and returns what the probe saw.
func openInBrowser(t *testing.T, bin, page, shot string) probeResult {
	t.Helper()
	src, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, []byte("</body>")) {
		t.Fatalf("%s has no </body>", page)
	}
	probed := strings.TrimSuffix(page, ".html") + ".probe.html"
	if err := os.WriteFile(probed, bytes.Replace(src, []byte("</body>"), []byte(probeScript+"</body>"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(probed)
	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := filepath.Abs(filepath.Join(artifactsDir, shot))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(out)

	// One run dumps the DOM and takes the screenshot; only a page taller
	// than the guessed window needs a second run for the full picture.
	run := func(height int) probeResult {
		dom := runChromium(t, bin, "--window-size="+strconv.Itoa(browserWidth)+","+strconv.Itoa(height),
			"--virtual-time-budget=10000", "--screenshot="+out, "--dump-dom", "file://"+probed)
		m := probeRE.FindSubmatch(dom)
		if m == nil {
			t.Fatalf("%s: the probe did not run (no load event?); DOM starts %.300q", page, dom)
		}
		var r probeResult
		if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &r); err != nil {
			t.Fatalf("%s: probe output %q: %v", page, m[1], err)
		}
		return r
	}
	height := 6000
	r := run(height)
	if r.Height > height && height < maxShotHeight {
		height = min(r.Height, maxShotHeight)
		r = run(height)
	}
	if !r.ControlBroken {
		t.Fatalf("%s: the probe took a broken control image for a loaded one", page)
	}
	checkScreenshot(t, out, height)
	return r
}

// maxShotHeight bounds the screenshot of a very long report.
const maxShotHeight = 16000

// checkScreenshot checks the PNG chromium saved and that it shows something.
func checkScreenshot(t *testing.T, path string, height int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	if sz := img.Bounds().Size(); sz.X != browserWidth || sz.Y != height {
		t.Errorf("screenshot is %v, want %dx%d", sz, browserWidth, height)
	}
	if f := inkFraction(img); f < 0.02 {
		t.Errorf("screenshot %s is %.1f%% non-white: page looks empty", path, 100*f)
	}
	t.Logf("screenshot: %s", path)
}

// inkFraction is the share of pixels that are not near-white.
func inkFraction(img image.Image) float64 {
	b := img.Bounds()
	ink := 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xe000 || g < 0xe000 || bl < 0xe000 {
				ink++
			}
		}
	}
	return float64(ink) / float64((b.Dx()+1)/2*((b.Dy()+1)/2))
}

// TestReportOpensInBrowser renders a report and a trial page in headless
// chromium: every image must load and the layout must fit a laptop screen.
// Screenshots stay in testdata/artifacts/.
func TestReportOpensInBrowser(t *testing.T) {
	bin := needs.Chromium(t)
	dir, d := writeSweep(t)
	pages := map[string]string{
		"report.png": filepath.Join(dir, "report.html"),
		"trial.png":  filepath.Join(dir, "trials", d.Trials[0].Hash[:16], "index.html"),
	}
	for shot, page := range pages {
		r := openInBrowser(t, bin, page, shot)
		want := checkHTMLPage(t, page)
		if r.Images != want || want == 0 {
			t.Errorf("%s: the browser saw %d images, the file has %d", page, r.Images, want)
		}
		if len(r.Broken) > 0 {
			t.Errorf("%s: %d of %d images did not load: %q", page, len(r.Broken), r.Images, r.Broken)
		}
		if r.Width > browserWidth {
			t.Errorf("%s is %dpx wide in a %dpx window: something overflows", page, r.Width, browserWidth)
		}
		if r.MinFontPx < minTextPx {
			t.Errorf("%s: text of %gpx (%q), want at least %dpx", page, r.MinFontPx, r.MinFontText, minTextPx)
		}
		// A chart's smallest text is plots.MinTextPx at its own size.
		if r.Charts == 0 || r.MinChartScale*plots.MinTextPx < minTextPx {
			t.Errorf("%s: of %d charts one is shown at %.2f of its size, so its smallest text is %.1fpx, want at least %dpx",
				page, r.Charts, r.MinChartScale, r.MinChartScale*plots.MinTextPx, minTextPx)
		}
		t.Logf("%s: smallest text %gpx (%q); smallest chart text %.1fpx", filepath.Base(page), r.MinFontPx, r.MinFontText, r.MinChartScale*plots.MinTextPx)
	}
}
