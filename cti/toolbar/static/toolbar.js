// The agent toolbar (坐席工具条): <cti-agent-toolbar>, one ES module served by the CTI layer at
// /agent/toolbar.js; no build step, nothing loaded from the internet.
//
// A ticket system's page embeds it anywhere:
//   <script type="module" src="https://cti.example:8345/agent/toolbar.js"></script>
//   <cti-agent-toolbar></cti-agent-toolbar>
// The layer is the origin the script came from (or the element's `server` attribute). The element
// talks to the agent desktop API and WebSocket with the agent's own session (POST
// /api/agents/{id}/session with its PIN), kept in sessionStorage for this tab only.
//
// DOM events (bubbling, composed, on the element): cti-screen-pop (detail: the pop), cti-call-ended
// ({call_id, agent, why}), cti-transfer-state (the transfer with `label` in Chinese),
// cti-ticket-created (the ticket), cti-state (the agent's state), cti-signed-in, cti-signed-out,
// cti-disposition-recorded (话后小结), cti-knowledge-recorded (一问一答 after a specialist answered).
// JS API: signIn(agent, pin, queues), signOut(), setReady(), pause(reason), transfer(number, mode),
// cancelTransfer(), dropOff(), hangUp(), createTicket({requestType, summary}),
// recordDisposition({code, requestType, summary}), recordKnowledge({question, answer}), refresh();
// read-only: agent, call, state, transferState, connected.

const TRANSFER_LABELS = {
  requested: "正在呼叫部门", ringing: "部门振铃中", answered: "部门已接听", threeway: "三方通话中",
  handed_off: "坐席已退出，市民与部门通话", connected: "已转接，部门已接听", cancelled: "已取消，回到市民",
  no_answer: "部门未接听，回到市民", busy: "部门忙，回到市民", returned: "转接未成功，市民已回到12345队列",
  abandoned: "市民已挂机", ended: "转接已结束", failed: "转接失败",
};
const MODE_LABELS = { threeway: "三方通话", blind: "一键转接" };
const LIGHT_LABELS = { green: "绿灯", yellow: "黄灯", orange: "橙灯", red: "红灯" };
const STATUS_LABELS = { created: "已登记", delivered: "待签收", acknowledged: "已签收", returned: "已退回", extended: "已延时", closed: "已办结" };
// A transfer's states in the order they happen: an answer to our own request ("requested") may arrive
// after the WebSocket already said "ringing"; a state never goes back.
const STATE_RANK = { requested: 0, ringing: 1, answered: 2, threeway: 3 };
const rank = (state) => STATE_RANK[state] ?? 9;
const LEFT_CALL = new Set(["handed_off", "connected"]);   // the agent is no longer on the call
const RECONNECT_MAX_MS = 15000;
const STATE_POLL_MS = 5000;                                // the agent's queue state, besides each action

const CSS = `
:host { display: block; font: 14px/1.45 "Noto Sans CJK SC", "WenQuanYi Zen Hei", "Microsoft YaHei", sans-serif;
  color: #1d2733; background: #f3f5f8; box-sizing: border-box; }
*, *::before, *::after { box-sizing: border-box; }
button, select, input, textarea { font: inherit; }
button { padding: 4px 10px; border: 1px solid #8a99ab; background: #fff; border-radius: 4px; cursor: pointer; }
button:disabled { opacity: .45; cursor: default; }
button.primary { background: #1565c0; color: #fff; border-color: #1565c0; }
button.danger { background: #c62828; color: #fff; border-color: #c62828; }
.bar { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; padding: 6px 10px; background: #22364d; color: #fff; }
.bar .who { font-weight: 600; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; background: #607d8b; color: #fff; white-space: nowrap; }
.badge.ready { background: #2e7d32; } .badge.paused { background: #ef6c00; } .badge.busy { background: #c62828; }
.badge.off { background: #78909c; }
.bar .grow { flex: 1 1 auto; }
.conn { font-size: 12px; opacity: .85; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 8px; padding: 8px; }
.card { background: #fff; border: 1px solid #d5dce4; border-radius: 6px; padding: 8px 10px; min-width: 0; overflow-wrap: anywhere; }
.card h3 { margin: 0 0 6px; font-size: 15px; color: #22364d; }
.caller { font-size: 22px; font-weight: 700; letter-spacing: .5px; }
.kv { display: grid; grid-template-columns: auto minmax(0, 1fr); gap: 2px 8px; }
.kv dt { color: #5b6b7c; } .kv dd { margin: 0; min-width: 0; }
.tag { display: inline-block; padding: 0 6px; margin: 0 4px 2px 0; border-radius: 3px; background: #fff3e0; color: #e65100; border: 1px solid #ffb74d; }
.path { margin: 4px 0 0; padding-left: 18px; max-height: 120px; overflow-y: auto; font-size: 12px; color: #37474f; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; font-size: 13px; }
th, td { text-align: left; padding: 2px 4px; border-bottom: 1px solid #eceff1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.light { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 4px; background: #b0bec5; vertical-align: middle; }
.light.green { background: #2e7d32; } .light.yellow { background: #f9a825; } .light.orange { background: #ef6c00; } .light.red { background: #c62828; }
.row { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 4px 0; }
.row input[type=search] { flex: 1 1 120px; min-width: 0; }
.dirs { max-height: 210px; overflow-y: auto; border: 1px solid #eceff1; border-radius: 4px; }
.dirs h4 { margin: 0; padding: 2px 6px; background: #eef2f6; font-size: 12px; position: sticky; top: 0; }
.dir { display: grid; grid-template-columns: 16px minmax(0, 1fr) auto; gap: 4px; align-items: center; padding: 2px 6px; cursor: pointer; }
.dir:hover { background: #f5f9ff; } .dir.off { color: #90a4ae; }
.dir .name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.dir .meta { font-size: 12px; color: #607d8b; white-space: nowrap; }
.emergency button { background: #fff; color: #b71c1c; border-color: #e57373; }
.log { margin: 4px 0 0; padding-left: 18px; max-height: 110px; overflow-y: auto; font-size: 13px; }
.now { font-weight: 700; color: #1565c0; }
.msg { min-height: 1.4em; font-size: 13px; color: #b71c1c; }
.ok { color: #2e7d32; }
label { color: #5b6b7c; }
textarea { width: 100%; min-height: 84px; resize: vertical; }
select { max-width: 100%; }
.signin { max-width: 420px; margin: 24px auto; }
.signin .kv { gap: 6px 8px; align-items: center; } .signin input { width: 100%; }
.muted { color: #78909c; }
[hidden] { display: none !important; }
`;

