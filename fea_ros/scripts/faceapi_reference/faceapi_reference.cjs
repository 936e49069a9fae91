#!/usr/bin/env node
// Runs the original @vladmandic/face-api 1.7.15 nets (tfjs 4.22 pure-JS CPU backend) on 112x112 RGB crops and
// writes their outputs as JSON, the reference for fea_ros' ONNX conversions (test_model_fidelity.py).
//
//   npm install                      # in a copy of this folder (package.json pins the versions)
//   node faceapi_reference.cjs CROPS.rgb OUT.json
//
// CROPS.rgb: N crops of 112x112x3 uint8 RGB, concatenated row-major (written by make_crops.py).
'use strict';

const fs = require('fs');
const path = require('path');
// the node-wasm build takes tfjs from node_modules instead of tfjs-node's native binary; the CPU backend is used
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

const { tf } = faceapi;
const SIZE = 112;

function loadNet(net, modelDir, name) {
  // read the shards ourselves and let tfjs decode them, so the bytes are exactly the npm package's
  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, `${name}-weights_manifest.json`), 'utf8'));
  const specs = [];
  const buffers = [];
  for (const group of manifest) {
    specs.push(...group.weights);
    for (const shard of group.paths) buffers.push(fs.readFileSync(path.join(modelDir, shard)));
  }
  const joined = Buffer.concat(buffers);
  const arrayBuffer = joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength);
  net.loadFromWeightMap(tf.io.decodeWeights(arrayBuffer, specs));
}

async function main() {
  const [cropsPath, outPath] = process.argv.slice(2);
  if (!cropsPath || !outPath) {
    console.error('usage: node faceapi_reference.cjs CROPS.rgb OUT.json');
    process.exit(2);
  }
  await tf.setBackend('cpu');
  await tf.ready();
  const packageDir = path.dirname(require.resolve('@vladmandic/face-api/package.json'));
  const modelDir = path.join(packageDir, 'model');
  loadNet(faceapi.nets.faceExpressionNet, modelDir, 'face_expression_model');
  loadNet(faceapi.nets.faceLandmark68Net, modelDir, 'face_landmark_68_model');

  const crops = fs.readFileSync(cropsPath);
  const cropBytes = SIZE * SIZE * 3;
  if (crops.length === 0 || crops.length % cropBytes !== 0) {
    throw new Error(`${cropsPath} holds ${crops.length} bytes, not a multiple of ${cropBytes} (112x112x3 crops)`);
  }
  const count = crops.length / cropBytes;
  const inputs = [];
  for (let i = 0; i < count; i += 1) {
    const pixels = Float32Array.from(crops.subarray(i * cropBytes, (i + 1) * cropBytes));
    inputs.push(tf.tensor3d(pixels, [SIZE, SIZE, 3], 'float32'));
  }
  const expression = await faceapi.nets.faceExpressionNet.forward(inputs);
  const landmarks = await faceapi.nets.faceLandmark68Net.forward(inputs);
  const pkg = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
  const result = {
    library: `@vladmandic/face-api ${pkg.version}`,
    tfjs: tf.version.tfjs,
    backend: tf.getBackend(),
    crops: path.basename(cropsPath),
    count,
    expression_labels: ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'],
    expression: await expression.array(),
    landmark68: await landmarks.array(),
  };
  fs.writeFileSync(outPath, `${JSON.stringify(result)}\n`);
  console.log(`wrote ${outPath}: ${count} crops, backend ${result.backend}, tfjs ${result.tfjs}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
