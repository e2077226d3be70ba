// actlab lab: the page. It only draws: every network is trained and measured by the actlab
// server this page came from, over one WebSocket (see src/bin/actlab/lab.rs).
"use strict";

const $ = (id) => document.getElementById(id);
const GRID = 100;
const ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "gelu:tanh",
  "silu", "softplus", "mish", "softsign", "relu6", "hard_sigmoid", "hard_swish", "prelu"];
// Activations with a parameter, and its default (typed after a colon: leaky_relu:0.2).
const PARAMETERS = { leaky_relu: "0.01", elu: "1", softplus: "1", prelu: "0.25" };
const FEATURES = [["x1", "x₁"], ["x2", "x₂"], ["x1_sq", "x₁²"], ["x2_sq", "x₂²"], ["x1_x2", "x₁x₂"],
  ["sin_x1", "sin x₁"], ["sin_x2", "sin x₂"]];
const RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REGULARISATION = [0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1];
const CLASS_COLOURS = [[245, 147, 34], [8, 119, 189], [60, 160, 60], [160, 60, 160], [200, 40, 40]];
// Each preset is one of the claims `actlab experiments` measures, set up to be watched.
const PRESETS = {
  linear: {
    name: "Linear collapse on XOR",
    note: "Without a non-linear activation, stacked layers are one linear map: the boundary stays a straight line and the loss stays near ln 2. Switch the activation to tanh and watch it bend.",
    config: { data: "xor", hidden: [8, 8], activations: ["identity"], learning_rate: 0.03 },
  },
  vanishing: {
    name: "Vanishing gradients in a deep sigmoid network",
    note: "Six sigmoid layers: each multiplies the gradient by at most 0.25. The gradient-flow panel shows the first layer's gradient orders of magnitude below the last's. A/B against ReLU.",
    config: { data: "circle", hidden: [8, 8, 8, 8, 8, 8], activations: ["sigmoid"], learning_rate: 0.03 },
    b: ["relu"],
  },
  dying: {
    name: "ReLU units dying at a large learning rate",
    note: "At a learning rate of 1, a few large steps push ReLU units below zero on every sample: they are marked dead and never recover. Leaky ReLU (B) keeps a gradient.",
    config: { data: "spiral", hidden: [8, 8, 8], activations: ["relu"], learning_rate: 1, optimizer: "sgd" },
    b: ["leaky_relu"],
  },
  tanh_sigmoid: {
    name: "tanh against sigmoid",
    note: "Same network, same draws and batches: tanh's zero-centred outputs and four times larger slope train faster than sigmoid. Both loss curves share the chart (B dashed).",
    config: { data: "circle", hidden: [4, 4], activations: ["tanh"], learning_rate: 0.1 },
    b: ["sigmoid"],
  },
  relu_speed: {
    name: "ReLU against tanh on the spiral",
    note: "The spiral needs many bends; compare how quickly ReLU and tanh find them.",
    config: { data: "spiral", hidden: [8, 8, 8], activations: ["relu"], learning_rate: 0.01, optimizer: "adam", features: ["x1", "x2", "sin_x1", "sin_x2"] },
    b: ["tanh"],
  },
  softmax: {
    name: "Softmax over five classes",
    note: "Five Gaussian classes: the output is a softmax; the boundary view colours each point of the plane by its most probable class.",
    config: { data: "multi_gauss", classes: 5, noise: 0.2, hidden: [8], activations: ["relu"], learning_rate: 0.03 },
  },
  output_range: {
    name: "Output activation against the target range",
    note: "The plane's targets run from -1 to 1, but a sigmoid output only reaches (0, 1): the loss stalls at the negative half, whatever the hidden layers do. Set the output to auto (identity) and it fits.",
    config: { data: "plane", noise: 0, hidden: [4], activations: ["tanh"], output: "sigmoid", learning_rate: 0.03 },
  },
};

const state = {
  config: {
    data: "circle", classes: 3, samples: 500, noise: 0.05, train_ratio: 0.5, features: ["x1", "x2"],
    hidden: [4, 4], activations: ["tanh", "tanh"], output: null, optimizer: "sgd", learning_rate: 0.03, batch_size: 10,
    l1: 0, l2: 0, seed: 0,
  },
  b: null, csv: null, setup: null, frames: null, curves: {}, history: [[], []],
  playing: false, inflight: false, epochsPerStep: 10, dirty: false, link: null,
  counters: { epochs: 0, redraws: 0, since: performance.now(), lastEpoch: 0 },
};

