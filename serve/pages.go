package serve

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/report"
	"github.com/dogrun/dogrun/results"
)

// pages are the parsed templates: each page file with the layout.
type pages struct {
	sets map[string]*template.Template
}

var pageFiles = []string{"experiments.html", "experiment.html", "trial.html", "compare.html", "identify.html", "error.html"}

var funcs = template.FuncMap{
	"f3":       f3,
	"pct":      func(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) },
	"interval": report.Interval,
	"dur":      seconds,
	"short":    func(h string) string { return h[:min(12, len(h))] },
	"add":      func(a, b int) int { return a + b },
	"width":    func(x float64) string { return fmt.Sprintf("%.1f%%", 100*math.Max(0, math.Min(1, x))) },
	"clock":    func(t time.Time) string { return t.Local().Format("15:04:05") },
	"nan":      math.IsNaN,
	"epoch":    perEpoch,
}

// perEpoch is an epoch's time: milliseconds below a second.
func perEpoch(s float64) string {
	switch {
	case math.IsNaN(s):
		return "–"
	case s < 1:
		return fmt.Sprintf("%.0f ms", 1000*s)
	}
	return fmt.Sprintf("%.2f s", s)
}

func parsePages() (*pages, error) {
	p := &pages{sets: map[string]*template.Template{}}
	for _, f := range pageFiles {
		t, err := template.New(f).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+f)
		if err != nil {
			return nil, fmt.Errorf("serve: templates: %w", err)
		}
		p.sets[f] = t
	}
	return p, nil
}

// view is what every page's template sees: the layout's fields and the
// page's own data as D.
type view struct {
	Title    string
	Events   string           // the live stream this page follows; "" for none
	Versions results.Versions // what the page shows, so that the stream's first event can tell whether it is current
	Path     string           // the page's URL, for links back to it
	D        any
}

// render writes template name of page (the whole page: "layout") with v.
func (p *pages) render(w http.ResponseWriter, page, name string, v any) error {
	return p.renderStatus(w, http.StatusOK, page, name, v)
}

// renderStatus is render with another status than 200.
func (p *pages) renderStatus(w http.ResponseWriter, status int, page, name string, v any) error {
	b, err := p.html(page, name, v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

// html is template name of page executed with v.
func (p *pages) html(page, name string, v any) ([]byte, error) {
	var b bytes.Buffer
	err := p.sets[page].ExecuteTemplate(&b, name, v)
	return b.Bytes(), err
}

// error writes a page saying what went wrong.
func (p *pages) error(w http.ResponseWriter, status int, msg string) {
	if err := p.renderStatus(w, status, "error.html", "layout", view{Title: http.StatusText(status), D: msg}); err != nil {
		http.Error(w, msg, status)
	}
}

// f3 is a metric with three decimals, or a dash when there is none.
func f3(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.3f", x)
}

// seconds is a duration for people: 45 s, 3 min 05 s, 2 h 10 min.
func seconds(s float64) string {
	if math.IsNaN(s) || math.IsInf(s, 0) || s < 0 {
		return "–"
	}
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	switch {
	case s < 9.95:
		return fmt.Sprintf("%.1f s", s)
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min %02d s", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
}

// link is path with query parameters, given as name, value pairs; empty
// values are left out.
func link(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Add(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// summary is the t interval of values summed in SQL.
func summary(m results.Moments) metrics.Summary {
	return metrics.SummarizeSums(m.N, m.Sum, m.SumSq)
}

// pager is one page of a list of Total items, Size at a time.
type pager struct {
	Page, Pages, Total, Size int
	First, Last              int // the items shown, counted from 1
	Prev, Next               string
}

// newPager places page (from 1) of total items; link makes a page's URL.
func newPager(page, total, size int, link func(page int) string) pager {
	pages := max(1, (total+size-1)/size)
	page = min(max(page, 1), pages)
	p := pager{Page: page, Pages: pages, Total: total, Size: size, First: (page-1)*size + 1, Last: min(page*size, total)}
	if page > 1 {
		p.Prev = link(page - 1)
	}
	if page < pages {
		p.Next = link(page + 1)
	}
	return p
}

// Offset is the first item's index.
func (p pager) Offset() int { return (p.Page - 1) * p.Size }

// words joins the non-empty parts with ", ".
func words(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ", ")
}
