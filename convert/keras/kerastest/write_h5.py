# Writes a Keras HDF5 weights file the way Keras 2's save_weights (and, with
# model_weights, model.save) lays it out, from a JSON manifest and a raw
# little-endian float32 file. Used only by dogrun's tests.
import json
import sys

import h5py
import numpy as np


def save_strings(group, name, values, pieces):
    # Keras stores a list as one attribute, or as name0, name1, ... when it
    # would outgrow the object header.
    data = np.asarray([v.encode("utf8") for v in values])
    if pieces <= 1:
        group.attrs[name] = data
        return
    for i, chunk in enumerate(np.array_split(data, pieces)):
        group.attrs["%s%d" % (name, i)] = chunk


def main():
    with open(sys.argv[1]) as f:
        m = json.load(f)
    raw = np.fromfile(m["raw"], dtype="<f4")
    with h5py.File(m["path"], "w") as f:
        root = f
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        if m.get("model_weights"):
            f.attrs["model_config"] = b"{}"
            root = f.create_group("model_weights")
            root.attrs["backend"] = b"tensorflow"
            root.attrs["keras_version"] = b"2.2.4"
        names = [layer["name"] for layer in m["layers"]]
        save_strings(root, "layer_names", names, m.get("layer_name_pieces", 1))
        for layer in m["layers"]:
            g = root.require_group(layer["name"])
            ws = layer["weights"]
            g.attrs["weight_names"] = np.asarray([w["name"].encode("utf8") for w in ws])
            for w in ws:
                n = int(np.prod(w["shape"]))
                value = raw[w["offset"]:w["offset"] + n].reshape(w["shape"])
                if m.get("gzip"):
                    g.create_dataset(w["name"], data=value, compression="gzip", chunks=True)
                else:
                    g.create_dataset(w["name"], data=value)


main()