const HTML = `
<div class="card signin" part="signin" id="signin">
  <h3>坐席签入</h3>
  <form id="signin-form" class="kv">
    <label for="agent">工号</label><input id="agent" name="agent" autocomplete="username" required maxlength="32">
    <label for="pin">密码</label><input id="pin" name="pin" type="password" autocomplete="current-password" required minlength="4" maxlength="64">
    <label for="queues">技能队列</label><input id="queues" name="queues" placeholder="留空为默认队列，多个用逗号分隔">
    <span></span><button class="primary" id="signin-btn" type="submit">签入</button>
  </form>
  <div class="msg" id="signin-msg"></div>
</div>
<div id="desk" hidden>
  <div class="bar" part="bar">
    <span class="who">坐席 <span id="me"></span></span>
    <span class="badge off" id="state">未签入</span>
    <span id="state-detail" class="conn"></span>
    <button id="ready">就绪</button>
    <select id="reason" aria-label="示忙原因"></select>
    <button id="pause">示忙</button>
    <span class="grow"></span>
    <span class="conn" id="conn">连接中…</span>
    <button id="signout">签出</button>
  </div>
  <div class="msg" id="msg" style="padding: 0 10px"></div>
  <div class="grid">
    <section class="card" id="call-card">
      <h3>当前来电 <span id="call-status" class="muted"></span></h3>
      <div id="no-call" class="muted">暂无来电</div>
      <div id="call" hidden>
        <div class="caller" id="caller"></div>
        <dl class="kv">
          <dt>姓名</dt><dd id="caller-name"></dd>
          <dt>拨打号码</dt><dd id="hotline"></dd>
          <dt>队列</dt><dd id="queue"></dd>
          <dt>等待</dt><dd id="wait"></dd>
          <dt>标签</dt><dd id="tags"></dd>
          <dt>按键</dt><dd id="keys"></dd>
        </dl>
        <div><label>语音导航路径</label><ol class="path" id="ivr-path"></ol></div>
      </div>
      <h3 style="margin-top: 8px">历史工单（最近五件）</h3>
      <table id="history"><thead><tr><th style="width: 18%">类型</th><th style="width: 22%">状态</th><th style="width: 24%">时限</th><th>摘要</th></tr></thead><tbody></tbody></table>
      <div class="muted" id="history-empty">无</div>
    </section>
    <section class="card" id="transfer-card">
      <h3>转接 / 三方通话</h3>
      <div class="row">
        <label><input type="radio" name="mode" value="threeway" checked> 三方通话</label>
        <label><input type="radio" name="mode" value="blind"> 一键转接</label>
        <input type="search" id="dir-search" placeholder="按名称或号码搜索部门" aria-label="搜索部门">
      </div>
      <div class="dirs" id="dirs"></div>
      <div class="row" id="sp-row" hidden>
        <label for="sp-field">政策专员 <span id="sp-line" class="muted"></span></label>
        <select id="sp-field" aria-label="政策领域"></select>
        <button id="sp-turn" title="依次呼叫所列专员，均未接听时转部门热线">依次呼叫</button>
      </div>
      <div class="dirs" id="sp-list" hidden></div>
      <div class="row emergency" id="emergency"></div>
      <div class="row">
        <button id="cancel">取消转接</button>
        <button id="dropoff">退出三方</button>
        <button class="danger" id="hangup">挂机</button>
      </div>
      <div>转接状态：<span class="now" id="transfer-state">—</span></div>
      <ol class="log" id="transfer-log"></ol>
    </section>
    <section class="card" id="ticket-card">
      <h3>新建工单</h3>
      <form id="ticket-form">
        <div class="row"><label for="request-type">诉求类型</label><select id="request-type"></select></div>
        <textarea id="summary" maxlength="4000" placeholder="诉求摘要" aria-label="诉求摘要"></textarea>
        <div class="row"><button class="primary" id="ticket-btn" type="submit">提交工单</button>
          <span class="muted" id="ticket-call"></span></div>
      </form>
      <div id="ticket-result"></div>
      <form id="wrapup-form" hidden>
        <h3 style="margin-top: 8px">话后小结</h3>
        <div class="row"><select id="disposition" aria-label="话后小结"></select>
          <button class="primary" id="wrapup-btn" type="submit">提交小结</button>
          <span class="muted" id="wrapup-result"></span></div>
      </form>
      <form id="knowledge-form" hidden>
        <h3 style="margin-top: 8px">知识条目（一问一答） <span class="muted" id="kb-from"></span></h3>
        <textarea id="kb-question" maxlength="2000" placeholder="企业的问题" aria-label="问题"></textarea>
        <textarea id="kb-answer" maxlength="4000" placeholder="政策专员的答复" aria-label="专员答复"></textarea>
        <div class="row"><button id="kb-btn" type="submit">记录知识条目</button><span class="muted" id="kb-result"></span></div>
      </form>
    </section>
  </div>
</div>
`;

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