let socket;

window.addEventListener("resize", () => { state.centres = null; state.dirty = true; });

function connect() {
  socket = new WebSocket(`ws://${location.host}/ws`);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => { send({ type: "curves", names: ACTIVATIONS }); setup(); };
  socket.onmessage = (event) => (typeof event.data === "string" ? onText(JSON.parse(event.data)) : onBinary(event.data));
  socket.onclose = () => showError("The connection to actlab closed; is `actlab lab` still running? Reload to reconnect.");
}

function send(message) { socket.send(JSON.stringify(message)); }

function showError(message) {
  $("error").hidden = !message;
  $("error").textContent = message || "";
}

function onText(message) {
  if (message.type === "error") {
    state.inflight = false;
    showError(message.message);
    // A refused upload is forgotten; the networks trained before it stay.
    if (state.csv && message.message.startsWith("the uploaded CSV")) {
      state.csv = null;
      $("upload").value = "";
    }
  } else if (message.type === "curves") {
    for (const c of message.curves) state.curves[c.name] = c;
    buildNetwork();
  } else if (message.type === "setup") {
    showError("");
    state.setup = message;
    const what = message.task === "classification" ? `classes ${message.classes.join(", ")}` : "a numeric target";
    $("source").textContent = `${state.csv ? "Your CSV" : "Generated"}: ${message.labels.length} rows (${message.train} for training), inputs ${message.inputs.join(", ")}, ${what}.`;
    state.history = [[], []];
    state.frames = null;
    buildNetwork();
    step(0);
  } else if (message.type === "data") {
    download(new Blob([message.csv], { type: "text/csv" }), message.test ? "lab-test.csv" : "lab-train.csv");
  }
}

function onBinary(buffer) {
  const bytes = new Uint8Array(buffer);
  if (bytes[0] === 2) {
    download(new Blob([bytes.subarray(1)], { type: "application/octet-stream" }), "lab.safetensors");
    return;
  }
  const view = new DataView(buffer);
  const frames = [];
  let at = 2;
  for (let n = 0; n < bytes[1]; n++) {
    const length = view.getUint32(at, true);
    const frame = JSON.parse(new TextDecoder().decode(bytes.subarray(at + 4, at + 4 + length)));
    at += 4 + length;
    const heat = view.getUint32(at, true);
    frame.heatmaps = bytes.subarray(at + 4, at + 4 + heat);
    at += 4 + heat;
    frames.push(frame);
  }
  state.inflight = false;
  if (state.playing) {
    // Spend about 4 ms of a display frame on training (the rest goes to the frame itself):
    // more epochs when they take less, fewer when more, so a larger network trains fewer
    // epochs per frame but the page never freezes.
    const ms = frames.reduce((sum, f) => sum + f.train_ms, 0);
    if (ms < 3) state.epochsPerStep = Math.min(1000, Math.ceil(state.epochsPerStep * 1.2));
    else if (ms > 5) state.epochsPerStep = Math.max(1, Math.floor(state.epochsPerStep / 1.2));
  }
  state.counters.epochs += frames[0].epoch - state.counters.lastEpoch;
  state.counters.lastEpoch = frames[0].epoch;
  frames.forEach((f, i) => {
    const h = state.history[i];
    if (!h.length || h[h.length - 1].epoch !== f.epoch) h.push({ epoch: f.epoch, train: f.train_loss, test: f.test_loss });
    if (h.length > 1000) state.history[i] = h.filter((_, k) => k % 2 === 0 || k === h.length - 1);
  });
  state.frames = frames;
  state.dirty = true;
  if (frames[0].diverged && state.playing) togglePlay();
  // The next step trains while this frame is drawn, so a fresh frame is ready for the next one.
  if (state.playing) step(state.epochsPerStep);
}

function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function step(epochs) {
  if (state.inflight || !state.setup) return;
  state.inflight = true;
  send({ type: "step", epochs });
}

function setup() {
  const c = state.config;
  c.activations = c.hidden.map((_, i) => c.activations[i] || c.activations[c.activations.length - 1] || "tanh");
  state.counters.lastEpoch = 0;
  const b = state.b ? c.hidden.map(() => state.b) : null;
  const request = { type: "setup", config: c, b };
  if (state.csv) request.csv = state.csv;
  state.inflight = false;
  send(request);
  history.replaceState(null, "", "#" + encodeURIComponent(JSON.stringify({ config: c, b: state.b })));
  readControls();
}

