// ptpip live view page: reads /stream.mjpg itself (to count and pace frames), polls
// /api/state once per second for the viewfinder overlay, and drives /api/set and
// /api/capture. Plain JavaScript, no build step, nothing loaded from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const BOTTOM = new Set(["shutter", "aperture", "exp-bias", "iso"]);
const END = new Set(["battery", "shots"]);
const page = {
  seq: 0, // the server's number of the frame on screen
  drawn: 0,
  pending: null, // the newest frame not drawn yet (older ones are dropped)
  drawing: false,
  controls: [],
  captureSeq: 0,
  overlay: true,
  lastValues: {},
};

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function status(text, error = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", error);
}

function message(text) {
  const el = $("message");
  el.textContent = text || "";
  el.hidden = !text;
}

// -- the MJPEG stream ----------------------------------------------------------------------

function indexOfBlank(buf, from) {
  for (let i = from; i + 3 < buf.length; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

function takePart(buf) {
  const end = indexOfBlank(buf, 0);
  if (end < 0) return null;
  const headers = {};
  for (const line of new TextDecoder("latin1").decode(buf.subarray(0, end)).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers["content-length"]);
  if (!Number.isFinite(length)) throw new Error("a stream part without Content-Length");
  const start = end + 4;
  if (buf.length < start + length) return null;
  return { headers, body: buf.slice(start, start + length), rest: buf.subarray(start + length) };
}

async function readStream() {
  const response = await fetch("/stream.mjpg", { cache: "no-store" });
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
  message("");
  const reader = response.body.getReader();
  let buf = new Uint8Array(0);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const joined = new Uint8Array(buf.length + value.length);
    joined.set(buf, 0);
    joined.set(value, buf.length);
    buf = joined;
    for (let part = takePart(buf); part; part = takePart(buf)) {
      buf = part.rest;
      onFrame(part);
    }
  }
}

function onFrame(part) {
  const seq = Number(part.headers["x-frame"]);
  page.pending = { seq: Number.isFinite(seq) ? seq : page.seq + 1, body: part.body };
  if (!page.drawing) drawFrames();
}

async function drawFrames() {
  page.drawing = true;
  const canvas = $("live");
  const context = canvas.getContext("2d");
  while (page.pending) {
    const frame = page.pending;
    page.pending = null;
    try {
      const bitmap = await createImageBitmap(new Blob([frame.body], { type: "image/jpeg" }));
      if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
        canvas.width = bitmap.width;
        canvas.height = bitmap.height;
        $("frame").style.setProperty("--w", bitmap.width);
        $("frame").style.setProperty("--h", bitmap.height);
      }
      context.drawImage(bitmap, 0, 0);
      bitmap.close();
      page.seq = frame.seq;
      page.drawn += 1;
      $("frames").textContent = String(page.seq);
    } catch (err) {
      // a frame the browser cannot decode: skip it, the next one replaces it anyway
    }
  }
  page.drawing = false;
}

async function streamLoop() {
  for (;;) {
    try {
      await readStream();
      message("live view stopped; reconnecting…");
    } catch (err) {
      message(`live view: ${err.message}; reconnecting…`);
    }
    await sleep(1500);
  }
}

// -- the overlay and the state ---------------------------------------------------------------

function overlayItem(item) {
  const el = document.createElement("span");
  el.className = "vf-item";
  el.dataset.key = item.key;
  el.title = item.name;
  if (END.has(item.key)) el.classList.add("end");
  if (item.title) {
    const t = document.createElement("span");
    t.className = "t";
    t.textContent = item.title;
    el.append(t);
  }
  const v = document.createElement("span");
  v.className = "v";
  v.textContent = item.value;
  el.append(v);
  if (page.lastValues[item.key] !== undefined && page.lastValues[item.key] !== item.value) {
    el.classList.add("flash");
  }
  page.lastValues[item.key] = item.value;
  return el;
}

function renderOverlay(state) {
  const top = $("vf-top");
  const bottom = $("vf-bottom");
  $("vf").hidden = !state.overlay;
  if (!state.overlay) return;
  top.replaceChildren(...state.items.filter((i) => !BOTTOM.has(i.key)).map(overlayItem));
  bottom.replaceChildren(...state.items.filter((i) => BOTTOM.has(i.key)).map(overlayItem));
}

function renderState(state) {
  const camera = state.camera || {};
  const maker = (camera.manufacturer || "").split(" ")[0];
  const model = camera.model || "";
  const title =
    (maker && model.toLowerCase().startsWith(maker.toLowerCase())
      ? model
      : [camera.manufacturer, model].filter(Boolean).join(" ")) || "camera";
  $("model").textContent = title;
  document.title = `${title} — ptpip live view`;
  $("fps").textContent = (state.stream.fps || 0).toFixed(1);
  $("viewers").textContent = String(state.stream.viewers);
  renderSettings(state);
  if (state.stream.error) message(`live view: ${state.stream.error}`);
  if (state.error) status(`camera: ${state.error}`, true);
  if (state.capture && state.capture.seq > page.captureSeq) showCapture(state.capture);
}

