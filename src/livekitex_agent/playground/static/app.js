// The playground page: joins a LiveKit room with a token from this server, dispatches the agent, and
// shows what the agent says and does. Everything a room participant sends is untrusted: it is only
// ever rendered as text (textContent), never as HTML, and never evaluated.
import { Room, RoomEvent, Track } from "./vendor/livekit-client.esm.js";

const TOPIC_TRANSCRIPTION = "lk.transcription";
const TOPIC_CHAT = "lk.chat";
const TOPIC_METRICS = "lk.agent.metrics";
const TOPIC_TOOLS = "lk.agent.tools";
const ATTR_AGENT_STATE = "lk.agent.state";
const ATTR_SEGMENT_ID = "lk.segment_id";
const ATTR_FINAL = "lk.transcription_final";
const ATTR_TRACK = "lk.transcribed_track_id";
const AGENT_STATES = new Set(["initializing", "listening", "thinking", "speaking"]);
const AUDIBLE_RMS = 0.01; // about -40 dBFS: the agent's voice, not the codec's noise floor
const MEASURE_MS = 50;
const MAX_TRANSCRIPT_ITEMS = 500;

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"), form: $("connect-form"), agentName: $("agent-name"), room: $("room"),
  connect: $("connect"), error: $("error"), startAudio: $("start-audio"), greeting: $("greeting-time"),
  mic: $("mic"), micDevice: $("mic-device"), micLevel: $("mic-level"),
  state: $("agent-state"), canvas: $("visualizer"), agentLevel: $("agent-level"), audio: $("agent-audio"),
  transcript: $("transcript"), chatForm: $("chat-form"), chatInput: $("chat-input"), chatSend: $("chat-send"),
  latency: document.querySelector("#latency tbody"), tools: $("tools"), toolsEmpty: $("tools-empty"),
};

// What the page observed, for people debugging and for the browser tests (read-only use).
const observed = {
  connectClickedAt: 0, firstAgentAudioAt: 0, greetingSeconds: null, stateHistory: [],
  agentAudio: { audibleSeconds: 0, lastAudibleAt: 0, level: 0 }, micLevel: 0, micPeak: 0, turns: 0,
  toolCalls: 0, interimUpdates: 0,
};
window.playground = observed;

let room = null;
let micWanted = true;
let audioCtx = null;
let agentAnalyser = null;
let micAnalyser = null;
let measureTimer = 0;
let drawing = false;
let turnNumber = 0;
const segments = new Map(); // lk.segment_id -> transcript <li>

// ------------------------------------------------------------------ small helpers
function setStatus(text) { ui.status.textContent = text; }
function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = !text;
}
function isAgent(p) { return Boolean(p && (p.isAgent || p.kind === 4 /* ParticipantKind.AGENT */)); }
function seconds(v) { return typeof v === "number" && Number.isFinite(v) ? v.toFixed(2) : "—"; }
function text(tag, value, className) {
  const el = document.createElement(tag);
  el.textContent = String(value);
  if (className) el.className = className;
  return el;
}
function validName(value) { return /^[A-Za-z0-9_.-]{0,64}$/.test(value); }

// ------------------------------------------------------------------ connect / disconnect
async function connect() {
  showError("");
  const agentName = ui.agentName.value.trim();
  const roomName = ui.room.value.trim();
  if (!validName(agentName) || !validName(roomName)) {
    showError("Agent and room names are 1-64 letters, digits, '_', '.' or '-'.");
    return;
  }
  observed.connectClickedAt = performance.now();
  observed.firstAgentAudioAt = 0;
  observed.greetingSeconds = null;
  ui.greeting.textContent = "";
  audioCtx = audioCtx || new AudioContext(); // created on the click: browsers let it play then
  if (audioCtx.state === "suspended") await audioCtx.resume();
  ui.connect.disabled = true;
  setStatus("Asking for a room token…");
  let grant;
  try {
    const res = await fetch("token", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ room: roomName || undefined, agent_name: agentName }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.error || `the token endpoint answered HTTP ${res.status}`);
    grant = body;
  } catch (e) {
    ui.connect.disabled = false;
    setStatus("Disconnected");
    showError(`No token: ${e.message}`);
    return;
  }
  room = new Room({ stopLocalTrackOnUnpublish: true, adaptiveStream: false, dynacast: false });
  wireRoom(room);
  setStatus(`Connecting to ${grant.url}…`);
  try {
    await room.connect(grant.url, grant.token);
  } catch (e) {
    room = null;
    ui.connect.disabled = false;
    setStatus("Disconnected");
    showError(`Cannot connect to ${grant.url}: ${e.message}`);
    return;
  }
  ui.room.value = grant.room;
  setStatus(`In room ${grant.room} as ${grant.identity}; waiting for the agent${grant.agent_name ? ` "${grant.agent_name}"` : ""}…`);
  ui.connect.textContent = "Disconnect";
  ui.connect.disabled = false;
  ui.chatInput.disabled = ui.chatSend.disabled = false;
  for (const p of room.remoteParticipants.values()) onParticipant(p);
  startMeasuring();
  if (micWanted) await setMic(true);
}