// Controls ---------------------------------------------------------------------------------

function options(select, values, current) {
  select.innerHTML = values.map((v) => `<option value="${v}">${v}</option>`).join("");
  select.value = String(current);
}

function readControls() {
  const c = state.config;
  $("data").value = c.data;
  $("classes").value = c.classes;
  $("samples").value = c.samples;
  $("noise").value = c.noise;
  $("noise-out").textContent = c.noise;
  $("train-ratio").value = c.train_ratio;
  $("ratio-out").textContent = Math.round(c.train_ratio * 100) + " %";
  $("batch").value = c.batch_size;
  options($("lr"), RATES, c.learning_rate);
  options($("l1"), REGULARISATION, c.l1);
  options($("l2"), REGULARISATION, c.l2);
  $("optimizer").value = c.optimizer;
  $("seed").value = c.seed;
  $("ab").checked = !!state.b;
  options($("b-activation"), ACTIVATIONS, state.b || "relu");
  $("features").innerHTML = FEATURES.map(([name, label]) =>
    `<label><input type="checkbox" data-feature="${name}" ${c.features.includes(name) ? "checked" : ""}> ${label}</label>`).join("");
  $("forget-upload").hidden = !state.csv;
}

function bindControls() {
  const c = state.config;
  const change = (id, apply) => $(id).addEventListener("change", (e) => { apply(e.target.value, e.target); setup(); });
  change("data", (v) => { c.data = v; state.csv = null; });
  change("classes", (v) => (c.classes = +v));
  change("samples", (v) => (c.samples = +v));
  change("noise", (v) => (c.noise = +v));
  change("train-ratio", (v) => (c.train_ratio = +v));
  change("batch", (v) => (c.batch_size = +v));
  change("lr", (v) => (c.learning_rate = +v));
  change("l1", (v) => (c.l1 = +v));
  change("l2", (v) => (c.l2 = +v));
  change("optimizer", (v) => (c.optimizer = v));
  change("seed", (v) => (c.seed = +v));
  change("ab", (_, el) => (state.b = el.checked ? $("b-activation").value : null));
  change("b-activation", (v) => (state.b = $("ab").checked ? v : null));
  $("features").addEventListener("change", () => {
    c.features = [...document.querySelectorAll("[data-feature]")].filter((e) => e.checked).map((e) => e.dataset.feature);
    setup();
  });
  $("add-layer").onclick = () => { if (c.hidden.length < 6) { c.hidden.push(4); setup(); } };
  $("remove-layer").onclick = () => { if (c.hidden.length) { c.hidden.pop(); setup(); } };
  $("reset").onclick = () => setup();
  $("play").onclick = togglePlay;
  $("step").onclick = () => step(1);
  $("show-test").onchange = () => (state.dirty = true);
  $("discretize").onchange = () => (state.dirty = true);
  $("download-model").onclick = () => send({ type: "model" });
  $("download-train").onclick = () => send({ type: "data", test: false });
  $("download-test").onclick = () => send({ type: "data", test: true });
  $("upload").onchange = (e) => {
    const file = e.target.files[0];
    if (!file) return;
    if (file.size > 2 << 20) { showError(`${file.name} has ${file.size} bytes; the lab takes at most 2048 KiB`); return; }
    file.text().then((text) => { state.csv = text; setup(); });
  };
  $("forget-upload").onclick = () => { state.csv = null; $("upload").value = ""; setup(); };
  $("network").onclick = (e) => { const link = linkAt(e); if (link) openLinkEditor(link); };
  $("network").onmousemove = (e) => { $("network").style.cursor = linkAt(e) ? "pointer" : ""; };
  const preset = $("preset");
  preset.innerHTML += Object.entries(PRESETS).map(([k, p]) => `<option value="${k}">${p.name}</option>`).join("");
  preset.onchange = () => {
    const p = PRESETS[preset.value];
    if (!p) return;
    // The handlers above hold this config object: replace its contents, not the object.
    for (const k of Object.keys(c)) delete c[k];
    Object.assign(c, defaults(), p.config);
    state.b = p.b ? p.b[0] : null;
    state.csv = null;
    $("preset-note").textContent = p.note;
    buildNetwork();
    setup();
  };
}

function defaults() {
  return { data: "circle", classes: 3, samples: 500, noise: 0.05, train_ratio: 0.5, features: ["x1", "x2"], hidden: [4, 4],
    activations: ["tanh"], output: null, optimizer: "sgd", learning_rate: 0.03, batch_size: 10, l1: 0, l2: 0, seed: 0 };
}

