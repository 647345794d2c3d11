// kprtrack follow page: upload/choose a video, scrub, click, run a job, show the overlay. No build step.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { video: null, positives: [], negatives: [], job: null, timer: null };

async function api(path, options) {
  const response = await fetch(path, options);
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = { detail: text }; }
  if (!response.ok) throw new Error((body && body.detail) || response.statusText);
  return body;
}

function setStatus(id, text, error) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", Boolean(error));
}

async function loadSettings() {
  const s = await api("/api/settings");
  $("limits").textContent = `Accepted: ${s.suffixes.join(", ")}; at most ${s.max_upload_mb} MiB and ` +
    `${s.max_frames} frames. Pipeline config: ${s.config}.`;
}

async function loadVideos(selectId) {
  const videos = await api("/api/videos");
  const select = $("video-select");
  select.innerHTML = "";
  if (!videos.length) select.add(new Option("(none yet)", ""));
  for (const v of videos) {
    select.add(new Option(`${v.name} (${v.frames} frames, ${v.width}x${v.height})`, v.id));
  }
  state.videos = Object.fromEntries(videos.map((v) => [v.id, v]));
  if (selectId) select.value = selectId;
  chooseVideo(select.value);
}

function chooseVideo(id) {
  state.video = id ? state.videos[id] : null;
  const slider = $("frame-slider");
  slider.disabled = !state.video;
  slider.max = state.video ? state.video.frames - 1 : 0;
  slider.value = 0;
  clearClicks();
  showFrame();
}

function showFrame() {
  const n = Number($("frame-slider").value);
  $("frame-number").textContent = state.video ? `${n} / ${state.video.frames - 1}` : "-";
  if (state.video) $("frame").src = `/api/videos/${state.video.id}/frames/${n}.jpg`;
  else $("frame").removeAttribute("src");
}

function drawMarks() {
  const img = $("frame"), canvas = $("marks");
  canvas.width = img.clientWidth;
  canvas.height = img.clientHeight;
  const ctx = canvas.getContext("2d");
  const sx = img.clientWidth / (img.naturalWidth || 1), sy = img.clientHeight / (img.naturalHeight || 1);
  for (const [points, color] of [[state.positives, "#1db954"], [state.negatives, "#e0245e"]]) {
    for (const [x, y] of points) {
      ctx.beginPath();
      ctx.arc(x * sx, y * sy, 6, 0, 2 * Math.PI);
      ctx.fillStyle = color;
      ctx.fill();
      ctx.lineWidth = 2;
      ctx.strokeStyle = "#fff";
      ctx.stroke();
    }
  }
  const p = state.positives.length, q = state.negatives.length;
  $("clicks-text").textContent = p || q ? `${p} on the person, ${q} excluding` : "no clicks";
  $("run").disabled = !state.video || !p;
}

function clearClicks() {
  state.positives = [];
  state.negatives = [];
  drawMarks();
}

function onFrameClick(event) {
  if (!state.video) return;
  const img = $("frame");
  const x = event.offsetX * img.naturalWidth / img.clientWidth;
  const y = event.offsetY * img.naturalHeight / img.clientHeight;
  const point = [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  if (event.shiftKey || $("negative-mode").checked) state.negatives.push(point);
  else state.positives.push(point);
  drawMarks();
}

async function upload(file) {
  setStatus("upload-status", `uploading ${file.name}...`);
  try {
    const entry = await api(`/api/videos?name=${encodeURIComponent(file.name)}`, { method: "POST", body: file });
    setStatus("upload-status", `uploaded ${entry.name}`);
    await loadVideos(entry.id);
  } catch (e) {
    setStatus("upload-status", `upload refused: ${e.message}`, true);
  }
}

async function run() {
  $("run").disabled = true;
  $("step-result").hidden = true;
  setStatus("status", "starting...");
  try {
    const job = await api("/api/jobs", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        video_id: state.video.id,
        frame: Number($("frame-slider").value),
        positives: state.positives,
        negatives: state.negatives,
        prompt_mode: $("prompt-mode").value,
      }),
    });
    state.job = job.id;
    poll();
  } catch (e) {
    setStatus("status", e.message, true);
    $("run").disabled = false;
  }
}

async function poll() {
  let job;
  try {
    job = await api(`/api/jobs/${state.job}`);
  } catch (e) {
    setStatus("status", e.message, true);
    $("run").disabled = false;
    return;
  }
  $("progress").max = job.total || 1;
  $("progress").value = job.done;
  if (job.state === "done") {
    setStatus("status", "done");
    $("run").disabled = false;
    showResult(job);
  } else if (job.state === "error") {
    setStatus("status", job.error, true);
    $("run").disabled = false;
  } else {
    setStatus("status", job.state === "queued" ? "waiting..." : `following: frame ${job.done} of ${job.total}`);
    state.timer = setTimeout(poll, 500);
  }
}

async function showResult(job) {
  const s = job.summary;
  $("summary").textContent = `Found in ${s.present_frames} frames, mean confidence ${s.mean_confidence.toFixed(2)}; ` +
    (s.prompts_used ? "your clicks were used as KPR prompts." : "this embedder takes no prompts: clicks only selected the person.");
  $("overlay").src = job.files["overlay.webm"];
  $("download").href = job.files["follow.json"];
  $("step-result").hidden = false;
  const result = await api(job.files["follow.json"]);
  drawConfidence(result.frames);
}

function drawConfidence(frames) {
  const canvas = $("confidence"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const w = canvas.width / Math.max(frames.length, 1);
  frames.forEach((f, i) => {
    if (!f.present) return;
    const h = f.confidence * canvas.height;
    ctx.fillStyle = f.clicked ? "#1db954" : "#ff40a0";
    ctx.fillRect(i * w, canvas.height - h, Math.max(w - 0.5, 0.5), h);
  });
}

$("video-select").addEventListener("change", (e) => chooseVideo(e.target.value));
$("upload").addEventListener("change", (e) => { if (e.target.files.length) upload(e.target.files[0]); });
$("frame-slider").addEventListener("input", () => { clearClicks(); showFrame(); });
$("frame").addEventListener("load", drawMarks);
$("frame").addEventListener("click", onFrameClick);
$("clear").addEventListener("click", clearClicks);
$("run").addEventListener("click", run);
window.addEventListener("resize", drawMarks);
loadSettings().then(() => loadVideos()).catch((e) => setStatus("upload-status", e.message, true));