let centreZone;   // the centre's time zone (flows.timezone, from the desk): deadlines read in its time

function localTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  try {
    return d.toLocaleString("zh-CN", { hour12: false, timeZone: centreZone });
  } catch {
    return d.toLocaleString("zh-CN", { hour12: false });
  }
}

export class CtiAgentToolbar extends HTMLElement {
  constructor() {
    super();
    this._root = this.attachShadow({ mode: "open" });
    this._root.innerHTML = `<style>${CSS}</style>${HTML}`;
    this._session = null;          // {agent, token, expires_at}
    this._desk = null;
    this._call = null;             // the pop of the call the agent is on (or was on, until the next)
    this._callLive = false;
    this._transfer = null;
    this._ws = null;
    this._retryMs = 1000;
    this._timers = new Set();
    this._directory = null;
    this._pops = 0;                // pops seen: a desk read older than the latest pop cannot end it
  }

  // -- the server and the session ---------------------------------------------------------------
  get server() {
    return (this.getAttribute("server") || new URL(import.meta.url).origin).replace(/\/+$/, "");
  }
  get _storeKey() { return `cti-agent-session:${this.server}`; }
  get agent() { return this._session ? this._session.agent : null; }
  get call() { return this._callLive ? this._call : null; }
  get state() { return this._desk ? this._desk.state : null; }
  get transferState() { return this._transfer; }
  get connected() { return !!this._ws && this._ws.readyState === WebSocket.OPEN; }