// The incoming weights and bias of one neuron of network A, editable; training goes on from
// the edited values.
function openEditor(layer, unit) {
  const frame = state.frames && state.frames[0];
  const editor = $("editor");
  if (!frame || !frame.layers[layer]) return;
  const l = frame.layers[layer];
  const inputs = l.weights.length / l.biases.length;
  const names = layer === 0 ? state.setup.inputs : [...Array(inputs).keys()].map((i) => `neuron ${i + 1}`);
  const field = (label, from, value) =>
    `<label>${label} <input type="number" step="0.1" data-from="${from}" value="${value.toFixed(3)}"></label>`;
  editor.innerHTML = `<b>${layer === frame.layers.length - 1 ? "Output" : `Hidden layer ${layer + 1}, neuron ${unit + 1}`}</b> ` +
    names.map((n, i) => field(`from ${n}`, i, l.weights[unit * inputs + i])).join("") +
    field("bias", inputs, l.biases[unit]) + ` <button id="close-editor">close</button>`;
  editor.hidden = false;
  state.link = null;
  state.dirty = true;
  editor.querySelectorAll("input").forEach((input) => {
    input.onchange = () => send({ type: "set_weight", net: 0, layer, to: unit, from: +input.dataset.from, value: +input.value });
  });
  $("close-editor").onclick = closeEditor;
}

function closeEditor() {
  $("editor").hidden = true;
  state.link = null;
  state.dirty = true;
}

// The weight of one link of network A, editable as in Playground (Enter applies it); training
// goes on from the edited value.
function openLinkEditor({ layer, to, from }) {
  const frame = state.frames[0];
  const l = frame.layers[layer];
  const inputs = l.weights.length / l.biases.length;
  const source = layer === 0 ? featureLabel(state.setup.inputs[from]) : `neuron ${from + 1} of hidden layer ${layer}`;
  const target = layer < frame.layers.length - 1 ? `neuron ${to + 1} of hidden layer ${layer + 1}`
    : l.biases.length > 1 ? `the output of class ${state.setup.classes[to]}` : "the output";
  const editor = $("editor");
  editor.innerHTML = `<b>Weight from ${source} to ${target}</b> <input type="number" step="0.1" id="link-weight" ` +
    `value="${l.weights[to * inputs + from].toFixed(3)}"> Enter applies it <button id="close-editor">close</button>`;
  editor.hidden = false;
  state.link = { layer, to, from };
  state.dirty = true;
  const input = $("link-weight");
  input.onchange = () => {
    if (input.value !== "") send({ type: "set_weight", net: 0, layer, to, from, value: +input.value });
  };
  input.focus();
  input.select();
  $("close-editor").onclick = closeEditor;
}

function togglePlay() {
  state.playing = !state.playing;
  $("play").textContent = state.playing ? "❚❚ Pause" : "▶ Play";
}

// Network diagram ---------------------------------------------------------------------------

function buildNetwork() {
  const c = state.config;
  const s = state.setup;
  const columns = $("columns");
  columns.innerHTML = "";
  const inputs = s ? s.inputs : c.features;
  const input = column("Inputs");
  for (const name of inputs) {
    input.append(element("div", "input", featureLabel(name)));
  }
  columns.append(input);
  c.hidden.forEach((width, layer) => {
    const col = column("");
    const head = col.querySelector(".head");
    head.append(`${width} neurons `);
    const plus = element("button", "", "+");
    plus.onclick = () => { if (c.hidden[layer] < 8) { c.hidden[layer]++; setup(); } };
    const minus = element("button", "", "−");
    minus.onclick = () => { if (c.hidden[layer] > 1) { c.hidden[layer]--; setup(); } };
    head.append(plus, minus, document.createElement("br"));
    const select = document.createElement("select");
    select.className = "activation";
    select.dataset.layer = layer;
    const [base, parameter] = splitActivation(c.activations[layer] || "tanh");
    options(select, ACTIVATIONS, base);
    select.onchange = () => { c.activations[layer] = select.value; setup(); };
    head.append(select);
    if (base in PARAMETERS) {
      const input = element("input", "parameter");
      input.placeholder = PARAMETERS[base];
      input.title = `the parameter of ${base} (default ${PARAMETERS[base]})`;
      input.value = parameter;
      input.onchange = () => { c.activations[layer] = input.value ? `${base}:${input.value}` : base; setup(); };
      head.append(input);
    }
    const curve = document.createElement("canvas");
    curve.width = 92;
    curve.height = 70;
    curve.className = "curve";
    head.append(document.createElement("br"), curve);
    for (let u = 0; u < width; u++) col.append(neuron(`n-${layer}-${u}`, layer, u));
    columns.append(col);
  });
  const out = column("Output");
  const output = document.createElement("select");
  output.id = "output";
  options(output, ["auto", ...ACTIVATIONS, "softmax"], c.output || "auto");
  output.onchange = () => { c.output = output.value === "auto" ? null : output.value; setup(); };
  out.querySelector(".head").append(document.createElement("br"), output);
  const classes = s && s.task === "classification" && s.classes.length > 2 ? s.classes : [];
  // Several classes: one box per class probability (linked to its output unit), then the
  // most probable class.
  classes.forEach((name, k) => {
    const box = neuron(`n-class-${k}`, c.hidden.length, k);
    box.title = `probability of class ${name}`;
    out.append(box);
  });
  out.append(neuron("n-out", c.hidden.length, 0));
  columns.append(out);
  state.centres = null;
  closeEditor();
}

