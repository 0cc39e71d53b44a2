package report

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"

	"github.com/dogrun/dogrun/results"
)

// GradCAM is the report's Grad-CAM section: where the best trial looks in a
// few of its test photos, as overlays the caller drew (the report runs no
// backbone), or why there are none.
type GradCAM struct {
	Trial results.Trial
	CAMs  []CAM
	Note  string // why there are no overlays, when there are none
}

// CAM is the Grad-CAM overlay of the predicted dog on one test photo.
type CAM struct {
	Photo      string // relative to the dataset folder
	True, Pred string
	Prob       float64 // the predicted dog's probability
	File       string  // the overlay, relative to the report's folder
	PNG        []byte
	// Occluded: the Grad-CAM map was empty (nothing in it raises the dog's
	// score), and the overlay shows occlusion sensitivity instead; Empty:
	// that found nothing either, and the overlay is the photo unmarked.
	Occluded, Empty bool
}

func (g *GradCAM) figures() []figure {
	out := make([]figure, len(g.CAMs))
	for i, c := range g.CAMs {
		verdict := "right"
		if c.True != c.Pred {
			verdict = "wrong: dog " + c.True
		}
		caption := fmt.Sprintf("%s: predicted dog %s (%.2f), %s", c.Photo, c.Pred, c.Prob, verdict)
		switch {
		case c.Empty:
			caption += ". Grad-CAM map empty, and greying out no part of the photo lowers the score: photo unmarked"
		case c.Occluded:
			caption += ". Grad-CAM map empty (no positive evidence); shown: occlusion sensitivity"
		}
		out[i] = figure{Name: c.File, PNG: c.PNG, Caption: caption}
	}
	return out
}

func (g *GradCAM) intro() string {
	if len(g.CAMs) == 0 {
		return "No Grad-CAM overlays: " + g.Note
	}
	return fmt.Sprintf("Grad-CAM heatmaps of trial %d (%s, seed %d) on test photos it got right and wrong: "+
		"red marks the regions that raise the predicted dog's score most. "+
		"Where Grad-CAM finds no such region (its map is zero everywhere), the caption says so and the tile shows occlusion sensitivity instead: "+
		"red marks where greying out a square of the photo lowers the dog's probability most. "+
		"`dogrun gradcam -trial %s PHOTO` draws one for any photo.",
		trialNumber(g.Trial), g.Trial.VariantKey, g.Trial.Seed, shortHash(g.Trial.Hash))
}

// Markdown shows the overlays, files the caller keeps beside report.md.
func (g *GradCAM) Markdown() string {
	var b strings.Builder
	b.WriteString("## Where the best trial looks\n\n" + g.intro() + "\n")
	for _, f := range g.figures() {
		fmt.Fprintf(&b, "\n![%s](%s)\n\n*%s*\n", f.Caption, f.Name, f.Caption)
	}
	return b.String()
}

var gradCAMHTML = htmltemplate.Must(htmltemplate.New("gradcam").Parse(`<h2>Where the best trial looks</h2>
<p>{{.Intro}}</p>
<div class="side">
{{- range .Figures}}
<figure style="flex: 0 1 240px"><img src="{{.DataURI}}" alt="{{.Caption}}"><figcaption>{{.Caption}}</figcaption></figure>
{{- end}}
</div>`))

// HTML shows the overlays embedded.
func (g *GradCAM) HTML() htmltemplate.HTML {
	var b bytes.Buffer
	intro := strings.ReplaceAll(g.intro(), "`", "")
	if err := gradCAMHTML.Execute(&b, map[string]any{"Intro": intro, "Figures": g.figures()}); err != nil {
		return htmltemplate.HTML("<p>grad-cam: " + htmltemplate.HTMLEscapeString(err.Error()) + "</p>")
	}
	return htmltemplate.HTML(b.String())
}
