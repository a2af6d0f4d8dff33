// The admin dashboard: logs in with an admin account (the server answers
// with an HttpOnly cookie), then polls /admin/api/overview. State changes
// are POSTs with a JSON body from this origin only.
const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
let timer = null;

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(json.error?.message ?? response.statusText);
  return json;
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.append(td);
  return td;
}

function ago(ms) {
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (seconds < 60) return seconds + " s";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min";
  return Math.floor(seconds / 3600) + " h";
}

const BARS = "▁▂▃▄▅▆▇█";

function spark(values) {
  const max = Math.max(1, ...values);
  return values.slice(-30).map((n) => BARS[Math.min(7, Math.floor((n / max) * 7.99))]).join("");
}

/** Says how many of a list's entries the page shows, when it is not all of them. */
function shownOf(note, shown, total, what) {
  note.hidden = shown >= total;
  note.textContent = "The first " + shown + " " + what + " of " + total + ", by name.";
}

function render(data) {
  $("admin-who").textContent = "logged in as " + data.admin;
  $("server-info").textContent = "chat " + data.server.version + ", up " +
    Math.round(data.server.uptimeSeconds / 60) + " min" +
    (data.server.shared ? ", shared over Redis" : "");
  $("stat-connections").textContent = String(data.connections.total);
  $("stat-transports").textContent = Object.entries(data.connections.byTransport)
    .map(([transport, count]) => transport + " " + count).join(", ");
  $("stat-rooms").textContent = String(data.rooms.total);
  $("stat-users").textContent = String(data.users.total);
  $("stat-rate").textContent = String(data.messages.ratePerSecond);
  $("stat-spark").textContent = spark(data.messages.perSecond);

  const rooms = $("rooms-table").tBodies[0];
  rooms.replaceChildren();
  for (const room of data.rooms.rooms) {
    const row = document.createElement("tr");
    row.dataset.room = room.name;
    cell(row, "#" + room.name);
    cell(row, String(room.members));
    cell(row, room.topic);
    rooms.append(row);
  }

  shownOf($("rooms-more"), data.rooms.rooms.length, data.rooms.total, "rooms");

  const users = $("users-list");
  users.replaceChildren();
  for (const nick of data.users.users) {
    const item = document.createElement("li");
    item.textContent = nick;
    users.append(item);
  }
  shownOf($("users-more"), data.users.users.length, data.users.total, "users");

  const sessions = $("sessions-table").tBodies[0];
  sessions.replaceChildren();
  for (const session of data.sessions.sessions) {
    const row = document.createElement("tr");
    row.dataset.session = session.id;
    row.dataset.nick = session.nick;
    cell(row, session.nick || "(logging in)");
    cell(row, session.transport);
    cell(row, session.ip);
    cell(row, session.rooms.map((room) => "#" + room).join(" "));
    cell(row, ago(session.connectedAt));
    cell(row, String(session.queuedBytes));
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Disconnect";
    button.addEventListener("click", () => {
      post("/admin/api/sessions/" + encodeURIComponent(session.id) + "/disconnect", {})
        .then(refresh, (error) => alert(error.message));
    });
    cell(row, "").append(button);
    sessions.append(row);
  }

  const logs = $("logs");
  logs.replaceChildren();
  for (const entry of data.logs) {
    const item = document.createElement("li");
    item.textContent = new Date(entry.ts).toISOString().slice(11, 19) + " " +
      entry.level.toUpperCase() + " " + entry.category + ": " + entry.message;
    logs.append(item);
  }
}

async function refresh() {
  const response = await fetch("/admin/api/overview", { credentials: "same-origin" });
  if (response.status === 401) {
    showLogin();
    return;
  }
  if (!response.ok) return;
  $("admin-login").hidden = true;
  $("dashboard").hidden = false;
  render(await response.json());
}

function showLogin() {
  clearInterval(timer);
  timer = null;
  $("dashboard").hidden = true;
  $("admin-login").hidden = false;
}

function start() {
  refresh().catch(() => {});
  clearInterval(timer);
  timer = setInterval(() => refresh().catch(() => {}), POLL_MS);
}

$("admin-login").addEventListener("submit", (event) => {
  event.preventDefault();
  $("admin-error").textContent = "";
  post("/admin/login", { name: $("admin-name").value, password: $("admin-password").value })
    .then(() => {
      $("admin-password").value = "";
      start();
    }, (error) => {
      $("admin-error").textContent = error.message;
    });
});

$("logout").addEventListener("click", () => {
  post("/admin/logout", {}).finally(showLogin);
});

start();
