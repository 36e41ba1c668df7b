// The "try the bot" page (templates/convapi/chat.html): a chat over convapi's socket.io
// channel, as Rasa's web widget speaks it (API.md 14.2). No library: a small socket.io v5
// client (engine.io v4) over the WebSocket transport is enough for a same-origin page.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("chat-config").textContent);
  const log = document.getElementById("chat-log");
  const form = document.getElementById("chat-form");
  const input = document.getElementById("chat-input");
  const send = document.getElementById("chat-send");
  const status = document.getElementById("chat-status");
  const sessionLabel = document.getElementById("chat-session");
  const KEPT_MESSAGES = 200;

  // ---- socket.io over one WebSocket ------------------------------------------------------
  // Engine.io packets are text frames whose first character is their type: "0" open (with
  // the ping timing), "2" ping (answered "3"), "4" a socket.io packet. Socket.io packets
  // likewise: "0" connect, "1" disconnect, "2" event (a JSON array [name, ...args]),
  // "4" connect error; a namespace other than "/" follows the type as "/name,".
  class SocketIO {
    constructor(path, namespace, token, handlers) {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      this.url = `${scheme}//${location.host}${path.replace(/\/$/, "")}/?EIO=4&transport=websocket`;
      this.prefix = namespace && namespace !== "/" ? `${namespace},` : "";
      // A channel with jwt_key reads the token from the connect packet's auth data.
      this.auth = token ? JSON.stringify({ token }) : "";
      this.handlers = handlers;
      this.retryDelay = 500;
      this.connected = false;
    }

    open() {
      this.closing = false;
      const ws = (this.ws = new WebSocket(this.url));
      ws.onmessage = (message) => this.enginePacket(String(message.data));
      ws.onclose = () => this.closed(ws);
    }

    restart() {
      this.closing = true;
      this.ws.close();
      this.open();
    }

    emit(name, data) {
      this.ws.send(`42${this.prefix}${JSON.stringify([name, data])}`);
    }

    enginePacket(data) {
      if (data[0] === "0") {
        const handshake = JSON.parse(data.slice(1));
        this.silenceLimit = handshake.pingInterval + handshake.pingTimeout;
        this.watch();
        this.ws.send(`40${this.prefix}${this.auth}`);
      } else if (data[0] === "2") {
        this.ws.send("3");
        this.watch();
      } else if (data[0] === "4") {
        this.socketPacket(data.slice(1));
      } else if (data[0] === "1") {
        this.ws.close();
      }
    }

    socketPacket(data) {
      const type = data[0];
      let body = data.slice(1);
      if (body.startsWith("/")) body = body.slice(body.indexOf(",") + 1);
      if (type === "0") {
        this.connected = true;
        this.retryDelay = 500;
        this.handlers.connect();
      } else if (type === "2") {
        const [name, ...args] = JSON.parse(body.replace(/^\d+/, "")); // an ack id may lead
        this.handlers.event(name, args);
      } else if (type === "4") {
        this.handlers.error(body ? JSON.parse(body) : {});
      } else if (type === "1") {
        this.ws.close();
      }
    }

    // The server pings every pingInterval; silence past pingInterval + pingTimeout means the
    // connection is gone even if the browser has not noticed yet.
    watch() {
      clearTimeout(this.watchdog);
      this.watchdog = setTimeout(() => this.ws.close(), this.silenceLimit);
    }

    closed(ws) {
      if (ws !== this.ws) return; // a socket replaced by restart()
      clearTimeout(this.watchdog);
      this.connected = false;
      this.handlers.disconnect();
      if (this.closing) return;
      setTimeout(() => this.open(), this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, 10000);
    }
  }

  // ---- the conversation, kept in localStorage ---------------------------------------------
  // The session id names the conversation on the server (with session_persistence); the
  // messages are kept only to show them again after a reload.
  function loadState() {
    if (!config.sessionPersistence) return { session_id: null, messages: [] };
    try {
      const state = JSON.parse(localStorage.getItem(config.storageKey));
      if (state && Array.isArray(state.messages)) return state;
    } catch (error) {
      // unreadable: start over
    }
    return { session_id: null, messages: [] };
  }

  function saveState() {
    state.messages = state.messages.slice(-KEPT_MESSAGES);
    localStorage.setItem(config.storageKey, JSON.stringify(state));
  }

  let state = loadState();
  let confirmed = false;

  // ---- what is shown ----------------------------------------------------------------------
  function bubble(from, className) {
    document.getElementById("chat-hint")?.remove();
    const element = document.createElement("div");
    element.className = `message ${from}${className ? " " + className : ""}`;
    log.appendChild(element);
    log.scrollTop = log.scrollHeight;
    return element;
  }

  function showUser(text) {
    bubble("user").textContent = text;
  }

  function showBot(message, index) {
    if (message.text !== undefined && message.text !== null) {
      bubble("bot", "text").textContent = message.text;
    }
    if (Array.isArray(message.quick_replies)) {
      showQuickReplies(message.quick_replies, index);
    }
    if (message.attachment) {
      showAttachment(message.attachment);
    }
    const known = ["text", "quick_replies", "attachment"];
    if (Object.keys(message).some((key) => !known.includes(key))) {
      bubble("bot", "custom").textContent = JSON.stringify(message, null, 2);
    }
    log.scrollTop = log.scrollHeight;
  }

  // Buttons answer once: the chosen one stays marked, the group is spent.
  function showQuickReplies(replies, index) {
    const group = bubble("bot", "quick-replies");
    const chosen = state.messages[index]?.chosen;
    replies.forEach((reply, position) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = reply.title ?? reply.payload;
      button.dataset.payload = reply.payload ?? reply.title;
      button.disabled = chosen !== undefined;
      if (chosen === position) button.classList.add("chosen");
      button.addEventListener("click", () => {
        if (!confirmed) return;
        state.messages[index].chosen = position;
        group.querySelectorAll("button").forEach((other) => (other.disabled = true));
        button.classList.add("chosen");
        sendMessage(button.dataset.payload, button.textContent);
      });
      group.appendChild(button);
    });
  }

  function showAttachment(attachment) {
    const src = attachment.payload?.src ?? attachment.payload?.url;
    const safe = typeof src === "string" && /^(https?:|\/)/.test(src);
    if (attachment.type === "image" && safe) {
      const image = document.createElement("img");
      image.src = src;
      image.alt = "an image from the bot";
      bubble("bot", "image").appendChild(image);
    } else if (safe) {
      const link = document.createElement("a");
      link.href = src;
      link.textContent = `${attachment.type ?? "attachment"}: ${src}`;
      link.rel = "noopener noreferrer";
      link.target = "_blank";
      bubble("bot", "attachment").appendChild(link);
    } else {
      bubble("bot", "custom").textContent = JSON.stringify(attachment, null, 2);
    }
  }

  function showAll() {
    log.querySelectorAll(".message").forEach((element) => element.remove());
    state.messages.forEach((message, index) => {
      if (message.from === "user") showUser(message.text);
      else showBot(message.data, index);
    });
  }

  function setStatus(name, text) {
    status.dataset.state = name;
    status.textContent = text;
  }

  function setReady(ready) {
    confirmed = ready;
    input.disabled = send.disabled = !ready;
    if (ready) input.focus();
  }

  // ---- talking to the bot -----------------------------------------------------------------
  function sendMessage(payload, shown) {
    state.messages.push({ from: "user", text: shown });
    saveState();
    showUser(shown);
    socket.emit(config.userMessageEvent, {
      message: payload,
      session_id: state.session_id,
      [config.metadataKey]: { source: "convapi-chat-page" },
    });
  }

  const socket = new SocketIO(config.path, config.namespace, config.token, {
    connect() {
      setStatus("confirming", "connected, starting the session…");
      socket.emit("session_request", { session_id: state.session_id });
    },
    event(name, args) {
      if (name === "session_confirm") {
        const id = typeof args[0] === "string" ? args[0] : args[0]?.session_id;
        if (id !== state.session_id) {
          state = { session_id: id, messages: [] };
          showAll();
        }
        saveState();
        sessionLabel.textContent = id;
        setStatus("connected", "connected");
        setReady(true);
      } else if (name === config.botMessageEvent) {
        state.messages.push({ from: "bot", data: args[0] ?? {} });
        saveState();
        showBot(args[0] ?? {}, state.messages.length - 1);
      }
    },
    error(body) {
      // A refused connection stays refused (a token past its time: a reload gets another).
      socket.closing = true;
      socket.ws.close();
      setStatus("refused", `refused by the server: ${body.message ?? JSON.stringify(body)}`);
    },
    disconnect() {
      setReady(false);
      if (status.dataset.state === "refused") return;
      setStatus(
        "disconnected",
        `cannot reach the socket.io channel at ${config.path} (is the server running ` +
          "config.asgi, GUNICORN_WORKER_CLASS=asgi?); retrying…",
      );
    },
  });

  form.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    const text = input.value.trim();
    if (!text || !confirmed) return;
    input.value = "";
    sendMessage(text, text);
  });

  document.getElementById("chat-new").addEventListener("click", () => {
    localStorage.removeItem(config.storageKey);
    state = { session_id: null, messages: [] };
    showAll();
    sessionLabel.textContent = "(none yet)";
    setReady(false);
    setStatus("connecting", "connecting…");
    socket.restart();
  });

  showAll();
  socket.open();
})();
