package serve

import (
	"context"
	"net/http"
	"sort"
	"strconv"

	"github.com/dogrun/dogrun/metrics"
	"github.com/dogrun/dogrun/results"
	"github.com/dogrun/dogrun/runner"
)

// comparePhotosPerPage is how many shared test photos the compare page lists at once.
const comparePhotosPerPage = 40

// maxCompared bounds the columns of the compare page.
const maxCompared = 8

// compareItem is one column: a variant of an experiment, all its done seeds.
type compareItem struct {
	Label, Link string
	Experiment  string
	Variant     string
	Hash        string // a trial of the variant: how the item is named in links
	Seeds       int
	Accuracy    metrics.Summary // over its seeds, on all its test photos
	Shared      float64         // its accuracy on the photos every column tested
	Remove      string
	outcomes    map[string][]cellAnswer // by photo content (sha256): one answer per seed
	photo       map[string]string       // by photo content: its path in the experiment's folder
	trueName    map[string]string
	data        *expData // its experiment's, for its photos
}

// cellAnswer is one seed's answer on a photo.
type cellAnswer struct {
	right bool
	pred  string
}

// compareCell is a column's answers on one photo.
type compareCell struct {
	Right, Seeds int
	Wrong        string // the dog most often named instead, when any seed erred
}

// comparePhoto is a test photo every column tested.
type comparePhoto struct {
	Name, Photo, True string
	Cells             []compareCell
	Agree             bool
	rank              int // 0: the columns disagree; 1: all wrong; 2: all right
}

type compareView struct {
	Items       []*compareItem
	Photos      []comparePhoto
	Pager       pager
	Shared      int
	Disagree    int
	Experiments []string
	Hidden      [][2]string // the current choice, kept by the form that adds to it
	Note        string
	Pair        *pairCounts
}

// pairCounts tallies two columns' majority answers on the shared photos.
type pairCounts struct {
	A, B                             string
	Both, OnlyA, OnlyB, Neither, Tie int
}

// comparePage puts variants of one or several experiments side by side on
// the test photos they all tested (matched by content, so the same photo
// in two experiments' folders counts once): v=HASH names the variant of a
// trial, e=NAME an experiment's best variant.
func (s *Server) comparePage(w http.ResponseWriter, r *http.Request) error {
	c, cancel := ctx(r)
	defer cancel()
	q := r.URL.Query()
	v := &compareView{}
	exps, err := s.st.ExperimentOverviews(c)
	if err != nil {
		return err
	}
	for _, e := range exps {
		v.Experiments = append(v.Experiments, e.Name)
	}
	var kv []string
	for _, h := range q["v"] {
		kv = append(kv, "v", h)
		v.Hidden = append(v.Hidden, [2]string{"v", h})
	}
	for _, name := range q["e"] {
		kv = append(kv, "e", name)
		v.Hidden = append(v.Hidden, [2]string{"e", name})
	}
	if len(v.Hidden) > maxCompared {
		return badRequest("at most %d columns can be compared at once", maxCompared)
	}
	for i, h := range v.Hidden {
		item, err := s.compareItem(c, h[0], h[1])
		if err != nil {
			return err
		}
		rest := append(append([]string{}, kv[:2*i]...), kv[2*i+2:]...)
		item.Remove = link("/compare", rest...)
		v.Items = append(v.Items, item)
	}
	switch {
	case len(v.Items) == 0:
		v.Note = "Choose what to compare: tick variants on an experiment's page, or add experiments below."
	case len(v.Items) == 1:
		v.Note = "Add another experiment or variant to compare with."
	}
	if len(v.Items) > 0 {
		s.sharePhotos(v, atoi(q.Get("page")), func(p int) string { return link("/compare", append(kv, "page", strconv.Itoa(p))...) })
	}
	return s.pages.render(w, "compare.html", "layout", view{Title: "Compare", Path: r.URL.RequestURI(), D: v})
}

