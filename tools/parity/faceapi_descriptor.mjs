// Reference descriptors for dogrun's dlib-resnet34 conversion: runs
// @vladmandic/face-api's own FaceRecognitionNet (weights loaded by its own
// loadFromDisk) on the pure-JS CPU backend of @tensorflow/tfjs.
//
// usage: node faceapi_descriptor.mjs MODEL_DIR PIXELS N
//   MODEL_DIR holds face_recognition_model-weights_manifest.json and its shard.
//   PIXELS is N images of 150x150x3 float32 little-endian, HWC, RGB, 0..255.
// Prints JSON {"descriptors": [[128 floats] x N], ...} on stdout.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const [modelDir, pixelsPath, nArg] = process.argv.slice(2);
const n = Number(nArg);
if (!modelDir || !pixelsPath || !(n > 0)) {
  console.error('usage: node faceapi_descriptor.mjs MODEL_DIR PIXELS N');
  process.exit(2);
}

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs');

// face-api's node-wasm build is the one that takes plain @tensorflow/tfjs, but it
// also requires the wasm backend, which only adds backends we do not use. It is
// evaluated here with that one require answered by an empty module, so the net
// runs exactly as shipped, on the same tf instance as this script.
const faceapiPath = require.resolve('@vladmandic/face-api/dist/face-api.node-wasm.js');
const faceapiRequire = createRequire(faceapiPath);
const shimRequire = (id) => (id === '@tensorflow/tfjs-backend-wasm' ? {} : faceapiRequire(id));
const module = { exports: {} };
// eslint-disable-next-line no-new-func
new Function('require', 'module', 'exports', '__filename', '__dirname', readFileSync(faceapiPath, 'utf8'))(
  shimRequire, module, module.exports, faceapiPath, faceapiPath.replace(/\/[^/]*$/, ''),
);
const faceapi = module.exports;

await tf.setBackend('cpu');
await tf.ready();

const net = new faceapi.FaceRecognitionNet();
await net.loadFromDisk(modelDir);

const buf = readFileSync(pixelsPath);
const size = 150 * 150 * 3;
if (buf.length !== n * size * 4) {
  console.error(`${pixelsPath}: ${buf.length} bytes, want ${n * size * 4}`);
  process.exit(2);
}
const all = new Float32Array(buf.buffer, buf.byteOffset, n * size);
const descriptors = [];
for (let i = 0; i < n; i++) {
  const img = tf.tensor3d(all.slice(i * size, (i + 1) * size), [150, 150, 3], 'float32');
  // computeFaceDescriptor is face-api's public entry point: NetInput, its
  // normalisation and the forward pass.
  const d = await net.computeFaceDescriptor(img);
  img.dispose();
  descriptors.push(Array.from(d));
}
process.stdout.write(JSON.stringify({
  backend: tf.getBackend(),
  tfjs: tf.version.tfjs,
  faceapi: faceapi.version,
  descriptors,
}));