async function disconnect() {
  const r = room;
  room = null;
  if (r) await r.disconnect();
  onDisconnected();
}

function onDisconnected() {
  room = null;
  stopMeasuring();
  agentAnalyser = null;
  micAnalyser = null;
  ui.audio.replaceChildren();
  ui.connect.textContent = "Connect";
  ui.connect.disabled = false;
  ui.chatInput.disabled = ui.chatSend.disabled = true;
  ui.micLevel.value = 0;
  ui.agentLevel.value = 0;
  setAgentState(null);
  setStatus("Disconnected");
}

function wireRoom(r) {
  r.on(RoomEvent.ParticipantConnected, onParticipant)
    .on(RoomEvent.ParticipantDisconnected, (p) => {
      if (isAgent(p)) { setAgentState(null); setStatus("The agent left the room."); }
    })
    .on(RoomEvent.ParticipantAttributesChanged, (_changed, p) => { if (isAgent(p)) readAgentState(p); })
    .on(RoomEvent.TrackSubscribed, onTrackSubscribed)
    .on(RoomEvent.TrackUnsubscribed, (track, _pub, p) => {
      if (track.kind !== Track.Kind.Audio || !isAgent(p)) return;
      track.detach().forEach((el) => el.remove());
      agentAnalyser = null;
    })
    .on(RoomEvent.ActiveDeviceChanged, (kind) => { if (kind === "audioinput") meterMicrophone(); })
    .on(RoomEvent.DataReceived, onData)
    .on(RoomEvent.Disconnected, () => { if (room === r) onDisconnected(); })
    .on(RoomEvent.MediaDevicesChanged, listDevices)
    .on(RoomEvent.AudioPlaybackStatusChanged, () => { ui.startAudio.hidden = r.canPlaybackAudio; });
  r.registerTextStreamHandler(TOPIC_TRANSCRIPTION, onTranscription);
}

function onParticipant(p) {
  if (!isAgent(p)) return;
  setStatus(`In room ${room.name}: the agent ${p.identity} joined.`);
  readAgentState(p);
}

// ------------------------------------------------------------------ agent state
function readAgentState(p) {
  const value = p.attributes ? p.attributes[ATTR_AGENT_STATE] : undefined;
  if (AGENT_STATES.has(value)) setAgentState(value);
}

function setAgentState(value) {
  const shown = value || "not in the room";
  if (ui.state.textContent === shown) return;
  ui.state.textContent = shown;
  ui.state.dataset.state = value || "none";
  if (value) observed.stateHistory.push({ state: value, at: performance.now() });
}

// ------------------------------------------------------------------ audio: playback, visualizer, levels
function onTrackSubscribed(track, _publication, participant) {
  if (track.kind !== Track.Kind.Audio || !isAgent(participant)) return;
  ui.audio.replaceChildren(track.attach()); // plays the agent's voice (and lets WebAudio read it)
  const source = audioCtx.createMediaStreamSource(new MediaStream([track.mediaStreamTrack]));
  agentAnalyser = audioCtx.createAnalyser();
  agentAnalyser.fftSize = 1024;
  source.connect(agentAnalyser);
  ui.startAudio.hidden = room ? room.canPlaybackAudio : true;
  if (!drawing) {
    drawing = true;
    requestAnimationFrame(draw);
  }
}

function rms(analyser, buffer) {
  analyser.getFloatTimeDomainData(buffer);
  let sum = 0;
  for (let i = 0; i < buffer.length; i++) sum += buffer[i] * buffer[i];
  return Math.sqrt(sum / buffer.length);
}