function featureLabel(name) {
  return (FEATURES.find(([n]) => n === name) || [name, name])[1];
}

// "leaky_relu:0.2" → ["leaky_relu", "0.2"]; "gelu:tanh" is a name of its own.
function splitActivation(name) {
  if (name === "gelu:tanh" || !name.includes(":")) return [name, ""];
  const at = name.indexOf(":");
  return [name.slice(0, at), name.slice(at + 1)];
}

function column(title) {
  const col = element("div", "column");
  col.append(element("div", "head", title));
  return col;
}

function element(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function neuron(id, layer, unit) {
  const box = element("div", "neuron");
  box.id = id;
  box.onclick = () => openEditor(layer, unit);
  const canvas = document.createElement("canvas");
  canvas.width = GRID;
  canvas.height = GRID;
  box.append(canvas);
  return box;
}

// Drawing -----------------------------------------------------------------------------------

// 256 colours from orange (0) through white to blue (255), as Playground draws [-1, 1].
const DIVERGING = (() => {
  const table = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    const [a, w] = t < 0.5 ? [CLASS_COLOURS[0], 1 - t * 2] : [CLASS_COLOURS[1], t * 2 - 1];
    for (let k = 0; k < 3; k++) table[i * 3 + k] = 255 + (a[k] - 255) * w;
  }
  return table;
})();

