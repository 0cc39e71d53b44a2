package schemas

import "path/filepath"

// BackboneFile is a Backbone.File resolved against the experiment file's
// folder when relative; "" when none is set.
func BackboneFile(e *Experiment, b Backbone) string {
	if b.File == "" || filepath.IsAbs(b.File) {
		return b.File
	}
	return filepath.Join(filepath.Dir(e.File), b.File)
}
