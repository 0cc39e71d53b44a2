package metrics

import (
	"encoding/csv"
	"io"
	"strconv"
)

// num formats a score with a fixed number of decimals so that files diff
// cleanly between runs.
func num(x float64) string { return strconv.FormatFloat(x, 'f', 6, 64) }

// WriteClassificationCSV writes a table shaped like scikit-learn's
// classification_report: one row per class, then accuracy (in the f1-score
// column, as sklearn prints it), macro avg and weighted avg rows whose
// support is the number of samples.
func WriteClassificationCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	rows := [][]string{{"class", "precision", "recall", "f1-score", "support"}}
	for _, c := range r.PerClass {
		rows = append(rows, []string{c.Name, num(c.Precision), num(c.Recall), num(c.F1), strconv.Itoa(c.Support)})
	}
	n := strconv.Itoa(r.N)
	rows = append(rows,
		[]string{"accuracy", "", "", num(r.Accuracy), n},
		[]string{"macro avg", num(r.Macro.Precision), num(r.Macro.Recall), num(r.Macro.F1), n},
		[]string{"weighted avg", num(r.Weighted.Precision), num(r.Weighted.Recall), num(r.Weighted.F1), n},
	)
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}

// WriteConfusionCSV writes the confusion matrix: a header of class names
// (predicted classes) after a corner cell, then one row per true class.
func WriteConfusionCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	head := []string{`true\pred`}
	for _, c := range r.PerClass {
		head = append(head, c.Name)
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	for t, row := range r.Confusion {
		rec := []string{className(r, t)}
		for _, v := range row {
			rec = append(rec, strconv.Itoa(v))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func className(r Report, c int) string {
	if c < len(r.PerClass) {
		return r.PerClass[c].Name
	}
	return strconv.Itoa(c)
}