function startMeasuring() {
  stopMeasuring();
  const buffer = new Float32Array(1024);
  let last = performance.now();
  measureTimer = setInterval(() => {
    const now = performance.now();
    const dt = (now - last) / 1000;
    last = now;
    if (agentAnalyser) {
      const level = rms(agentAnalyser, buffer);
      observed.agentAudio.level = level;
      ui.agentLevel.value = Math.min(1, level * 4);
      if (level > AUDIBLE_RMS) {
        observed.agentAudio.audibleSeconds += dt;
        observed.agentAudio.lastAudibleAt = now;
        if (!observed.firstAgentAudioAt) onFirstAgentAudio(now);
      }
    }
    if (micAnalyser) {
      observed.micLevel = rms(micAnalyser, buffer);
      observed.micPeak = Math.max(observed.micPeak, observed.micLevel);
      ui.micLevel.value = Math.min(1, observed.micLevel * 4);
    }
  }, MEASURE_MS);
}

function stopMeasuring() {
  if (measureTimer) clearInterval(measureTimer);
  measureTimer = 0;
}

function onFirstAgentAudio(now) {
  observed.firstAgentAudioAt = now;
  observed.greetingSeconds = (now - observed.connectClickedAt) / 1000;
  ui.greeting.textContent = `The agent's voice arrived ${observed.greetingSeconds.toFixed(2)} s after "Connect".`;
}

function draw() {
  if (!agentAnalyser) {
    drawing = false;
    return;
  }
  const ctx = ui.canvas.getContext("2d");
  const bins = new Uint8Array(agentAnalyser.frequencyBinCount);
  agentAnalyser.getByteFrequencyData(bins);
  const { width, height } = ui.canvas;
  ctx.clearRect(0, 0, width, height);
  const bars = 48;
  const step = Math.floor(bins.length / 2 / bars); // the voice lives in the lower half of the spectrum
  const barWidth = width / bars;
  ctx.fillStyle = getComputedStyle(ui.state).color;
  for (let i = 0; i < bars; i++) {
    let peak = 0;
    for (let j = 0; j < step; j++) peak = Math.max(peak, bins[i * step + j]);
    const h = Math.max(2, (peak / 255) * height);
    ctx.fillRect(i * barWidth + 1, (height - h) / 2, barWidth - 2, h);
  }
  requestAnimationFrame(draw);
}

// ------------------------------------------------------------------ microphone
async function setMic(on) {
  micWanted = on;
  ui.mic.dataset.on = String(on);
  ui.mic.textContent = on ? "Turn microphone off" : "Turn microphone on";
  if (!room) return;
  const lp = room.localParticipant;
  try {
    if (on) {
      const deviceId = ui.micDevice.value || undefined;
      await lp.setMicrophoneEnabled(true, { deviceId, echoCancellation: true, noiseSuppression: true });
      meterMicrophone();
      await listDevices();
    } else {
      micAnalyser = null;
      ui.micLevel.value = 0;
      const pub = lp.getTrackPublication(Track.Source.Microphone);
      if (pub && pub.track) await lp.unpublishTrack(pub.track, true); // stop capturing altogether
    }
  } catch (e) {
    showError(`Microphone: ${e.message}`);
  }
}

function meterMicrophone() {
  const pub = room && room.localParticipant.getTrackPublication(Track.Source.Microphone);
  if (!pub || !pub.track || !audioCtx) return;
  const source = audioCtx.createMediaStreamSource(new MediaStream([pub.track.mediaStreamTrack]));
  micAnalyser = audioCtx.createAnalyser();
  micAnalyser.fftSize = 1024;
  source.connect(micAnalyser);
}

async function listDevices() {
  let devices = [];
  try {
    devices = await Room.getLocalDevices("audioinput", false);
  } catch {
    return;
  }
  const current = ui.micDevice.value;
  const options = [new Option("Default", "")];
  for (const d of devices) {
    if (d.deviceId && d.deviceId !== "default") options.push(new Option(d.label || "Microphone", d.deviceId));
  }
  ui.micDevice.replaceChildren(...options);
  ui.micDevice.value = options.some((o) => o.value === current) ? current : "";
}

async function switchDevice() {
  if (!room || !micWanted) return;
  try {
    await room.switchActiveDevice("audioinput", ui.micDevice.value || "default");
  } catch (e) {
    showError(`Cannot switch the microphone: ${e.message}`);
  }
}

// ------------------------------------------------------------------ transcript and chat
function transcriptItem(segmentId, who, speaker) {
  let li = segmentId ? segments.get(segmentId) : undefined;
  if (!li) {
    li = document.createElement("li");
    li.className = speaker;
    li.append(text("span", who, "who"), text("p", "", "text"));
    ui.transcript.append(li);
    if (segmentId) segments.set(segmentId, li);
    while (ui.transcript.children.length > MAX_TRANSCRIPT_ITEMS) {
      const first = ui.transcript.firstElementChild;
      segments.forEach((v, k) => { if (v === first) segments.delete(k); });
      first.remove();
    }
  }
  return li;
}