// The overlay and the controls' current values (also right after a setting changed).
function renderSettings(state) {
  page.overlay = state.overlay;
  renderOverlay(state);
  for (const [key, value] of Object.entries(state.controls || {})) {
    const input = document.querySelector(`#controls [data-key="${key}"]`);
    if (input && document.activeElement !== input && input.value !== value) {
      if (input.tagName === "SELECT" && ![...input.options].some((o) => o.value === value)) {
        input.add(new Option(value, value));
      }
      input.value = value;
    }
  }
}

async function stateLoop() {
  for (;;) {
    const started = Date.now();
    try {
      const response = await fetch("/api/state", { cache: "no-store" });
      if (response.ok) renderState(await response.json());
    } catch (err) {
      message("the ptpip live-view server is gone");
    }
    await sleep(Math.max(100, 1000 - (Date.now() - started)));
  }
}

// -- controls --------------------------------------------------------------------------------

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok || data.error) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

async function setControl(control, value) {
  status(`setting ${control.title} to ${value}…`);
  try {
    const data = await post("/api/set", { key: control.key, value });
    status(`${control.title}: ${data.value}`);
    if (data.state) renderSettings(data.state);
  } catch (err) {
    status(`${control.title}: ${err.message}`, true);
    loadControls();
  }
}

function renderControls() {
  const box = $("controls");
  box.replaceChildren();
  for (const control of page.controls) {
    const id = `control-${control.key}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = control.title;
    label.title = control.name;
    let input;
    if (control.kind === "enum" || !control.available) {
      input = document.createElement("select");
      for (const value of control.values) input.add(new Option(value, value));
      if (control.current && !control.values.includes(control.current)) {
        input.add(new Option(control.current, control.current));
      }
      if (control.current) input.value = control.current;
      input.addEventListener("change", () => setControl(control, input.value));
    } else {
      input = document.createElement("input");
      input.value = control.current || "";
      input.placeholder = control.hint || "";
      input.addEventListener("change", () => setControl(control, input.value));
    }
    input.id = id;
    input.dataset.key = control.key;
    input.disabled = !control.available || !control.writable;
    if (!control.available) input.title = control.reason || "not available on this camera";
    else if (!control.writable) input.title = "read only on this camera now";
    box.append(label, input);
  }
}

async function loadControls() {
  try {
    const response = await fetch("/api/controls", { cache: "no-store" });
    const data = await response.json();
    if (data.error) throw new Error(data.error);
    page.controls = data.controls;
    renderControls();
  } catch (err) {
    status(`settings: ${err.message}`, true);
  }
}

// -- capture ---------------------------------------------------------------------------------

function showCapture(capture) {
  page.captureSeq = capture.seq;
  $("last").hidden = false;
  $("last-name").textContent = capture.saved ? `${capture.name} → ${capture.saved}` : capture.name;
  if (capture.url) {
    $("last-img").src = capture.url;
    $("still").src = capture.url;
  }
  if (location.hash === "#capture") showStill(true);
}

function showStill(on) {
  $("still").hidden = !on || !$("still").getAttribute("src");
  $("back").hidden = $("still").hidden;
  $("badge").hidden = $("still").hidden;
  $("badge").textContent = "last capture";
  $("frame").classList.toggle("still", !$("still").hidden); // no overlay on the capture
  if (!on && location.hash === "#capture") history.replaceState(null, "", location.pathname);
}

async function capture() {
  const button = $("capture");
  button.disabled = true;
  status("capturing…");
  try {
    const data = await post("/api/capture", {});
    const last = data.captures[data.captures.length - 1];
    showCapture(last);
    status(`captured ${data.captures.map((c) => c.name).join(", ")}`);
  } catch (err) {
    status(`capture: ${err.message}`, true);
  } finally {
    button.disabled = false;
  }
}

// -- start -----------------------------------------------------------------------------------

$("capture").addEventListener("click", capture);
$("last-open").addEventListener("click", () => showStill(true));
$("back").addEventListener("click", () => showStill(false));
window.addEventListener("hashchange", () => showStill(location.hash === "#capture"));
document.addEventListener("keydown", (event) => {
  if (event.target.closest("input, select")) return;
  if (event.key === "c" || event.key === "C") capture();
  if (event.key === "Escape") showStill(false);
});
loadControls();
stateLoop();
streamLoop();
