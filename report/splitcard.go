package report

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"slices"
	"sort"
	"strings"

	"github.com/dogrun/dogrun/internal/english"
	"github.com/dogrun/dogrun/results"
)

// SplitCard says how an experiment's photos were divided: the near-duplicate
// grouping, photos per class and part, how many groups were kept together,
// and for the leaky protocol how many test rows have a copy in training.
type SplitCard struct {
	Method    string
	Threshold float64
	KFold     int
	Views     int
	Classes   int
	Photos    int
	// Near-duplicate groups of two or more photos, kept on one side of
	// every split, and the photos in them.
	Groups, GroupedPhotos, LargestGroup int
	Parts                               []PartCount // per fold (one row for a holdout split)
	PerClass                            []ClassCount
	Dropped                             []string
	Cross                               []results.CrossClassPair
	// Leaky is set when some trials used the leaky protocol.
	Leaky *LeakyCount
}

// PartCount is the number of photos in each part of one fold.
type PartCount struct {
	Fold             int
	Train, Val, Test int
}

// ClassCount is one class's photos, groups and, for a holdout split, parts.
type ClassCount struct {
	Name                          string
	Photos, Groups, GroupedPhotos int
	Train, Val, Test              int // holdout only (k-fold tests every photo once)
}

// LeakyCount describes the leaky protocol's test rows.
type LeakyCount struct {
	TestRows, CopiesInTraining int
}

// BuildSplitCard summarizes stored splits; nil when there are none.
func BuildSplitCard(splits []results.Split) *SplitCard {
	var honest, leaky *results.Split
	for i := range splits {
		if splits[i].Leaky {
			leaky = &splits[i]
		} else {
			honest = &splits[i]
		}
	}
	if honest == nil && leaky == nil {
		return nil
	}
	c := &SplitCard{}
	if leaky != nil {
		c.Leaky = leakyCount(leaky)
	}
	if honest == nil {
		c.Method, c.Classes, c.Dropped, c.Cross = "none (leaky protocol only)", len(leaky.Classes), leaky.Dropped, leaky.CrossClass
		return c
	}
	c.Method, c.Threshold, c.KFold, c.Views = honest.Method, honest.Threshold, honest.KFold, honest.Views
	c.Classes, c.Dropped, c.Cross = len(honest.Classes), honest.Dropped, honest.CrossClass
	firstFold := -1
	groupSize := map[int]int{}
	perClass := make([]ClassCount, len(honest.Classes))
	for i, name := range honest.Classes {
		perClass[i].Name = name
	}
	parts := map[int]*PartCount{}
	var folds []int
	for _, u := range honest.Units {
		if firstFold < 0 {
			firstFold = u.Fold
		}
		p, ok := parts[u.Fold]
		if !ok {
			p = &PartCount{Fold: u.Fold}
			parts[u.Fold] = p
			folds = append(folds, u.Fold)
		}
		switch u.Part {
		case results.PartTrain:
			p.Train++
		case results.PartVal:
			p.Val++
		case results.PartTest:
			p.Test++
		}
		if u.Fold != firstFold || u.Class < 0 || u.Class >= len(perClass) {
			continue
		}
		c.Photos++
		groupSize[u.Group]++
		pc := &perClass[u.Class]
		pc.Photos++
		if honest.KFold == 0 {
			switch u.Part {
			case results.PartTrain:
				pc.Train++
			case results.PartVal:
				pc.Val++
			case results.PartTest:
				pc.Test++
			}
		}
	}
	sort.Ints(folds)
	for _, f := range folds {
		c.Parts = append(c.Parts, *parts[f])
	}
	classOfGroup := map[int]int{}
	for _, u := range honest.Units {
		if u.Fold == firstFold {
			classOfGroup[u.Group] = u.Class
		}
	}
	for g, n := range groupSize {
		if n < 2 {
			continue
		}
		c.Groups++
		c.GroupedPhotos += n
		c.LargestGroup = max(c.LargestGroup, n)
		if ci := classOfGroup[g]; ci >= 0 && ci < len(perClass) {
			perClass[ci].Groups++
			perClass[ci].GroupedPhotos += n
		}
	}
	c.PerClass = perClass
	if c.KFold == 0 && len(c.Parts) > 1 {
		// dataset.resample: every seed draws its dogs from the stored
		// classes; the per-class table shows the first draw's.
		c.PerClass = slices.DeleteFunc(perClass, func(pc ClassCount) bool { return pc.Photos == 0 })
		c.Classes = len(c.PerClass)
	}
	return c
}

func leakyCount(s *results.Split) *LeakyCount {
	l := &LeakyCount{}
	type key struct {
		fold  int
		photo string
	}
	train := map[key]bool{}
	for _, u := range s.Units {
		if u.Part == results.PartTrain {
			train[key{u.Fold, u.Photo}] = true
		}
	}
	for _, u := range s.Units {
		if u.Part == results.PartTest {
			l.TestRows++
			if train[key{u.Fold, u.Photo}] {
				l.CopiesInTraining++
			}
		}
	}
	return l
}