// Paints one GRID × GRID heatmap: orange-white-blue, or with `colour` white to that colour.
function paintGrid(canvas, values, offset, colour) {
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(GRID, GRID);
  const d = image.data;
  for (let i = 0; i < GRID * GRID; i++) {
    const v = values[offset + i];
    for (let k = 0; k < 3; k++) d[i * 4 + k] = colour ? 255 + ((colour[k] - 255) * v) / 255 : DIVERGING[v * 3 + k];
    d[i * 4 + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

const OFFSCREEN = Object.assign(document.createElement("canvas"), { width: GRID, height: GRID });

function paintOutput(canvas, frame) {
  const s = state.setup;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(GRID, GRID);
  const d = image.data;
  const heat = frame.heatmaps;
  const classes = s.task === "classification" ? s.classes.length : 1;
  const discrete = $("discretize").checked;
  for (let i = 0; i < GRID * GRID; i++) {
    let colour;
    if (classes > 2) {
      let best = 0;
      for (let k = 1; k < classes; k++) if (heat[k * GRID * GRID + i] > heat[best * GRID * GRID + i]) best = k;
      const p = discrete ? 1 : heat[best * GRID * GRID + i] / 255;
      colour = CLASS_COLOURS[best].map((c) => 255 + (c - 255) * p * 0.8);
    } else {
      let v = heat[i];
      if (discrete) v = v >= 128 ? 255 : 0;
      colour = [DIVERGING[v * 3], DIVERGING[v * 3 + 1], DIVERGING[v * 3 + 2]];
    }
    d[i * 4] = colour[0];
    d[i * 4 + 1] = colour[1];
    d[i * 4 + 2] = colour[2];
    d[i * 4 + 3] = 255;
  }
  const grid = OFFSCREEN;
  grid.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(grid, 0, 0, canvas.width, canvas.height);
  drawPoints(ctx, canvas.width);
}

function drawPoints(ctx, size) {
  const s = state.setup;
  const [x0, x1, y0, y1] = s.domain;
  const showTest = $("show-test").checked;
  const regression = s.task === "regression";
  s.points.forEach(([a, b], i) => {
    const test = i >= s.train;
    if (test && !showTest) return;
    const px = ((a - x0) / (x1 - x0)) * size;
    const py = ((y1 - b) / (y1 - y0)) * size;
    let colour;
    if (regression) {
      const v = Math.max(0, Math.min(255, Math.round(((s.labels[i] + 1) / 2) * 255)));
      colour = [DIVERGING[v * 3], DIVERGING[v * 3 + 1], DIVERGING[v * 3 + 2]];
    } else colour = CLASS_COLOURS[s.labels[i]];
    ctx.beginPath();
    ctx.arc(px, py, 3, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${colour.join(",")})`;
    ctx.fill();
    ctx.lineWidth = test ? 1.5 : 0.7;
    ctx.strokeStyle = test ? "#000" : "#fff";
    ctx.stroke();
  });
}

function drawCurve(canvas, name, histogram) {
  const ctx = canvas.getContext("2d");
  const { width: w, height: h } = canvas;
  ctx.clearRect(0, 0, w, h);
  if (histogram) {
    const max = Math.max(1, ...histogram);
    ctx.fillStyle = "#ccc";
    histogram.forEach((c, i) => {
      const bh = (c / max) * h * 0.9;
      ctx.fillRect((i / histogram.length) * w, h - bh, w / histogram.length - 1, bh);
    });
  }
  const curve = state.curves[name];
  if (!curve) {
    // A function with a parameter: ask the server for its curve once.
    state.requested = state.requested || {};
    if (!state.requested[name]) {
      state.requested[name] = true;
      send({ type: "curves", names: [name] });
    }
    return;
  }
  const all = curve.f.concat(curve.df).filter(Number.isFinite);
  const lo = Math.min(-1, ...all), hi = Math.max(1, ...all);
  const y = (v) => h - ((Math.max(lo, Math.min(hi, v)) - lo) / (hi - lo)) * (h - 4) - 2;
  ctx.strokeStyle = "#eee";
  ctx.beginPath(); ctx.moveTo(0, y(0)); ctx.lineTo(w, y(0)); ctx.moveTo(w / 2, 0); ctx.lineTo(w / 2, h); ctx.stroke();
  for (const [values, colour] of [[curve.f, "#000"], [curve.df, "#2a2"]]) {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    values.forEach((v, i) => { const x = (i / (values.length - 1)) * w; i ? ctx.lineTo(x, y(v)) : ctx.moveTo(x, y(v)); });
    ctx.stroke();
  }
}

// Where each column's boxes are, measured once per layout (measuring forces a layout).
function measureNetwork() {
  const canvas = $("links");
  const box = $("network").getBoundingClientRect();
  canvas.width = $("columns").scrollWidth;
  canvas.height = $("columns").scrollHeight;
  const cols = [...document.querySelectorAll("#columns .column")];
  state.centres = cols.map((col) => [...col.querySelectorAll(".neuron, .input")].map((e) => {
    const r = e.getBoundingClientRect();
    return [r.left - box.left + $("network").scrollLeft, r.right - box.left + $("network").scrollLeft, (r.top + r.bottom) / 2 - box.top];
  }));
}

// The link drawn from box `f` to box `t` (as measureNetwork gives them): a cubic Bézier curve's
// four control points.
function linkCurve(f, t) {
  const mid = (f[1] + t[0]) / 2;
  return [[f[1], f[2]], [mid, f[2]], [mid, t[2]], [t[0], t[2]]];
}

// The link of network A under the mouse event `e` (within 6 pixels; the nearest), or null.
function linkAt(e) {
  const frame = state.frames && state.frames[0];
  if (!frame || !state.centres || e.target.closest(".neuron, .input, .head")) return null;
  const box = $("network").getBoundingClientRect();
  const x = e.clientX - box.left + $("network").scrollLeft, y = e.clientY - box.top;
  let best = null;
  frame.layers.forEach((layer, l) => {
    const from = state.centres[l], to = state.centres[l + 1];
    if (!from || !to) return;
    to.forEach((t, o) => from.forEach((f, i) => {
      if (layer.weights[o * from.length + i] === undefined) return;
      const d = distanceToCurve(linkCurve(f, t), x, y);
      if (d <= 6 && (!best || d < best.d)) best = { d, layer: l, to: o, from: i };
    }));
  });
  return best;
}

// Distance from (x, y) to a Bézier curve, followed in 32 straight pieces.
function distanceToCurve([p0, p1, p2, p3], x, y) {
  let best = Infinity, a = p0;
  for (let k = 1; k <= 32; k++) {
    const s = k / 32, r = 1 - s;
    const b = [0, 1].map((d) => r * r * r * p0[d] + 3 * r * r * s * p1[d] + 3 * r * s * s * p2[d] + s * s * s * p3[d]);
    const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
    const along = Math.max(0, Math.min(1, ((x - a[0]) * dx + (y - a[1]) * dy) / (dx * dx + dy * dy || 1)));
    best = Math.min(best, Math.hypot(x - a[0] - along * dx, y - a[1] - along * dy));
    a = b;
  }
  return best;
}

function drawLinks(frame) {
  const canvas = $("links");
  if (!state.centres) measureNetwork();
  const centres = state.centres;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  frame.layers.forEach((layer, l) => {
    const from = centres[l], to = centres[l + 1];
    if (!from || !to) return;
    const inputs = from.length;
    let max = 1e-6;
    for (const w of layer.weights) max = Math.max(max, Math.abs(w));
    to.forEach((t, o) => from.forEach((f, i) => {
      const w = layer.weights[o * inputs + i];
      if (w === undefined) return;
      const [p0, p1, p2, p3] = linkCurve(f, t);
      const width = Math.max(0.3, (Math.abs(w) / max) * 5);
      const link = state.link;
      // The link being edited: outlined in black.
      const outlines = link && link.layer === l && link.to === o && link.from === i ? [["#000", width + 4]] : [];
      for (const [colour, lineWidth] of [...outlines, [w > 0 ? "rgba(8,119,189,0.8)" : "rgba(245,147,34,0.8)", width]]) {
        ctx.strokeStyle = colour;
        ctx.lineWidth = lineWidth;
        ctx.beginPath();
        ctx.moveTo(...p0);
        ctx.bezierCurveTo(...p1, ...p2, ...p3);
        ctx.stroke();
      }
    }));
  });
}

function drawNetwork(frame) {
  const s = state.setup;
  const plane = !!s.domain;
  const outputs = frame.layers[frame.layers.length - 1].dead.length;
  let offset = outputs * GRID * GRID;
  frame.layers.slice(0, -1).forEach((layer, l) => {
    layer.dead.forEach((dead, u) => {
      const box = $(`n-${l}-${u}`);
      if (!box) return;
      const sat = layer.saturated[u];
      box.classList.toggle("dead", dead);
      box.classList.toggle("saturated", sat !== null && sat > 0.5);
      box.title = `layer ${l + 1}, neuron ${u + 1}: ${dead ? "dead" : "alive"}` + (sat !== null ? `, saturated on ${Math.round(sat * 100)} % of samples` : "");
      if (plane) paintGrid(box.querySelector("canvas"), frame.heatmaps, offset);
      offset += GRID * GRID;
    });
    const curve = document.querySelectorAll(".curve")[l];
    if (curve) drawCurve(curve, layer.activation, layer.histogram);
  });
  const out = $("n-out");
  if (out && plane) paintOutput(out.querySelector("canvas"), frame);
  for (let k = 0; plane && $(`n-class-${k}`); k++) paintGrid($(`n-class-${k}`).querySelector("canvas"), frame.heatmaps, k * GRID * GRID, CLASS_COLOURS[k]);
  drawLinks(frame);
}

function drawChart() {
  const canvas = $("chart");
  const ctx = canvas.getContext("2d");
  const { width: w, height: h } = canvas;
  ctx.clearRect(0, 0, w, h);
  const all = state.history.flat();
  if (!all.length) return;
  const last = Math.max(1, ...all.map((p) => p.epoch));
  // Log scale: from the largest loss down to the smallest (at most 4 decades below).
  const values = all.flatMap((p) => [p.train, p.test]).filter((v) => Number.isFinite(v) && v > 0);
  const top = Math.log10(Math.max(1e-9, ...values));
  const bottom = Math.max(top - 4, Math.log10(Math.min(...values, 10 ** top)) - 0.1);
  const y = (v) => h - 2 - ((Math.max(bottom, Math.log10(Math.max(v, 1e-30))) - bottom) / Math.max(1e-9, top - bottom)) * (h - 6);
  state.history.forEach((h_, n) => {
    if (!values.length) return;
    for (const [key, colour] of [["train", "#888"], ["test", "#000"]]) {
      ctx.strokeStyle = colour;
      ctx.setLineDash(n ? [4, 3] : []);
      ctx.beginPath();
      h_.forEach((p, i) => {
        const x = (p.epoch / last) * w;
        i ? ctx.lineTo(x, y(p[key])) : ctx.moveTo(x, y(p[key]));
      });
      ctx.stroke();
    }
  });
  ctx.setLineDash([]);
}

// Numbers turned null by JSON (NaN and infinities after a divergence) print as a dash.
function exp(v) { return Number.isFinite(v) ? v.toExponential(2) : "–"; }

function drawGradients(frames) {
  const rows = frames.map((frame, n) => {
    const max = Math.max(...frame.layers.map((l) => l.grad_norm).filter(Number.isFinite), 1e-30);
    const cells = frame.layers.map((l, i) => {
      const width = Number.isFinite(l.grad_norm) ? Math.max(1, 80 + 16 * Math.log10(l.grad_norm / max)) : 0;
      return `<tr><td>${i + 1 === frame.layers.length ? "output" : "hidden " + (i + 1)}</td><td>${l.activation}</td><td>${exp(l.grad_norm)}</td><td>${exp(l.grad_to_weight)}</td><td style="text-align:left"><span class="bar" style="width:${width}px"></span></td></tr>`;
    }).join("");
    const label = frames.length > 1 ? (n ? "B: " : "A: ") : "";
    return `<p><b>${label}${frame.verdict}</b>: the first layer's gradient is ${exp(frame.gradient_ratio)} times the last's.</p><table><tr><th>layer</th><th>σ</th><th>‖∇W‖</th><th>‖∇W‖/‖W‖</th><th>log scale</th></tr>${cells}</table>`;
  });
  $("gradients").innerHTML = rows.join("");
}

function fmt(v) { return v === null || v === undefined ? "–" : Number.isFinite(v) ? v.toFixed(3) : String(v); }

function draw() {
  const frames = state.frames;
  if (!frames || !state.setup) return;
  const a = frames[0];
  $("epoch").textContent = a.epoch;
  if (state.setup.domain) paintOutput($("heatmap"), a);
  $("heatmap").hidden = !state.setup.domain;
  drawNetwork(a);
  drawChart();
  // Text is rewritten at most 10 times a second: nobody reads numbers faster, and each
  // rewrite costs a layout.
  const now = performance.now();
  if (!a.diverged && a.epoch !== 0 && now - (state.textAt || 0) < 100) {
    state.textPending = true;
    return;
  }
  state.textAt = now;
  state.textPending = false;
  const score = state.setup.task === "classification" ? "accuracy" : "R²";
  $("losses").innerHTML = frames.map((f, n) =>
    `<div>${frames.length > 1 ? (n ? "B " + f.layers[0].activation + " (dashed)" : "A " + f.layers[0].activation) + ": " : ""}training loss <b class="train-loss">${fmt(f.train_loss)}</b>, test loss <b class="test-loss">${fmt(f.test_loss)}</b>; ${score} ${fmt(f.train_score)} / ${fmt(f.test_score)}</div>`).join("");
  drawGradients(frames);
  const diverged = frames.map((f) => f.diverged).filter(Boolean);
  $("diverged").hidden = !diverged.length;
  $("diverged").textContent = diverged.join(" ");
  $("command").value = a.command;
}

function loop(now) {
  if (state.playing) step(state.epochsPerStep);
  if (state.textPending && now - state.textAt >= 100) state.dirty = true;
  if (state.dirty) {
    state.dirty = false;
    draw();
    state.counters.redraws++;
  }
  const c = state.counters;
  if (now - c.since >= 1000) {
    const seconds = (now - c.since) / 1000;
    $("eps").textContent = Math.round(c.epochs / seconds);
    $("fps").textContent = Math.round(c.redraws / seconds);
    $("epf").textContent = c.redraws ? (c.epochs / c.redraws).toFixed(1) : "0";
    c.epochs = 0;
    c.redraws = 0;
    c.since = now;
  }
  requestAnimationFrame(loop);
}

function fromUrl() {
  if (location.hash.length < 2) return;
  try {
    const saved = JSON.parse(decodeURIComponent(location.hash.slice(1)));
    Object.assign(state.config, saved.config || {});
    state.b = saved.b || null;
  } catch (e) {
    showError("The set-up in the address could not be read; the defaults are used.");
  }
}

fromUrl();
bindControls();
readControls();
connect();
requestAnimationFrame(loop);