// compareItem reads one column: kind "v" (the variant of trial id) or "e"
// (the best variant of experiment id).
func (s *Server) compareItem(c context.Context, kind, id string) (*compareItem, error) {
	var e results.Experiment
	var variant, hash string
	switch kind {
	case "v":
		exp, t, err := s.trial(c, id)
		if err != nil {
			return nil, err
		}
		e, variant, hash = exp, t.VariantKey, t.Hash
	default:
		exp, err := s.experiment(c, id)
		if err != nil {
			return nil, err
		}
		d, err := s.expData(c, exp)
		if err != nil {
			return nil, err
		}
		if len(d.Variants) == 0 || d.Variants[0].Done == 0 {
			return nil, notFound("experiment %s has no done trial to compare", exp.Name)
		}
		e, variant, hash = exp, d.Variants[0].Key, d.Variants[0].Hash
	}
	outcomes, err := s.st.PhotoOutcomes(c, e.ID, variant)
	if err != nil {
		return nil, err
	}
	item := &compareItem{Experiment: e.Name, Variant: variant, Hash: hash, Link: link("/experiment", "e", e.Name, "variant", variant) + "#trials",
		Label: e.Name + ": " + variant, outcomes: map[string][]cellAnswer{}, photo: map[string]string{}, trueName: map[string]string{}}
	if variant == "" {
		item.Label = e.Name
	}
	names := map[int64][]string{}
	right := map[int64][2]int{}
	for _, o := range outcomes {
		if runner.IsCopy(o.Photo) || o.PhotoSHA256 == "" {
			continue // a leaky trial's augmented copy is no photo of the folder
		}
		n, ok := names[o.TrialID]
		if !ok {
			if n, err = s.st.ClassNames(c, o.TrialID); err != nil {
				return nil, err
			}
			names[o.TrialID] = n
		}
		item.outcomes[o.PhotoSHA256] = append(item.outcomes[o.PhotoSHA256], cellAnswer{right: o.True == o.Pred, pred: n[o.Pred]})
		item.photo[o.PhotoSHA256] = o.Photo
		item.trueName[o.PhotoSHA256] = n[o.True]
		r := right[o.TrialID]
		r[1]++
		if o.True == o.Pred {
			r[0]++
		}
		right[o.TrialID] = r
	}
	var accs []float64
	for _, r := range right {
		accs = append(accs, float64(r[0])/float64(r[1]))
	}
	item.Seeds, item.Accuracy = len(accs), metrics.Summarize(accs)
	if item.data, err = s.expData(c, e); err != nil {
		return nil, err
	}
	return item, nil
}

// sharePhotos lists the photos every column tested: those the columns
// answer differently first, then those all get wrong, then the rest.
func (s *Server) sharePhotos(v *compareView, page int, pageLink func(int) string) {
	var shared []string
	for sha := range v.Items[0].outcomes {
		all := true
		for _, it := range v.Items[1:] {
			_, ok := it.outcomes[sha]
			all = all && ok
		}
		if all {
			shared = append(shared, sha)
		}
	}
	v.Shared = len(shared)
	var photos []comparePhoto
	for _, sha := range shared {
		first := v.Items[0]
		p := comparePhoto{Name: first.photo[sha], Photo: photoURL(first.data, first.photo[sha]), True: first.trueName[sha]}
		majority := map[bool]int{}
		for _, it := range v.Items {
			p.Cells = append(p.Cells, cell(it.outcomes[sha]))
			majority[2*p.Cells[len(p.Cells)-1].Right > p.Cells[len(p.Cells)-1].Seeds]++
		}
		p.Agree = len(majority) == 1
		switch {
		case !p.Agree:
			v.Disagree++
		case majority[false] > 0:
			p.rank = 1
		default:
			p.rank = 2
		}
		photos = append(photos, p)
	}
	sort.Slice(photos, func(i, j int) bool {
		if photos[i].rank != photos[j].rank {
			return photos[i].rank < photos[j].rank
		}
		return photos[i].Name < photos[j].Name
	})
	for _, it := range v.Items {
		right, all := 0, 0
		for _, sha := range shared {
			for _, a := range it.outcomes[sha] {
				all++
				if a.right {
					right++
				}
			}
		}
		if all > 0 {
			it.Shared = float64(right) / float64(all)
		}
	}
	if len(v.Items) == 2 {
		v.Pair = pairOf(v.Items[0], v.Items[1], shared)
	}
	v.Pager = newPager(page, len(photos), comparePhotosPerPage, pageLink)
	v.Photos = photos[v.Pager.Offset():v.Pager.Last]
}

// cell sums a column's seeds' answers on one photo.
func cell(answers []cellAnswer) compareCell {
	c := compareCell{Seeds: len(answers)}
	wrong := map[string]int{}
	for _, a := range answers {
		if a.right {
			c.Right++
		} else {
			wrong[a.pred]++
		}
	}
	best := 0
	for dog, n := range wrong {
		if n > best || (n == best && dog < c.Wrong) {
			c.Wrong, best = dog, n
		}
	}
	return c
}

// pairOf counts the shared photos by which of two columns gets them right
// (by the majority of its seeds; a tie is neither).
func pairOf(a, b *compareItem, shared []string) *pairCounts {
	p := &pairCounts{A: a.Label, B: b.Label}
	for _, sha := range shared {
		ca, cb := cell(a.outcomes[sha]), cell(b.outcomes[sha])
		if 2*ca.Right == ca.Seeds || 2*cb.Right == cb.Seeds {
			p.Tie++
			continue
		}
		ra, rb := 2*ca.Right > ca.Seeds, 2*cb.Right > cb.Seeds
		switch {
		case ra && rb:
			p.Both++
		case ra:
			p.OnlyA++
		case rb:
			p.OnlyB++
		default:
			p.Neither++
		}
	}
	return p
}
