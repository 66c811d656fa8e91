"""A learner as a program: logs in to the course's JupyterHub through its login page, starts their
server, opens a chapter and runs its cells through the kernel's websocket, as JupyterLab would.
Used by tests/hub_test.py (security, restarts, bounds) and tests/hub_load.py (many learners)."""
from __future__ import annotations

import json
import select
import time
import uuid
from dataclasses import dataclass, field

import requests
import websocket


class HubError(RuntimeError):
    pass


@dataclass
class Learner:
    base: str  # e.g. http://127.0.0.1:8000
    name: str
    password: str
    session: requests.Session = field(default_factory=requests.Session)
    token: str | None = None

    # ---- the hub ---------------------------------------------------------------------------------
    def login(self) -> None:
        """The login form, as a browser sends it; then an API token of the learner's own."""
        s = self.session
        s.get(f"{self.base}/hub/login", timeout=30)
        xsrf = s.cookies.get("_xsrf", "")
        r = s.post(f"{self.base}/hub/login", data={"username": self.name, "password": self.password, "_xsrf": xsrf},
                   allow_redirects=False, timeout=60)
        if r.status_code not in (302, 303) or "login" in r.headers.get("Location", "/hub/login").split("?")[0][-6:]:
            raise HubError(f"{self.name}: login refused ({r.status_code})")
        r = s.post(f"{self.base}/hub/api/users/{self.name}/tokens", json={"note": "course client", "expires_in": 3600},
                   headers={"X-XSRFToken": s.cookies.get("_xsrf", "")}, timeout=30)
        if r.status_code != 201:
            raise HubError(f"{self.name}: no token ({r.status_code} {r.text[:200]})")
        self.token = r.json()["token"]

    def headers(self) -> dict:
        return {"Authorization": f"token {self.token}"}

    def start_server(self, timeout: float = 180) -> None:
        r = requests.post(f"{self.base}/hub/api/users/{self.name}/server", headers=self.headers(), timeout=60)
        if r.status_code not in (201, 202, 400):  # 400: already running
            raise HubError(f"{self.name}: server not started ({r.status_code} {r.text[:300]})")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            u = requests.get(f"{self.base}/hub/api/users/{self.name}", headers=self.headers(), timeout=30).json()
            srv = u.get("servers", {}).get("", {})
            if srv.get("ready"):
                return
            if not u.get("pending") and not srv:
                raise HubError(f"{self.name}: the server stopped while starting")
            time.sleep(0.5)
        raise HubError(f"{self.name}: the server was not ready after {timeout:.0f} s")

    def stop_server(self) -> None:
        requests.delete(f"{self.base}/hub/api/users/{self.name}/server", headers=self.headers(), timeout=60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            u = requests.get(f"{self.base}/hub/api/users/{self.name}", headers=self.headers(), timeout=30).json()
            if not u.get("servers") and not u.get("pending"):
                return
            time.sleep(0.5)

    # ---- the learner's server ----------------------------------------------------------------------
    def api(self, method: str, path: str, user: str | None = None, **kw) -> requests.Response:
        """A request to a server's Jupyter API (the learner's own unless `user` names another)."""
        return requests.request(method, f"{self.base}/user/{user or self.name}/api/{path}", headers=self.headers(),
                                timeout=60, **kw)

    def notebook(self, path: str) -> dict:
        r = self.api("GET", f"contents/{path}")
        if r.status_code != 200:
            raise HubError(f"{self.name}: cannot open {path} ({r.status_code})")
        return r.json()["content"]

    def open_kernel(self, path: str) -> "Kernel":
        r = self.api("POST", "sessions", json={"path": path, "type": "notebook", "kernel": {"name": "rust"}})
        if r.status_code != 201:
            raise HubError(f"{self.name}: no kernel ({r.status_code} {r.text[:300]})")
        return self.connect(r.json()["kernel"]["id"])

    def connect(self, kernel_id: str) -> "Kernel":
        """A websocket to a running kernel (JupyterLab reconnects the same way after a lost connection)."""
        url = f"{self.base.replace('http', 'ws', 1)}/user/{self.name}/api/kernels/{kernel_id}/channels"
        header = [f"Authorization: token {self.token}"]
        return Kernel(websocket.create_connection(url, header=header, timeout=600), kernel_id, url, header)


@dataclass
class Kernel:
    ws: websocket.WebSocket
    id: str
    url: str = ""
    header: list | None = None

    def _open(self) -> None:
        """Reads what already waits on the connection (replies to earlier requests, the server's pings,
        which are answered), without waiting for more, and connects again when the server has closed it
        meanwhile, as JupyterLab does. The server closes a connection whose pings went unanswered while the
        test did other work (jupyter_server's websocket ping timeout, 30 s here): a request sent on it would
        be lost."""
        closed = False
        try:
            while select.select([self.ws.sock], [], [], 0)[0]:
                self.ws.settimeout(10)  # data is there: the rest of its frame follows at once
                opcode, _ = self.ws.recv_data(control_frame=True)  # a ping is answered and returned too
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    closed = True
                    break
        except websocket.WebSocketTimeoutException:
            return
        except (websocket.WebSocketConnectionClosedException, OSError, ValueError, TypeError):
            closed = True  # (a closed connection's socket is None: select raises TypeError)
        if not closed:
            return
        if not self.url:
            raise websocket.WebSocketConnectionClosedException("the kernel's websocket was closed")
        self.close()
        self.ws = websocket.create_connection(self.url, header=self.header, timeout=600)

    def request(self, msg_type: str, content: dict, channel: str = "shell") -> str:
        self._open()
        mid = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": mid, "msg_type": msg_type, "username": "", "session": "hubclient",
                       "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "content": content, "channel": channel, "buffers": [],
        }))
        return mid

    def wait_ready(self, timeout: float = 120) -> None:
        mid = self.request("kernel_info_request", {})
        self._collect(mid, timeout, reply="kernel_info_reply")

    def execute(self, code: str, timeout: float = 600, seen=None) -> tuple[str, list[dict]]:
        """Runs one cell; returns (status, outputs as Jupyter messages' contents with their type)."""
        mid = self.request("execute_request", {"code": code, "silent": False, "store_history": True,
                                               "user_expressions": {}, "allow_stdin": False})
        return self._collect(mid, timeout, seen=seen)

    def _collect(self, mid: str, timeout: float, reply: str = "execute_reply", seen=None):
        """Reads until the request `mid` has its `reply` and its idle status; `seen`, if given, is called with
        every message read meanwhile (a test watching more than the request's own)."""
        outputs, status, idle, got_reply = [], None, False, False
        deadline = time.monotonic() + timeout
        while not (idle and got_reply):
            left = deadline - time.monotonic()
            if left <= 0:
                raise HubError(f"no {reply} within {timeout:.0f} s")
            m = self._next_message(left)
            if m is None:
                continue
            if seen is not None:
                seen(m)
            if m["header"]["msg_type"] == "status" and m["content"].get("execution_state") in ("restarting", "dead"):
                raise HubError(f"the kernel died and was {m['content']['execution_state']} while running the request "
                               "(the server restarts a kernel that died: out of memory?)")
            if m.get("parent_header", {}).get("msg_id") != mid:
                continue
            t = m["header"]["msg_type"]
            if t == reply:
                got_reply, status = True, m["content"].get("status", "ok")
            elif t == "status" and m["content"].get("execution_state") == "idle":
                idle = True
            elif t in ("stream", "display_data", "execute_result", "error"):
                outputs.append({"type": t, **m["content"]})
        return status, outputs

    def _next_message(self, timeout: float) -> dict | None:
        """The next message within `timeout` s, or None when a ping or pong came first (answered; the caller
        checks its deadline again: `recv()` itself would go on reading past pings, which the server sends every
        30 s, so a kernel that never answers would keep it waiting for ever)."""
        self.ws.settimeout(max(0.01, timeout))
        try:
            opcode, data = self.ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise HubError("the server closed the kernel's websocket")
        if opcode not in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
            return None
        return json.loads(data)

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass


def has_chart(outputs: list[dict]) -> bool:
    for o in outputs:
        data = o.get("data", {})
        if "image/svg+xml" in data or "<svg" in data.get("text/html", ""):
            return True
    return False


def output_text(outputs: list[dict]) -> str:
    parts = []
    for o in outputs:
        if o["type"] == "stream":
            parts.append(o.get("text", ""))
        elif o["type"] == "error":
            parts.append(f"{o.get('ename')}: {o.get('evalue')}")
        else:
            parts.append(o.get("data", {}).get("text/plain", ""))
    return "".join(parts)