  connectedCallback() {
    if (this._wired) return;
    this._wired = true;
    this._wire();
    let saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(this._storeKey) || "null"); } catch { saved = null; }
    if (saved && saved.token && saved.expires_at * 1000 > Date.now()) {
      this._session = saved;
      this._start();
    } else {
      this._show(false);
    }
  }

  disconnectedCallback() { this._stop(); this._wired = false; }

  async _api(method, path, body) {
    const headers = { Authorization: `Bearer ${this._session ? this._session.token : ""}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(this.server + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await r.json().catch(() => ({}));
    if (r.status === 401 && this._session && !path.endsWith("/session")) {
      this._expired();
    }
    if (!r.ok) {
      const err = new Error(data.detail || data.error || `HTTP ${r.status}`);
      Object.assign(err, { status: r.status, body: data });
      throw err;
    }
    return data;
  }

  // -- the JS API --------------------------------------------------------------------------------
  async signIn(agent, pin, queues) {
    const r = await fetch(`${this.server}/api/agents/${encodeURIComponent(agent)}/session`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ pin }) });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const err = new Error(r.status === 429 ? "密码错误次数过多，请稍后再试" : r.status === 401 ? "工号或密码错误" : (data.detail || `HTTP ${r.status}`));
      err.status = r.status;
      throw err;
    }
    this._session = { agent: data.agent, token: data.token, expires_at: data.expires_at };
    sessionStorage.setItem(this._storeKey, JSON.stringify(this._session));
    const list = (queues || []).filter(Boolean);
    try {
      // joins its queues paused: the agent says when it is ready (就绪)
      await this._api("POST", `/api/agents/${this.agent}/login`, list.length ? { queues: list, paused: true } : { paused: true });
    } catch (e) {
      this._session = null;                  // not in any queue: no half-signed-in desk
      sessionStorage.removeItem(this._storeKey);
      throw e;
    }
    this._emit("cti-signed-in", { agent: this.agent });
    this._start();
    return this.agent;
  }

  async signOut() {
    if (!this._session) return;
    const queues = this.state && this.state.queues.length ? { queues: this.state.queues } : undefined;
    try { await this._api("POST", `/api/agents/${this.agent}/logout`, queues); } finally {
      const agent = this.agent;
      this._stop();
      this._session = null;
      sessionStorage.removeItem(this._storeKey);
      this._show(false);
      this._emit("cti-signed-out", { agent });
    }
  }

  async setReady() { await this._api("POST", `/api/agents/${this.agent}/unpause`); await this.refresh(); }

  async pause(reason) {
    await this._api("POST", `/api/agents/${this.agent}/pause`, { reason });
    await this.refresh();
  }

  async transfer(number, mode = "threeway") {
    const call = this._needCall();
    const path = mode === "blind" ? "transfer" : "threeway";
    const t = await this._api("POST", `/api/calls/${encodeURIComponent(call.call_id)}/${path}`, { number: String(number) });
    this._onTransfer(t);
    return t;
  }

  /** Three-way call to a policy specialist of ``field``: ``specialistId`` (one of the offer), or each in turn. */
  async callSpecialist(field, specialistId = null) {
    const call = this._needCall();
    const body = specialistId ? { field, specialist: specialistId } : { field, in_turn: true };
    return this._onTransfer(await this._api("POST", `/api/calls/${encodeURIComponent(call.call_id)}/specialist`, body));
  }

  async cancelTransfer() { return this._onTransfer(await this._api("POST", `/api/calls/${encodeURIComponent(this._needCall().call_id)}/cancel`)); }
  async dropOff() { return this._onTransfer(await this._api("POST", `/api/calls/${encodeURIComponent(this._needCall().call_id)}/drop-off`)); }
  async hangUp() { return this._api("POST", `/api/calls/${encodeURIComponent(this._needCall().call_id)}/hangup`); }

  async createTicket({ requestType, summary = "" } = {}) {
    const call = this._call;       // the call just ended still gets its ticket (话后处理)
    const body = { request_type: requestType, summary };
    if (call) {
      Object.assign(body, {
        caller_number: call.caller, call_ids: [call.call_id],
        ivr_path: (call.ivr_path || []).slice(0, 50).map((s) => s.slice(0, 64)),
        tags: (call.tags || []).slice(0, 20).map((s) => s.slice(0, 64)),
      });
      if (/^[0-9]{1,20}$/.test(call.hotline || "")) body.hotline = call.hotline;
    }
    const ticket = await this._api("POST", "/api/tickets", body);
    if (call) this._ticketId = ticket.id;
    this._renderTicket(ticket);
    this._emit("cti-ticket-created", ticket);
    return ticket;
  }

  /** How the current (or just ended) call ended (话后小结): a code of GET /api/dispositions; the request
   *  type and summary are the ticket form's unless given; the call's ticket made here travels with it. */
  async recordDisposition({ code, requestType, summary } = {}) {
    const call = this._call;
    if (!call) throw new Error("当前没有通话");
    const $ = (id) => this._root.getElementById(id);
    const choice = (this._dispositions ? this._dispositions.choices : []).find((c) => c.code === code);
    const body = { code, summary: summary ?? $("summary").value.slice(0, this._dispositions ? this._dispositions.summary_max : 500) };
    if (!choice || choice.request) body.request_type = requestType || $("request-type").value;
    if (this._ticketId) body.ticket_id = this._ticketId;
    const stored = await this._api("POST", `/api/calls/${encodeURIComponent(call.call_id)}/disposition`, body);
    $("wrapup-result").textContent = `已提交：${stored.name}`;
    $("wrapup-btn").disabled = true;
    this._emit("cti-disposition-recorded", stored);
    return stored;
  }

  /** The specialist's answer on the current (or just ended) call as one question and one answer (一问一答). */
  async recordKnowledge({ question, answer } = {}) {
    const call = this._call;
    if (!call) throw new Error("当前没有通话");
    const body = { question, answer };
    if (this._specialist) body.specialist_id = this._specialist.id;
    const item = await this._api("POST", `/api/calls/${encodeURIComponent(call.call_id)}/knowledge`, body);
    this._root.getElementById("kb-result").textContent = "已记录";
    this._emit("cti-knowledge-recorded", item);
    return item;
  }

  async _loadDispositions() {
    if (this._dispositions !== undefined) return;
    try {
      this._dispositions = await this._api("GET", "/api/dispositions");
    } catch {
      this._dispositions = null;        // no dispositions part in this layer: no form
    }
    const d = this._dispositions, $ = (id) => this._root.getElementById(id);
    $("wrapup-form").hidden = !d || !this._call;
    if (d) $("disposition").replaceChildren(...d.choices.map((c) => el("option", { value: c.code }, c.name)));
  }

  async refresh() {
    if (!this._session) return null;
    const pops = this._pops;
    const desk = await this._api("GET", `/api/agents/${this.agent}/desk`);
    const before = JSON.stringify(this._desk && this._desk.state);
    this._desk = desk;
    centreZone = desk.timezone || undefined;
    this._renderDesk();
    if (JSON.stringify(desk.state) !== before) this._emit("cti-state", desk.state);
    if (desk.call && desk.call.agent === this.agent && (!this._call || this._call.call_id !== desk.call.call_id || !this._callLive)) {
      this._onPop(desk.call);     // a call found after a reconnect or a reload
    } else if (!desk.call && this._callLive && pops === this._pops) {
      this._onEnded(this._call.call_id, "gone");   // its end was missed while the socket was down
    }
    return desk;
  }

  // -- life cycle ---------------------------------------------------------------------------------
  async _start() {
    this._show(true);
    this._root.getElementById("me").textContent = this.agent;
    try {
      await this.refresh();
    } catch (e) {
      if (!this._session) return;
      this._say(`读取坐席状态失败：${e.message}`);
    }
    this._loadDirectory();
    this._connect();
    this._every(STATE_POLL_MS, () => this.refresh().catch(() => {}));
    this._every(60000, () => this._loadDirectory());   // who is in working hours changes with the clock
  }

  _stop() {
    for (const t of this._timers) clearInterval(t);
    this._timers.clear();
    clearTimeout(this._retry);
    if (this._ws) { this._ws.onclose = null; this._ws.close(); this._ws = null; }
  }

  _every(ms, fn) { this._timers.add(setInterval(fn, ms)); }

  _expired() {
    this._stop();
    this._session = null;
    sessionStorage.removeItem(this._storeKey);
    this._show(false);
    this._root.getElementById("signin-msg").textContent = "会话已过期，请重新签入";
  }

  _connect() {
    if (!this._session) return;
    const url = `${this.server.replace(/^http/, "ws")}/api/agents/${encodeURIComponent(this.agent)}/ws?token=${encodeURIComponent(this._session.token)}`;
    const ws = new WebSocket(url);
    this._ws = ws;
    this._conn("连接中…");
    ws.onopen = () => { this._retryMs = 1000; this._conn("已连接"); };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg.agent !== undefined && msg.agent !== this.agent) return;   // never another agent's call
      if (msg.type === "hello") this.refresh().catch(() => {});
      else if (msg.type === "screen_pop") this._onPop(msg);
      else if (msg.type === "transfer") this._onTransfer(msg);
      else if (msg.type === "call_ended") this._onEnded(msg.call_id, "hangup");
    };
    ws.onclose = () => {
      if (this._ws !== ws) return;
      this._ws = null;
      this._conn(`连接断开，${Math.round(this._retryMs / 1000)} 秒后重连`);
      this._retry = setTimeout(() => { this.refresh().then(() => this._connect(), () => this._connect()); }, this._retryMs);
      this._retryMs = Math.min(this._retryMs * 2, RECONNECT_MAX_MS);
    };
  }

  // -- messages -----------------------------------------------------------------------------------
  _onPop(pop) {
    if (pop.agent !== this.agent) return;
    const fresh = !this._call || this._call.call_id !== pop.call_id;
    this._pops += 1;
    this._call = pop;
    this._callLive = true;
    if (fresh) {
      this._transfer = pop.transfer || null;
      this._root.getElementById("transfer-log").replaceChildren();
      this._root.getElementById("ticket-result").replaceChildren();
      this._root.getElementById("summary").value = "";
      this._ticketId = null;
      this._specialist = null;
      for (const id of ["wrapup-result", "kb-result", "kb-from"]) this._root.getElementById(id).textContent = "";
      for (const id of ["kb-question", "kb-answer"]) this._root.getElementById(id).value = "";
      this._root.getElementById("wrapup-btn").disabled = false;
      this._root.getElementById("knowledge-form").hidden = true;
      this._root.getElementById("wrapup-form").hidden = !this._dispositions;
    }
    this._renderCall();
    this._renderTransfer();
    this._loadHistory();
    if (fresh) this._loadSpecialists("");
    this._loadDispositions();
    this.refresh().catch(() => {});          // the agent's state as the queue now sees it (通话中)
    this._emit("cti-screen-pop", pop);
  }

  _onTransfer(t) {
    if (!t || !this._call || t.call_id !== this._call.call_id) return t;
    const old = this._transfer;
    if (old && old.id === t.id && (old.done || rank(t.state) < rank(old.state))) return t;   // stale
    const changed = !this._transfer || this._transfer.id !== t.id || this._transfer.state !== t.state;
    this._transfer = t;
    if (changed) {
      const log = this._root.getElementById("transfer-log");
      const name = t.specialist ? `专员 ${t.specialist.name}（${t.specialist.department}）`
        : t.hotline_name ? `${t.hotline_name}(${t.number})` : t.number;
      const li = el("li", { "data-state": t.state }, `${MODE_LABELS[t.kind] || t.kind} ${name}：${TRANSFER_LABELS[t.state] || t.state}`);
      if (t.reason && (t.state === "failed" || t.state === "no_answer" || t.state === "busy" || t.state === "returned")) {
        li.title = t.reason;
      }
      log.append(li);
      if (t.specialist && t.answer_seconds !== null && t.answer_seconds !== undefined) {   // the specialist answered
        this._specialist = t.specialist;
        this._root.getElementById("kb-from").textContent = `${t.specialist.name}（${t.specialist.department}）`;
        this._root.getElementById("knowledge-form").hidden = false;
      }
      this._emit("cti-transfer-state", { ...t, label: TRANSFER_LABELS[t.state] || t.state });
      if (LEFT_CALL.has(t.state)) this._onEnded(t.call_id, "transferred");
    }
    this._renderTransfer();
    return t;
  }

  _onEnded(callId, why) {
    if (!this._call || this._call.call_id !== callId || !this._callLive) return;
    this._callLive = false;
    this._renderCall();
    this._renderTransfer();
    this._emit("cti-call-ended", { call_id: callId, agent: this.agent, why });
    this.refresh().catch(() => {});
  }

  _needCall() {
    if (!this._call || !this._callLive) throw new Error("当前没有通话");
    return this._call;
  }

  _emit(name, detail) { this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true })); }

  // -- rendering ----------------------------------------------------------------------------------
  _show(signedIn) {
    this._root.getElementById("signin").hidden = signedIn;
    this._root.getElementById("desk").hidden = !signedIn;
  }

  _say(text, ok = false) {
    const m = this._root.getElementById("msg");
    m.textContent = text;
    m.className = ok ? "msg ok" : "msg";
  }

  _conn(text) { this._root.getElementById("conn").textContent = text; }

  _renderDesk() {
    const d = this._desk, s = d.state, $ = (id) => this._root.getElementById(id);
    const badge = $("state");
    badge.textContent = s.label;
    badge.className = "badge " + (!s.signed_in ? "off" : s.paused ? "paused" : s.label === "就绪" ? "ready" : "busy");
    $("state-detail").textContent = s.signed_in ? `${s.paused && s.reason ? s.reason + " · " : ""}队列 ${s.queues.join("、")}` : "";
    $("ready").disabled = !s.signed_in || !s.paused;
    $("pause").disabled = !s.signed_in;
    const reason = $("reason");
    if (reason.options.length !== d.pause_reasons.length) {
      reason.replaceChildren(...d.pause_reasons.map((r) => el("option", { value: r }, r)));
    }
    const types = $("request-type");
    if (types.options.length !== d.request_types.length) {
      types.replaceChildren(...d.request_types.map((t) => el("option", { value: t.value }, t.label)));
    }
    $("ticket-btn").disabled = !d.tickets;
  }

  _renderCall() {
    const $ = (id) => this._root.getElementById(id), c = this._call;
    $("no-call").hidden = !!c;
    $("call").hidden = !c;
    $("call-status").textContent = !c ? "" : this._callLive ? "通话中" : "已结束";
    if (!c) return;
    $("caller").textContent = c.caller || "（未显示号码）";
    $("caller-name").textContent = c.caller_name || "—";
    $("hotline").textContent = c.hotline_name ? `${c.hotline} ${c.hotline_name}` : (c.hotline || "—");
    $("queue").textContent = c.queue || "—";
    $("wait").textContent = `${Math.round(c.wait_seconds || 0)} 秒`;
    $("tags").replaceChildren(...(c.tags || []).map((t) => el("span", { class: "tag" }, t)));
    if (!(c.tags || []).length) $("tags").textContent = "—";
    $("keys").textContent = c.ivr_keys || "—";
    $("ivr-path").replaceChildren(...(c.ivr_path || []).map((p) => el("li", {}, p)));
    $("ticket-call").textContent = `关联通话 ${c.call_id}，录音随工单送达`;
  }

  _renderTransfer() {
    const $ = (id) => this._root.getElementById(id), t = this._transfer, live = this._callLive;
    const going = !!t && !t.done;
    $("transfer-state").textContent = t ? `${MODE_LABELS[t.kind] || ""} ${TRANSFER_LABELS[t.state] || t.state}` : "—";
    $("cancel").disabled = !live || !going || t.kind !== "threeway";
    $("dropoff").disabled = !live || !going || t.kind !== "threeway" || t.state !== "threeway";
    $("hangup").disabled = !live;
    for (const b of this._root.querySelectorAll("#dirs .dir, #emergency button, #sp-list .dir, #sp-turn")) {
      b.toggleAttribute("aria-disabled", !live || going);
      if (b.tagName === "BUTTON") b.disabled = !live || going;
    }
  }

  async _loadHistory() {
    const $ = (id) => this._root.getElementById(id);
    const body = $("history").tBodies[0];
    try {
      const data = await this._api("GET", `/api/agents/${this.agent}/caller-tickets`);
      if (!this._call || data.call_id !== this._call.call_id) return;
      const types = Object.fromEntries((this._desk ? this._desk.request_types : []).map((t) => [t.value, t.label]));
      body.replaceChildren(...data.tickets.map((t) => {
        const tr = el("tr", { "data-ticket": t.id });
        const light = el("span", { class: `light ${t.light || ""}`, title: LIGHT_LABELS[t.light] || "无预警" });
        const deadline = el("td", { title: localTime(t.answer_by) });
        deadline.append(light, document.createTextNode(LIGHT_LABELS[t.light] || "正常"));
        tr.append(el("td", {}, types[t.request_type] || t.request_type), el("td", {}, STATUS_LABELS[t.status] || t.status),
          deadline, el("td", { title: t.summary }, t.summary || "—"));
        return tr;
      }));
      $("history-empty").hidden = data.tickets.length > 0;
    } catch (e) {
      body.replaceChildren();
      $("history-empty").hidden = false;
      $("history-empty").textContent = e.status === 503 ? "工单库未启用" : `读取失败：${e.message}`;
    }
  }

  async _loadDirectory() {
    try {
      this._directory = await this._api("GET", "/api/directory");
    } catch (e) {
      this._say(`读取热线目录失败：${e.message}`);
      return;
    }
    this._renderDirectory();
  }

  _renderDirectory() {
    const $ = (id) => this._root.getElementById(id);
    const q = $("dir-search").value.trim().toLowerCase();
    const nodes = [];
    const emergency = [];
    for (const g of this._directory.groups) {
      if (g.kind === "emergency") {
        for (const h of g.hotlines) {
          const b = el("button", { "data-number": h.number, title: `${h.name}，${h.answer_timeout} 秒未接听回到市民` }, `${h.number} ${h.owner}`);
          b.addEventListener("click", () => this._act(() => this.transfer(h.number, this._mode())));
          emergency.push(b);
        }
      }
      if (g.kind === "direct-merged" && !q) continue;    // not transferable: shown only when searched for
      const rows = g.hotlines.filter((h) => !q || h.name.toLowerCase().includes(q) || h.number.includes(q) || (h.owner || "").includes(q));
      if (!rows.length) continue;
      nodes.push(el("h4", {}, g.label));
      for (const h of rows) {
        const row = el("div", { class: `dir${h.open_now ? "" : " off"}`, "data-number": h.number, role: "button",
          title: h.note || `${h.name}，${h.answer_timeout} 秒未接听回到市民` });
        row.append(el("span", { class: `light ${h.open_now ? "green" : ""}` }), el("span", { class: "name" }, `${h.number} ${h.name}`),
          el("span", { class: "meta" }, `${h.open_now ? "工作时间" : h.transferable ? "非工作时间" : "不可转"} · ${h.answer_timeout}秒`));
        if (h.transferable) row.addEventListener("click", () => { if (!row.hasAttribute("aria-disabled")) this._act(() => this.transfer(h.number, this._mode())); });
        nodes.push(row);
      }
    }
    $("dirs").replaceChildren(...nodes);
    $("emergency").replaceChildren(el("span", { class: "muted" }, "应急联动："), ...emergency);
    this._renderTransfer();
  }

  // The call's line and the fields of its specialists; for a field, those in working hours now (issue 21).
  async _loadSpecialists(field) {
    const $ = (id) => this._root.getElementById(id), call = this._call;
    let offer;
    try {
      offer = await this._api("GET", `/api/calls/${encodeURIComponent(call.call_id)}/specialists${field ? `?field=${encodeURIComponent(field)}` : ""}`);
    } catch {
      $("sp-row").hidden = $("sp-list").hidden = true;     // no specialist directory here
      return;
    }
    if (!this._call || this._call.call_id !== offer.call_id) return;
    $("sp-line").textContent = offer.line.name;
    $("sp-row").hidden = !offer.fields.length;
    if (!field) {
      $("sp-field").replaceChildren(el("option", { value: "" }, "选择领域"), ...offer.fields.map((f) => el("option", { value: f }, f)));
      $("sp-list").hidden = true;
      this._renderTransfer();
      return;
    }
    const rows = offer.specialists.map((s) => {
      const row = el("div", { class: "dir", "data-specialist": s.id, role: "button", title: `${s.department} · ${s.fields.join("、")}` });
      row.append(el("span", { class: "light green" }), el("span", { class: "name" }, `${s.name} ${s.department}`),
        el("span", { class: "meta" }, `${s.answer_timeout}秒`));
      row.addEventListener("click", () => { if (!row.hasAttribute("aria-disabled")) this._act(() => this.callSpecialist(field, s.id)); });
      return row;
    });
    const last = offer.last_resort ? `均未接听时转 ${offer.last_resort.name}(${offer.last_resort.number})` : "";
    $("sp-list").replaceChildren(...rows, el("div", { class: "muted", id: "sp-last" }, rows.length ? last : `当前无在岗专员${last ? "，" + last : ""}`));
    $("sp-list").hidden = false;
    this._renderTransfer();
  }

  _mode() { return this._root.querySelector("input[name=mode]:checked").value; }

  _renderTicket(t) {
    const box = this._root.getElementById("ticket-result"), d = t.deadlines || {};
    const light = LIGHT_LABELS[t.light] || "正常";
    box.replaceChildren(
      el("div", { class: "ok", id: "ticket-id" }, `工单已提交：${t.id}`),
      el("div", { id: "ticket-deadline", "data-answer-by": d.answer_by || "" },
        `签收时限 ${localTime(d.acknowledge_by)}；办理时限 ${localTime(d.answer_by)}（${light}）`),
      el("div", { class: "muted", id: "ticket-recording" }, t.recording ? "通话录音已关联" : "通话录音转换完成后随工单送达"));
  }

  async _act(fn) {
    try {
      this._say("");
      await fn();
    } catch (e) {
      if (e.body && e.body.error === "after_hours") {   // the department is closed: the layer made a ticket
        this._say(e.message, true);
        if (e.body.ticket) {
          this._renderTicket(e.body.ticket);
          this._emit("cti-ticket-created", e.body.ticket);
        }
        return;
      }
      this._say(`操作失败：${e.message}`);
    }
  }

  _wire() {
    const $ = (id) => this._root.getElementById(id);
    $("signin-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const msg = $("signin-msg");
      msg.textContent = "";
      $("signin-btn").disabled = true;
      try {
        const queues = $("queues").value.split(/[,，\s]+/).filter(Boolean);
        await this.signIn($("agent").value.trim(), $("pin").value, queues);
        $("pin").value = "";
      } catch (e) {
        msg.textContent = `签入失败：${e.message}`;
      } finally {
        $("signin-btn").disabled = false;
      }
    });
    $("ready").addEventListener("click", () => this._act(() => this.setReady()));
    $("pause").addEventListener("click", () => this._act(() => this.pause($("reason").value)));
    $("signout").addEventListener("click", () => this._act(() => this.signOut()));
    $("cancel").addEventListener("click", () => this._act(() => this.cancelTransfer()));
    $("dropoff").addEventListener("click", () => this._act(() => this.dropOff()));
    $("hangup").addEventListener("click", () => this._act(() => this.hangUp()));
    $("dir-search").addEventListener("input", () => this._directory && this._renderDirectory());
    $("sp-field").addEventListener("change", () => this._call && this._loadSpecialists($("sp-field").value));
    $("sp-turn").addEventListener("click", () => {
      const field = $("sp-field").value;
      if (field) this._act(() => this.callSpecialist(field)); else this._say("请先选择政策领域");
    });
    $("wrapup-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._act(() => this.recordDisposition({ code: $("disposition").value }));
    });
    $("knowledge-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._act(() => this.recordKnowledge({ question: $("kb-question").value, answer: $("kb-answer").value }));
    });
    $("ticket-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._act(() => this.createTicket({ requestType: $("request-type").value, summary: $("summary").value }));
    });
  }
}

if (!customElements.get("cti-agent-toolbar")) customElements.define("cti-agent-toolbar", CtiAgentToolbar);