function scrollTranscript() { ui.transcript.scrollTop = ui.transcript.scrollHeight; }

function isLocalTrack(sid) {
  if (!room || !sid) return false;
  for (const pub of room.localParticipant.trackPublications.values()) if (pub.trackSid === sid) return true;
  return false;
}

async function onTranscription(reader, participantInfo) {
  const attrs = (reader.info && reader.info.attributes) || {};
  const segmentId = String(attrs[ATTR_SEGMENT_ID] || reader.info.id || "");
  const fromUser = (room && participantInfo.identity === room.localParticipant.identity) || isLocalTrack(attrs[ATTR_TRACK]);
  try {
    if (fromUser) {
      // each update of the user's words is a whole stream: interim (greyed) until final
      const words = await reader.readAll();
      const li = transcriptItem("u:" + segmentId, "You", "user");
      li.querySelector(".text").textContent = words;
      const interim = attrs[ATTR_FINAL] !== "true";
      li.classList.toggle("interim", interim);
      if (interim) observed.interimUpdates += 1;
      scrollTranscript();
      return;
    }
    // the agent's words arrive as deltas, in step with its voice
    const li = transcriptItem("a:" + segmentId, "Agent", "agent");
    const p = li.querySelector(".text");
    for await (const chunk of reader) {
      p.textContent += chunk;
      scrollTranscript();
    }
  } catch (e) {
    console.warn("transcription stream failed", e);
  }
}

async function sendChat(event) {
  event.preventDefault();
  const message = ui.chatInput.value.trim();
  if (!message || !room) return;
  ui.chatInput.value = "";
  const li = transcriptItem("", "You (chat)", "user");
  li.querySelector(".text").textContent = message;
  scrollTranscript();
  try {
    await room.localParticipant.sendText(message, { topic: TOPIC_CHAT });
  } catch (e) {
    showError(`The message was not sent: ${e.message}`);
  }
}

// ------------------------------------------------------------------ dev data: latency and tool calls
function onData(payload, participant, _kind, topic) {
  if (topic !== TOPIC_METRICS && topic !== TOPIC_TOOLS) return;
  if (participant && !isAgent(participant)) return;
  let msg;
  try {
    msg = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return; // not ours: ignore
  }
  if (!msg || typeof msg !== "object") return;
  if (topic === TOPIC_METRICS && msg.type === "turn_metrics") addLatencyRow(msg);
  if (topic === TOPIC_TOOLS && msg.type === "tool_call") addToolCall(msg);
}

function addLatencyRow(m) {
  turnNumber += 1;
  observed.turns = turnNumber;
  const tr = document.createElement("tr");
  tr.append(text("th", m.interrupted ? `${turnNumber} (interrupted)` : turnNumber));
  tr.firstChild.scope = "row";
  for (const key of ["end_of_utterance_delay", "transcription_delay", "llm_ttft", "tts_ttfb", "e2e_latency"]) {
    tr.append(text("td", seconds(m[key])));
  }
  ui.latency.append(tr);
}

function pretty(json) {
  try {
    return JSON.stringify(JSON.parse(json), null, 1);
  } catch {
    return String(json);
  }
}

function addToolCall(m) {
  observed.toolCalls += 1;
  ui.toolsEmpty.hidden = true;
  const li = document.createElement("li");
  if (m.is_error) li.className = "failed";
  li.append(text("code", String(m.name || "?"), "name"));
  li.append(text("pre", `arguments: ${pretty(m.arguments ?? "")}`, "args"));
  li.append(text("pre", `${m.is_error ? "error" : "result"}: ${String(m.result ?? "")}`, "result"));
  ui.tools.append(li);
}

// ------------------------------------------------------------------ wiring
ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (room) disconnect(); else connect();
});
ui.mic.addEventListener("click", () => setMic(!micWanted));
ui.micDevice.addEventListener("change", switchDevice);
ui.chatForm.addEventListener("submit", sendChat);
ui.startAudio.addEventListener("click", async () => {
  if (room) await room.startAudio();
  ui.startAudio.hidden = true;
});

fetch("config.json")
  .then((r) => (r.ok ? r.json() : {}))
  .then((cfg) => {
    if (cfg && typeof cfg.agent_name === "string" && !ui.agentName.value) ui.agentName.value = cfg.agent_name;
    document.body.dataset.ready = "true";
  })
  .catch(() => { document.body.dataset.ready = "true"; });