// Summary is the card's text in a few sentences.
func (c *SplitCard) Summary() []string {
	var out []string
	if c.Photos > 0 {
		grouping := "Near-duplicates were not grouped (split.group: none): burst shots and re-crops of one photo may be on both sides."
		if c.Method != "none" {
			grouping = fmt.Sprintf("Near-duplicates found by %s (threshold %g): %s holding %s (the largest %d) were each kept on one side of every split.",
				c.Method, c.Threshold, english.Count(c.Groups, "group"), english.Count(c.GroupedPhotos, "photo"), c.LargestGroup)
		}
		out = append(out, fmt.Sprintf("%s of %s.", english.Count(c.Photos, "photo"), english.Count(c.Classes, "class|classes")), grouping)
		protocol := "One holdout split, stratified by class."
		if c.KFold == 0 && len(c.Parts) > 1 {
			protocol = fmt.Sprintf("Each of %d seeds draws its own dogs and holdout split, stratified by class (dataset.resample); counts are the first draw's, parts are per draw.", len(c.Parts))
		}
		if c.KFold > 0 {
			protocol = fmt.Sprintf("%d folds, stratified by class; every photo is tested once per seed.", c.KFold)
		}
		if c.Views > 0 {
			protocol += fmt.Sprintf(" Training photos get %s each, after the split.", english.Count(c.Views, "augmented copy|augmented copies"))
		}
		out = append(out, protocol)
	}
	if len(c.Dropped) > 0 {
		out = append(out, fmt.Sprintf("%s left out: %s.", english.Count(len(c.Dropped), "class|classes"), strings.Join(c.Dropped, ", ")))
	}
	for _, p := range c.Cross {
		out = append(out, fmt.Sprintf("Warning: %s and %s are the same photo filed under two dogs.", p.A, p.B))
	}
	if l := c.Leaky; l != nil {
		out = append(out, fmt.Sprintf("LEAKY protocol (augment first, then split) for the trials marked leaky: %d of its %s have a copy of the same photo in training, so its accuracy is inflated. It is shown only for comparison.",
			l.CopiesInTraining, english.Count(l.TestRows, "test row")))
	}
	return out
}

func (c *SplitCard) partRows() [][]string {
	var rows [][]string
	for _, p := range c.Parts {
		name := "holdout"
		switch {
		case p.Fold > 0 && c.KFold == 0:
			name = fmt.Sprintf("draw %d", p.Fold) // dataset.resample: the k-th seed's
		case p.Fold > 0:
			name = fmt.Sprintf("fold %d", p.Fold)
		}
		rows = append(rows, []string{name, fmt.Sprint(p.Train), fmt.Sprint(p.Val), fmt.Sprint(p.Test)})
	}
	return rows
}

func (c *SplitCard) classRows() (header []string, rows [][]string) {
	header = []string{"class", "photos", "groups (photos)"}
	if c.KFold == 0 {
		header = append(header, "train", "val", "test")
	}
	for _, pc := range c.PerClass {
		r := []string{pc.Name, fmt.Sprint(pc.Photos), fmt.Sprintf("%d (%d)", pc.Groups, pc.GroupedPhotos)}
		if c.KFold == 0 {
			r = append(r, fmt.Sprint(pc.Train), fmt.Sprint(pc.Val), fmt.Sprint(pc.Test))
		}
		rows = append(rows, r)
	}
	return header, rows
}

// Markdown renders the card as a report section; the per-class table is
// folded away, as it has a row per dog.
func (c *SplitCard) Markdown() string {
	var b strings.Builder
	b.WriteString("## Split\n\n")
	for _, s := range c.Summary() {
		b.WriteString(s + "\n")
	}
	if len(c.Parts) > 0 {
		b.WriteString("\n| split | train photos | val photos | test photos |\n|---|---:|---:|---:|\n")
		for _, r := range c.partRows() {
			b.WriteString("| " + strings.Join(r, " | ") + " |\n")
		}
	}
	if len(c.PerClass) > 0 {
		header, rows := c.classRows()
		b.WriteString("\n<details><summary>Photos per class</summary>\n\n| " + strings.Join(header, " | ") + " |\n|---|" + strings.Repeat("---:|", len(header)-1) + "\n")
		for _, r := range rows {
			b.WriteString("| " + strings.Join(r, " | ") + " |\n")
		}
		b.WriteString("\n</details>\n")
	}
	return b.String()
}

var splitCardHTML = htmltemplate.Must(htmltemplate.New("split").Parse(`<h2>Split</h2>
{{range .Summary}}<p>{{.}}</p>
{{end}}{{if .Parts}}<table class="split">
<tr><th>split</th><th>train photos</th><th>val photos</th><th>test photos</th></tr>
{{- range .Parts}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table>{{end}}
{{if .Rows}}<details><summary>Photos per class</summary>
<table class="perclass">
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{- range .Rows}}
<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</table></details>{{end}}`))

// HTML renders the card as a report section.
func (c *SplitCard) HTML() htmltemplate.HTML {
	header, rows := c.classRows()
	var b bytes.Buffer
	err := splitCardHTML.Execute(&b, map[string]any{"Summary": c.Summary(), "Parts": c.partRows(), "Header": header, "Rows": rows})
	if err != nil {
		return htmltemplate.HTML("<p>split: " + htmltemplate.HTMLEscapeString(err.Error()) + "</p>")
	}
	return htmltemplate.HTML(b.String())
}
