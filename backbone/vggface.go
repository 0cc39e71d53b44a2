package backbone

import (
	"strings"

	"github.com/dogrun/dogrun/convert/keras"
)

// keras-vggface's weights are on GitHub releases, which dogrun cannot reach,
// so its three architectures are bring-your-own: the user gives the .h5 file.
func init() {
	desc := map[keras.Arch]string{
		keras.VGG16:    "VGG16 face recognizer trained on VGGFace (2622 identities), keras-vggface weights",
		keras.ResNet50: "ResNet-50 face recognizer trained on VGGFace2 (8631 identities), keras-vggface weights",
		keras.SENet50:  "SE-ResNet-50 face recognizer trained on VGGFace2 (8631 identities), keras-vggface weights",
	}
	for _, a := range []keras.Arch{keras.VGG16, keras.ResNet50, keras.SENet50} {
		// keras_vggface.utils.preprocess_input: RGB to BGR, then minus the
		// mean of version 1 (VGG16) or 2 (the VGGFace2 models).
		mean := [3]float32{91.4953, 103.8827, 131.0912}
		if a == keras.VGG16 {
			mean = [3]float32{93.5940, 104.7624, 129.1863}
		}
		var cuts []Cut
		var top []string
		for _, o := range keras.Outputs(a) {
			cuts = append(cuts, Cut{Name: o.Name, Output: o.Name, Dim: o.Dim})
			if o.Top {
				top = append(top, o.Name)
			}
		}
		registry = append(registry, Spec{
			Name:        "vggface-" + string(a),
			Description: desc[a],
			Source: Source{Own: "keras-vggface .h5 (" + keras.WeightsFile(a, false) + "; " +
				keras.WeightsFile(a, true) + " adds " + strings.Join(top, ", ") + ")"},
			License:          "your file's own terms",
			Format:           "keras-h5",
			Convert:          keras.Convert(a),
			CheckFile:        func(path string) ([]string, error) { return keras.Check(a, path) },
			ConverterVersion: "1",
			InputName:        "input",
			InputSize:        keras.InputSize,
			Layout:           "NCHW",
			Channels:         "BGR",
			Mean:             mean,
			Scale:            [3]float32{1, 1, 1},
			Cuts:             cuts,
		})
	}
}
