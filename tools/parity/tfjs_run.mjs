// Runs an original TF.js model on the pure-JavaScript CPU backend and writes
// the named outputs as JSON, the reference for dogrun's ONNX conversions.
//
//   node tfjs_run.mjs graph|layers MODEL INPUT.f32 N,H,W,C OUT.json NAME...
//
// MODEL is a model.json, or a browserify bundle (model.min.js) as nsfwjs ships
// it; weight shards are looked up beside it by their manifest paths, raw or as
// bundles exporting base64 (path + ".min.js"), the way nsfwjs loads them.
// INPUT.f32 holds little-endian float32 NHWC pixels, already preprocessed.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import * as tf from '@tensorflow/tfjs';

const [kind, modelPath, inputPath, shapeArg, outPath, ...names] = process.argv.slice(2);
if (!['graph', 'layers'].includes(kind) || !outPath || names.length === 0) {
	console.error('usage: node tfjs_run.mjs graph|layers MODEL INPUT.f32 N,H,W,C OUT.json NAME...');
	process.exit(2);
}

// A bundle's exports, evaluated in an empty context: the files are data. The
// JSON round trip brings objects into this realm, where tfjs-layers' instanceof
// Array checks hold.
function bundleExports(file) {
	const module = { exports: {} };
	vm.runInNewContext(fs.readFileSync(file, 'utf8'), { module, exports: module.exports });
	return JSON.parse(JSON.stringify(module.exports.default ?? module.exports));
}

function readModel(file) {
	return file.endsWith('.js') ? bundleExports(file) : JSON.parse(fs.readFileSync(file, 'utf8'));
}

function readShard(dir, p) {
	const raw = path.join(dir, p);
	if (fs.existsSync(raw)) return new Uint8Array(fs.readFileSync(raw));
	return new Uint8Array(Buffer.from(bundleExports(raw + '.min.js'), 'base64'));
}

const json = readModel(modelPath);
const dir = path.dirname(modelPath);
const weightSpecs = [];
const shards = [];
for (const group of json.weightsManifest) {
	for (const p of group.paths) shards.push(readShard(dir, p));
	weightSpecs.push(...group.weights);
}
const weightData = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
let off = 0;
for (const s of shards) {
	weightData.set(s, off);
	off += s.length;
}
const handler = tf.io.fromMemory({
	modelTopology: json.modelTopology,
	format: json.format,
	generatedBy: json.generatedBy,
	convertedBy: json.convertedBy,
	signature: json.signature,
	weightSpecs,
	weightData: weightData.buffer,
});

await tf.setBackend('cpu');
await tf.ready();
const shape = shapeArg.split(',').map(Number);
const buf = fs.readFileSync(inputPath);
const x = tf.tensor(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4), shape);

let outs;
if (kind === 'graph') {
	const model = await tf.loadGraphModel(handler);
	outs = await model.executeAsync(x, names);
} else {
	const model = await tf.loadLayersModel(handler);
	const sub = tf.model({ inputs: model.inputs, outputs: names.map((n) => model.getLayer(n).output) });
	outs = sub.predict(x);
}
if (!Array.isArray(outs)) outs = [outs];
const result = [];
for (let i = 0; i < names.length; i++) {
	result.push({ name: names[i], shape: outs[i].shape, data: Array.from(await outs[i].data()) });
}
fs.writeFileSync(outPath, JSON.stringify(result));
