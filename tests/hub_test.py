"""The course's JupyterHub, tested for real (as root; `make hub-test`, part of `make test`).

Starts a hub of its own (state in a temporary folder, a class of three test learners and a
teacher, public address 127.0.0.2:18000 so that "where the teacher said" differs from loopback's
127.0.0.1), then checks, through the login page, the hub's API, the learners' servers and their
kernels' websockets:

  1. without a login every page and API answers with the login page or 403; a wrong password fails
  2. three learners log in and reach chapter 00's first chart at once (a small load test: figures)
  3. from a Rust cell, learner A cannot read or write learner B's files nor signal B's kernel
  4. A's token does not open B's server
  5. the hub and its proxy listen where the teacher said and on loopback, nowhere else
  6. A's runaway cell (memory until it fails) and A's fork bomb end in A's cgroup; B's kernel keeps
     its variables and answers; stopping A's server ends every process A left behind
  7. a hub restart keeps A's saved notebook, A's running server and its kernel's variables; a
     server restart keeps the notebook; a course update merges a new chapter and keeps A's edit
Removes its users, homes and cgroups at the end. Prints one line per check; exits 1 if any failed.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "hub"))
import course_hub  # noqa: E402
import hub_load  # noqa: E402
from hub_client import Learner, output_text  # noqa: E402

IP, PORT, API_PORT, PROXY_API_PORT = "127.0.0.2", 18000, 18081, 18001
MEM_MB = 1536  # the test hub's bound per learner (smaller than the default, so the runaway ends sooner)
PIDS = 200


class TestHub:
    """A hub of its own, with fresh learners; stopped and removed on exit."""

    def __init__(self, n_learners: int = 3):
        self.names = [f"htl{i + 1}" for i in range(n_learners)]
        self.teacher = "htteach"
        self.base = f"http://{IP}:{PORT}"
        self.state = Path(tempfile.mkdtemp(prefix="course-hub-test-"))
        self.content = Path(tempfile.mkdtemp(prefix="course-hub-content-")) / "content.git"
        self.accounts: list[tuple[str, str]] = []

    def env(self) -> dict:
        return {**os.environ, "COURSE_HUB_STATE": str(self.state), "COURSE_HUB_API_PORT": str(API_PORT),
                "COURSE_HUB_PROXY_API_PORT": str(PROXY_API_PORT), "COURSE_LEARNER_MEM_MB": str(MEM_MB),
                "COURSE_LEARNER_PIDS": str(PIDS), "COURSE_CONTENT_REPO": str(self.content)}

    def hub(self, *args: str) -> str:
        r = subprocess.run([sys.executable, str(ROOT / "hub/run.py"), *args], env=self.env(), capture_output=True,
                           text=True, timeout=180)
        if r.returncode != 0:
            raise RuntimeError(f"hub/run.py {' '.join(args)} failed:\n{r.stdout}{r.stderr}\n"
                               f"{(self.state / 'hub.log').read_text()[-3000:] if (self.state / 'hub.log').exists() else ''}")
        return r.stdout

    def start(self) -> None:
        self.hub("start", "--class", str(self.state / "class-list.txt"), "--teacher", self.teacher, "--ip", IP,
                 "--port", str(PORT), "--background")

    def __enter__(self) -> "TestHub":
        # A copy of the course's content repository, so that the update test never touches the real one.
        subprocess.run(["git", "clone", "-q", "--bare", str(course_hub.PREFIX / "content.git"), str(self.content)],
                       check=True)
        os.chmod(self.content.parent, 0o755)
        subprocess.run(["chmod", "-R", "a+rX", str(self.content)], check=True)
        course_hub.CONTENT_REPO = self.content  # homes prepared below trust this repository
        for name in [self.teacher, *self.names]:
            course_hub.remove_learner(name)
            pw = course_hub.ensure_learner(name)
            if name != self.teacher:
                self.accounts.append((name, pw))
        (self.state / "class-list.txt").write_text("\n".join(self.names) + "\n")
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        log = self.state / "hub.log"
        if (failures or exc[0]) and log.exists():
            print("[hub-test] the hub's log, last lines:\n" + "\n".join(log.read_text().splitlines()[-40:]))
        try:
            self.hub("stop")
        finally:
            for name in [self.teacher, *self.names]:
                course_hub.remove_learner(name)
            shutil.rmtree(self.state, ignore_errors=True)
            shutil.rmtree(self.content.parent, ignore_errors=True)


failures: list[str] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    print(f"[hub-test] {'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        failures.append(name)


def run_cell(kernel, code: str, timeout: float = 300) -> tuple[str, str]:
    status, out = kernel.execute(code, timeout=timeout)
    return status, output_text(out)


def anonymous_is_refused(hub: TestHub) -> None:
    a = hub.names[0]
    bad = []
    for path in ["/hub/home", "/hub/admin", "/hub/token", f"/user/{a}/lab", f"/user/{a}/tree/", "/hub/spawn",
                 "/hub/api/users", f"/hub/api/users/{a}", f"/hub/api/users/{a}/server", "/hub/api/proxy",
                 f"/user/{a}/api/contents", f"/user/{a}/api/kernels", f"/user/{a}/api/sessions"]:
        for method in ("GET", "POST"):
            r = requests.request(method, hub.base + path, allow_redirects=False, timeout=30)
            if r.status_code in (302, 303) and r.headers.get("Location", "").startswith(f"/hub/user/{a}/"):
                # /user/NAME/... with no server cookie goes to the hub first, which asks for a login
                r = requests.request(method, hub.base + r.headers["Location"], allow_redirects=False, timeout=30)
            loc = r.headers.get("Location", "")
            if not (r.status_code in (401, 403) or (r.status_code in (302, 303) and "/hub/login" in loc)
                    or (r.status_code == 405 and method == "POST")):
                bad.append(f"{method} {path} -> {r.status_code} {loc}")
    check("without a login, pages and APIs answer with the login page or 403", not bad, "; ".join(bad[:5]))
    learner = Learner(hub.base, a, "not-the-password")
    try:
        learner.login()
        refused = False
    except Exception:
        refused = True
    check("a wrong password is refused", refused)


def listening(hub: TestHub) -> None:
    import psutil
    pids = set()
    for f in ("jupyterhub.pid", "jupyterhub-proxy.pid"):
        try:
            pids.add(int((hub.state / f).read_text()))
        except (OSError, ValueError):
            pass
    addrs = set()
    for p in pids:
        try:
            proc = psutil.Process(p)
        except psutil.NoSuchProcess:
            continue
        for c in proc.net_connections(kind="inet"):
            if c.status == psutil.CONN_LISTEN:
                addrs.add(f"{c.laddr.ip}:{c.laddr.port}")
    public = {a for a in addrs if not a.startswith("127.0.0.1:")}
    check("the hub listens where the teacher said, and on loopback only otherwise",
          public == {f"{IP}:{PORT}"} and len(pids) == 2, f"listening: {sorted(addrs)}")


def isolation(hub: TestHub, kernels: dict) -> None:
    a, b = hub.names[0], hub.names[1]
    la, ka = kernels[a]
    lb, kb = kernels[b]
    b_home = f"/home/{b}"
    b_pids = sorted(course_hub.cgroup_pids(b))
    code = f"""{{
let read = std::fs::read_to_string("{b_home}/{course_hub.CONTENT_DIR}/README.md").map(|_| ()).map_err(|e| e.kind());
let write = std::fs::write("{b_home}/from-a.txt", "x").map_err(|e| e.kind());
let runtime = std::fs::read_dir("{b_home}/.local/share/jupyter/runtime").map(|_| ()).map_err(|e| e.kind());
let shared = std::fs::write("{course_hub.PREFIX}/cache/rustc/from-a", "x").map_err(|e| e.kind());
let course = std::fs::write("{course_hub.PREFIX}/course/support/src/lib.rs", "x").map_err(|e| e.kind());
// SAFETY: kill with signal 0 only asks whether the process may be signalled; nothing is sent.
let signal = unsafe {{ support::reexports::libc::kill({b_pids[0] if b_pids else 1}, 0) }};
let errno = std::io::Error::last_os_error().raw_os_error();
println!("read={{read:?}} write={{write:?}} runtime={{runtime:?}} signal={{signal}} errno={{errno:?}} shared={{shared:?}} course={{course:?}}");
}};"""
    status, text = run_cell(ka, code)
    check("from a Rust cell, A cannot read B's files", "read=Err(PermissionDenied)" in text, text.strip())
    check("from a Rust cell, A cannot write into B's home", "write=Err(PermissionDenied)" in text)
    check("from a Rust cell, A cannot open B's kernel connection files", "runtime=Err(PermissionDenied)" in text)
    check("from a Rust cell, A cannot signal B's processes", "signal=-1 errno=Some(1)" in text)
    check("from a Rust cell, A cannot write the shared compiled-crate cache nor the shared course",
          "shared=Err(PermissionDenied)" in text and "course=Err(PermissionDenied)" in text)
    status, text = run_cell(ka, 'println!("example ok: {}", support::infra::programs::run_example("alloc_trace", &["box"], &[]).success);')
    own = Path(f"/home/{a}/.cache/course-rustc/entries")
    stored = len(list(own.iterdir())) if own.is_dir() else 0
    check("A's kernel runs an example program, compiled once for everyone (nothing compiled for A)",
          "example ok: true" in text and stored == 0, f"{text.strip()[:120]}; {stored} crates compiled for A")
    status, text = run_cell(ka, 'println!("programs: {:?} {:?}", support::realprog::run::build_all().map(|b| b.seconds), '
                                'support::realprog::run::binary("bench-jemalloc"));')
    check("A's kernel finds chapter 8's programs built once for the server (no jemalloc build for A)",
          "programs: Ok(0.0)" in text and f"{course_hub.PREFIX}/programs/bench-jemalloc" in text, text.strip()[:200])
    r = la.api("GET", f"contents/{course_hub.CONTENT_DIR}", user=b)
    r2 = la.api("GET", "kernels", user=b)
    check("A's token does not open B's server", r.status_code in (403, 404) and r2.status_code in (403, 404),
          f"contents {r.status_code}, kernels {r2.status_code}")


def bounds(hub: TestHub, kernels: dict) -> None:
    a, b = hub.names[0], hub.names[1]
    la, ka = kernels[a]
    lb, kb = kernels[b]
    run_cell(kb, "let keep_me: u64 = 4242;")
    # Memory until it fails: every page written, 64 MiB at a time.
    status, text = run_cell(ka, """{
let mut hog: Vec<Vec<u8>> = Vec::new();
for _ in 0..4096 {
    let mut v = vec![0u8; 64 << 20];
    for i in (0..v.len()).step_by(4096) { v[i] = 1; }
    hog.push(v);
}
println!("allocated {} MiB and was never stopped", hog.len() * 64);
};""", timeout=600)
    check("A's runaway allocation ends in A's kernel (its child is killed at A's memory bound)",
          "never stopped" not in text and status == "error", f"{status}: {text.strip()[:160]}")
    status, text = run_cell(kb, "println!(\"{}\", keep_me);")
    check("B's kernel kept its variables through A's runaway", "4242" in text, text.strip()[:100])
    status, text = run_cell(ka, "println!(\"{}\", 6 * 7);")
    check("A's kernel answers again after its runaway cell", "42" in text, text.strip()[:100])
    # A fork bomb of child programs: stopped at A's process bound.
    status, text = run_cell(ka, """{
let mut kids: Vec<std::process::Child> = Vec::new();
let mut refused = None;
for _ in 0..100_000 {
    match std::process::Command::new("sleep").arg("600").spawn() {
        Ok(c) => kids.push(c),
        Err(e) => { refused = Some(e.kind()); break; }
    }
}
println!("started {} children, then {:?}", kids.len(), refused);
std::mem::forget(kids);
};""")
    started = int(text.split("started ")[1].split()[0]) if "started " in text else -1
    check("A's fork bomb stops at A's process bound", 0 < started < PIDS, text.strip()[:120])
    status, text = run_cell(kb, "println!(\"{}\", keep_me + 1);")
    check("B's kernel answers and keeps its variables during A's fork bomb", "4243" in text, text.strip()[:100])
    before = len(course_hub.cgroup_pids(a))
    ka.close()
    la.stop_server()
    left = course_hub.cgroup_pids(a)
    check("stopping A's server ends every process A left behind", before > started and not left,
          f"{before} processes before, {len(left)} after")
    la.start_server()
    kernels[a] = (la, la.open_kernel(hub_load.CHAPTER))
    kernels[a][1].wait_ready()


def nothing_lost(hub: TestHub, kernels: dict) -> None:
    a = hub.names[0]
    la, ka = kernels[a]
    path = hub_load.CHAPTER
    nb = la.api("GET", f"contents/{path}").json()
    nb["content"]["cells"][0]["source"] = "# My own notes on chapter 0\n" + "".join(nb["content"]["cells"][0]["source"])
    r = la.api("PUT", f"contents/{path}", json={"type": "notebook", "format": "json", "content": nb["content"]})
    check("A saves an edited notebook", r.status_code == 200, str(r.status_code))
    status, text = run_cell(ka, "let survivor: String = String::from(\"still here\");")
    check("A's kernel holds a variable", status == "ok", text.strip()[:200])

    # The hub restarts (SIGTERM, as systemd or a teacher's Ctrl-C would); learners' servers stay up.
    pid = int((hub.state / "jupyterhub.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        try:
            os.kill(pid, 0)
            time.sleep(0.1)
        except OSError:
            break
    status, text = run_cell(ka, "println!(\"{}\", survivor);")
    check("while the hub is down, A's running kernel keeps answering (through the proxy)", "still here" in text,
          text.strip()[:100])
    hub.start()
    ka.close()
    ka = la.connect(ka.id)  # as JupyterLab does when a connection drops
    kernels[a] = (la, ka)
    u = requests.get(f"{hub.base}/hub/api/users/{a}", headers=la.headers(), timeout=30).json()
    check("after a hub restart, A's server is still running", bool(u.get("servers", {}).get("", {}).get("ready")))
    status, text = run_cell(ka, "println!(\"{}\", survivor);")
    check("after a hub restart, A's kernel keeps its variables", "still here" in text, text.strip()[:100])
    saved = la.api("GET", f"contents/{path}").json()
    check("after a hub restart, A's edit is there",
          "My own notes" in "".join(saved["content"]["cells"][0]["source"]))

    # The course changes: a new chapter arrives; A's server restarts and merges it.
    push_update(hub, "99-update-test.md")
    ka.close()
    la.stop_server()
    la.start_server()
    new = la.api("GET", f"contents/{course_hub.CONTENT_DIR}/notebooks/99-update-test.md")
    saved = la.api("GET", f"contents/{path}").json()
    check("a server restart merges the course's update into A's home", new.status_code == 200, str(new.status_code))
    check("... and keeps A's edited notebook", "My own notes" in "".join(saved["content"]["cells"][0]["source"]))

    # A second update, brought in by the teacher's nbgitpuller link while A's server runs (the API the
    # link's page calls, with A's own token).
    push_update(hub, "99-second-update.md")
    query = {"repo": f"file://{hub.content}", "branch": "main", "targetpath": course_hub.CONTENT_DIR}
    r = requests.get(f"{hub.base}/user/{a}/git-pull/api", params=query, headers=la.headers(), timeout=120)
    new = la.api("GET", f"contents/{course_hub.CONTENT_DIR}/notebooks/99-second-update.md")
    saved = la.api("GET", f"contents/{path}").json()
    check("the nbgitpuller link merges an update into a running server", "finished" in r.text
          and new.status_code == 200, f"{r.status_code} {r.text[-200:]!r}")
    check("... and keeps A's edited notebook again", "My own notes" in "".join(saved["content"]["cells"][0]["source"]))


def push_update(hub: TestHub, filename: str) -> None:
    """The teacher's update: a new file in the course's content repository (the test's copy)."""
    work = Path(tempfile.mkdtemp())
    subprocess.run(["git", "clone", "-q", str(hub.content), str(work / "c")], check=True)
    (work / "c/notebooks" / filename).write_text("# A chapter added by the teacher\n")
    subprocess.run(["git", "-C", str(work / "c"), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(work / "c"), "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm",
                    "update"], check=True)
    subprocess.run(["git", "-C", str(work / "c"), "push", "-q", "origin", "main"], check=True)
    shutil.rmtree(work)
    subprocess.run(["chmod", "-R", "a+rX", str(hub.content)], check=True)


def main() -> int:
    if os.geteuid() != 0:
        print("[hub-test] skipped: needs root (it makes Unix users)")
        return 0
    if course_hub.cgroup_version() is None:
        print("[hub-test] error: no cgroups on this machine: the bounds cannot be tested", file=sys.stderr)
        return 1
    t0 = time.monotonic()
    with TestHub(3) as hub:
        try:
            anonymous_is_refused(hub)
            kernels: dict = {}
            results = hub_load.run(hub.base, hub.accounts, window=5, keep=kernels)
            print(hub_load.report(results), flush=True)
            check("three learners reach chapter 00's first chart at once", all(r.chart_s for r in results),
                  "; ".join(r.error for r in results if r.error))
            listening(hub)
            if len(kernels) >= 2:
                isolation(hub, kernels)
                bounds(hub, kernels)
                nothing_lost(hub, kernels)
        except Exception:
            traceback.print_exc()
            failures.append("an unexpected error")
        finally:
            for _, k in list(locals().get("kernels", {}).values()):
                k.close()
    print(f"[hub-test] {'all checks passed' if not failures else f'{len(failures)} failed'} "
          f"({time.monotonic() - t0:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
