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
  8. attacks on the isolation (issue 26), each failing on the hub before it: links, a FIFO and a
     swapped folder planted where a start prepares C's home change no root-owned file; C's git hooks,
     hooks path and fsmonitor do not run at the start's merge, and C's filter runs as C inside C's
     cgroups; A cannot connect to any of B's server's or kernels' ports; B sees none of A's /tmp and
     /dev/shm, A's /dev/shm is bounded and empty after a restart; A's correct login is quick during
     16 loops of wrong passwords on B's name; B's 2 s cell is at most 1.4x slower while A keeps every
     core busy; over TLS (--self-signed) cookies are Secure and plain http is refused; the idle
     culler stops an idle server
Removes its users, homes and cgroups at the end. Prints one line per check; exits 1 if any failed.
"""
from __future__ import annotations

import json
import os
import pwd
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
import prestart  # noqa: E402
from hub_client import HubError, Learner, has_chart, output_text  # noqa: E402

CGROUP_NAME = course_hub.CGROUP_NAME
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"

IP, PORT, API_PORT, PROXY_API_PORT = "127.0.0.2", 18000, 18081, 18001
MEM_MB = 1536  # the test hub's bound per learner (smaller than the default, so the runaway ends sooner)
PIDS = 200
SHM_MB = 64  # each learner's /dev/shm
DISK_MB = 512  # each learner's home (its own ext4 image)


class TestHub:
    """A hub of its own, with fresh learners; stopped and removed on exit."""

    def __init__(self, n_learners: int = 3):
        self.names = [f"htl{i + 1}" for i in range(n_learners)]
        self.teacher = "htteach"
        self.base = f"http://{IP}:{PORT}"
        self.state = Path(tempfile.mkdtemp(prefix="course-hub-test-"))
        # Not under /tmp: learners' servers have a private /tmp, and the nbgitpuller link reads this from there.
        self.content = Path(tempfile.mkdtemp(prefix="course-hub-test-content-", dir="/var/lib")) / "content.git"
        self.accounts: list[tuple[str, str]] = []
        self.extra_env: dict[str, str] = {}

    def env(self) -> dict:
        return {**os.environ, "COURSE_HUB_STATE": str(self.state), "COURSE_HUB_API_PORT": str(API_PORT),
                "COURSE_HUB_PROXY_API_PORT": str(PROXY_API_PORT), "COURSE_LEARNER_MEM_MB": str(MEM_MB),
                "COURSE_LEARNER_PIDS": str(PIDS), "COURSE_LEARNER_SHM_MB": str(SHM_MB),
                "COURSE_CONTENT_REPO": str(self.content), **self.extra_env}

    def hub(self, *args: str) -> str:
        r = subprocess.run([sys.executable, str(ROOT / "hub/run.py"), *args], env=self.env(), capture_output=True,
                           text=True, timeout=180)
        if r.returncode != 0:
            raise RuntimeError(f"hub/run.py {' '.join(args)} failed:\n{r.stdout}{r.stderr}\n"
                               f"{(self.state / 'hub.log').read_text()[-3000:] if (self.state / 'hub.log').exists() else ''}")
        return r.stdout

    def start(self, *extra: str) -> None:
        self.hub("start", "--class", str(self.state / "class-list.txt"), "--teacher", self.teacher, "--ip", IP,
                 "--port", str(PORT), "--background", *extra)

    def __enter__(self) -> "TestHub":
        # A copy of the course's content repository, so that the update test never touches the real one.
        subprocess.run(["git", "clone", "-q", "--bare", str(course_hub.PREFIX / "content.git"), str(self.content)],
                       check=True)
        os.chmod(self.content.parent, 0o755)
        subprocess.run(["chmod", "-R", "a+rX", str(self.content)], check=True)
        course_hub.CONTENT_REPO = self.content  # homes prepared below trust this repository
        course_hub.DISK_MB = DISK_MB
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


def prestart_room(hub: TestHub) -> float:
    """make hub-warm's pre-start: a room that does not fit is refused after its first learner (the others
    not started); then the whole room is pre-started, each learner's kernel running as them in their cgroup.
    Returns the time the room was ready (the learners' kernels must have started before it)."""
    token = (hub.state / "service_token").read_text().strip()
    said: list[str] = []
    real = prestart.mem_available
    try:
        prestart.mem_available = lambda: 700 * 2**20  # a machine with room for one learner at most
        try:
            prestart.prestart(hub.base, token, hub.names, say=said.append)
            refused = ""
        except prestart.PrestartError as e:
            refused = str(e)
    finally:
        prestart.mem_available = real
    others = [n for n in hub.names[1:] if course_hub.cgroup_pids(n)]
    check("hub-warm refuses a room that does not fit in memory, with one line, before starting the others",
          refused.startswith("refused:") and "available" in refused and not others,
          f"{refused or said}; started anyway: {others}")
    prestart.prestart(hub.base, token, hub.names, say=lambda line: print(line, flush=True))
    kernels_ok = []
    for name in hub.names:
        uid = pwd.getpwnam(name).pw_uid
        evcxr = prestart.kernel_pids(name)
        kernels_ok.append(bool(evcxr) and all(os.stat(f"/proc/{p}").st_uid == uid for p in evcxr))
    check("hub-warm pre-starts every learner's server and warmed kernel, running as the learner in their cgroup",
          all(kernels_ok), f"{dict(zip(hub.names, kernels_ok))}")
    return time.time()


def started_before(pid: int, when: float) -> bool:
    """Whether process `pid` started before the wall-clock time `when` (from /proc, root's side)."""
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    boot = float(Path("/proc/stat").read_text().split("btime ")[1].split()[0])
    return boot + ticks / os.sysconf("SC_CLK_TCK") < when


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
    private_tmp(hub, kernels)
    network(hub, kernels)
    r = la.api("GET", f"contents/{course_hub.CONTENT_DIR}", user=b)
    r2 = la.api("GET", "kernels", user=b)
    check("A's token does not open B's server", r.status_code in (403, 404) and r2.status_code in (403, 404),
          f"contents {r.status_code}, kernels {r2.status_code}")


def login_throttle(hub: TestHub) -> None:
    """16 loops of wrong passwords on B's name; A's correct login meanwhile (the issue's bound: <= 2 s)."""
    import threading
    (a, pw_a), (b, _) = hub.accounts[0], hub.accounts[1]
    stop, tries = threading.Event(), [0] * 16

    def attack(i: int) -> None:
        while not stop.is_set():
            try:
                Learner(hub.base, b, f"wrong-{i}-{tries[i]}").login()
            except Exception:
                pass
            tries[i] += 1

    threads = [threading.Thread(target=attack, args=(i,), daemon=True) for i in range(16)]
    for t in threads:
        t.start()
    time.sleep(4)
    t0 = time.monotonic()
    try:
        Learner(hub.base, a, pw_a).login()
        ok = True
    except Exception as e:
        ok = str(e)
    took = time.monotonic() - t0
    stop.set()
    for t in threads:
        t.join(timeout=120)
    check("A's correct login during 16 parallel wrong-password loops on B's name takes <= 2 s",
          ok is True and took <= 2.0, f"{took:.2f} s ({ok}); {sum(tries)} wrong tries in {4 + took:.0f} s")
    # PAM answers a wrong password after 3 s in one of 4 threads: at most 4 per 3 s without the throttle.
    pam_most = 4 * (4 + took) / 3
    check("... the wrong tries were refused without waiting for PAM (far more answers than PAM gives)",
          sum(tries) > 4 * pam_most, f"{sum(tries)} answers; PAM alone: at most {pam_most:.0f}")

def tls_and_culler(hub: TestHub) -> None:
    """The hub restarted with a self-signed pair and a 20 s idle timeout: https with Secure cookies, no
    plain http; A's idle server is stopped by the culler."""
    hub.hub("stop")
    hub.extra_env = {"COURSE_HUB_IDLE_TIMEOUT": "20"}
    hub.start("--self-signed")
    crt = hub.state / "tls.crt"
    os.environ["REQUESTS_CA_BUNDLE"] = str(crt)  # every request of this part verifies the hub's certificate
    try:
        a, pw = hub.accounts[0]
        learner = Learner(f"https://{IP}:{PORT}", a, pw)
        try:
            learner.login()
            said = "logged in"
        except Exception as e:
            said = str(e)
        cookies = {c.name: c.secure for c in learner.session.cookies if c.name.startswith("jupyterhub")}
        try:
            requests.get(f"http://{IP}:{PORT}/hub/login", timeout=10)
            plain = "answered"
        except requests.RequestException:
            plain = "refused"
        check("with --self-signed the hub serves https (its certificate verifies) and its cookies are Secure",
              said == "logged in" and bool(cookies) and all(cookies.values()) and plain == "refused",
              f"{said}; cookies {cookies}; plain http {plain}")
        if said != "logged in":
            return
        # `hub stop` had the hub stop every learner's server (so its database lists none): the restarted hub
        # has nothing to check, and A's server starts at once (before, the hub checked each server it still
        # listed for up to its http_timeout, 120 s, and a start meanwhile ended "stopped while starting").
        u = requests.get(f"{learner.base}/hub/api/users/{a}", headers=learner.headers(), timeout=30).json()
        check("after hub stop and start, the hub lists no server of the room as running or pending",
              "servers" in u and not u["servers"] and not u.get("pending"), f"servers {u.get('servers')}, pending {u.get('pending')}")
        learner.start_server()
        t0 = time.monotonic()
        running = True
        while running and time.monotonic() - t0 < 120:
            time.sleep(2)
            u = requests.get(f"{learner.base}/hub/api/users/{a}", headers=learner.headers(), timeout=30).json()
            running = bool(u.get("servers"))
        check("the idle culler stops A's idle server (timeout 20 s here)", not running,
              f"stopped {time.monotonic() - t0:.0f} s after its start" if not running else "still running after 120 s")
    finally:
        del os.environ["REQUESTS_CA_BUNDLE"]

def listening_of(name: str) -> list[tuple[str, int]]:
    """The TCP addresses the learner's processes (server, kernels) listen on."""
    import psutil
    pids = course_hub.cgroup_pids(name)
    return sorted({(c.laddr.ip, c.laddr.port) for c in psutil.net_connections(kind="inet")
                   if c.status == psutil.CONN_LISTEN and c.pid in pids})


def network(hub: TestHub, kernels: dict) -> None:
    """A's cell connects to every port B's server and kernel listen on (B's IOPub among them), and to A's own."""
    a, b = hub.names[0], hub.names[1]
    ka = kernels[a][1]
    other, own = listening_of(b), listening_of(a)
    rust = lambda addrs: "[" + ", ".join(f'("{ip}", {port})' for ip, port in addrs) + "]"  # noqa: E731
    code = """{
let probe = |list: &[(&str, u16)]| list.iter().filter(|(ip, port)| std::net::TcpStream::connect_timeout(
    &format!("{ip}:{port}").parse().unwrap(), std::time::Duration::from_secs(2)).is_ok()).count();
println!("other: {} of %d open; own: {} of %d open", probe(&%s), probe(&%s));
};""" % (len(other), len(own), rust(other), rust(own))
    status, text = run_cell(ka, code)
    check("A cannot connect to any socket B's server and kernel listen on (IOPub, shell, control included)",
          len(other) >= 6 and f"other: 0 of {len(other)} open" in text, f"{text.strip()[:120]}; B listens on {other}")
    check("... while A reaches A's own", len(own) >= 6 and f"own: {len(own)} of {len(own)} open" in text,
          f"A listens on {own}")


def private_tmp(hub: TestHub, kernels: dict) -> None:
    """A's /tmp (evcxr's build folders) and /dev/shm are A's alone, and /dev/shm is bounded."""
    a, b = hub.names[0], hub.names[1]
    ka, kb = kernels[a][1], kernels[b][1]
    uid_a = pwd.getpwnam(a).pw_uid
    count = """fn owned_by(uid: u32) -> usize {
    use std::os::unix::fs::MetadataExt;
    ["/tmp", "/dev/shm"].iter().flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .filter(|e| e.metadata().map(|m| m.uid() == uid).unwrap_or(false)).count()
}
"""
    status, text = run_cell(ka, count + f"""{{
std::fs::write("/dev/shm/course-test-a", vec![1u8; 1 << 20]).unwrap();
let big = std::fs::write("/dev/shm/course-test-big", vec![1u8; ({SHM_MB} + 16) << 20]).map_err(|e| e.kind());
let _ = std::fs::remove_file("/dev/shm/course-test-big");
let du = std::process::Command::new("du").args(["-sm", "/tmp"]).output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
println!("own={{}} big={{big:?}} du={{du:?}}", owned_by({uid_a}));
}};""")
    own = int(text.split("own=")[1].split()[0]) if "own=" in text else -1
    check("A's /dev/shm is bounded (a write past its size fails)", "big=Err(" in text, text.strip()[:200])
    status, text_b = run_cell(kb, count + f"""println!("seen={{}} read={{:?}}", owned_by({uid_a}),
    std::fs::read("/dev/shm/course-test-a").map(|_| ()).map_err(|e| e.kind()));""")
    check("B sees none of A's files in /tmp and /dev/shm (evcxr's build folders, A's shared memory)",
          own >= 2 and "seen=0 read=Err(NotFound)" in text_b, f"A owns {own} there; B: {text_b.strip()[:120]}")


def disk_bound(hub: TestHub, kernels: dict) -> None:
    """A fills A's home: a clear error at A's bound, B keeps writing, the hub keeps answering."""
    a, b = hub.names[0], hub.names[1]
    ka, kb = kernels[a][1], kernels[b][1]
    fill = """{
use std::io::Write;
let path = format!("{}/fill", std::env::var("HOME").unwrap());
let mut f = std::fs::File::create(&path).unwrap();
let chunk = vec![1u8; 16 << 20];
let mut written = 0;
let err = loop {
    if let Err(e) = f.write_all(&chunk).and_then(|_| f.sync_data()) { break Some(e); }
    written += 16;
    if written > %d { break None; }
};
drop(f);
println!("wrote {written} MiB, then {:?}", err.map(|e| e.to_string()));
%s
};"""
    status, text = run_cell(ka, fill % (2 * DISK_MB, 'let _ = std::fs::remove_file(&path);'
                                        'println!("after removing: {:?}", std::fs::write(&path, [1u8; 4096]).map_err(|e| e.kind()));'),
                            timeout=300)
    written = int(text.split("wrote ")[1].split()[0]) if "wrote " in text else -1
    check(f"A's home is bounded ({DISK_MB} MiB): A gets 'No space left on device' there, and can write again after "
          "removing the file", 0 < written < DISK_MB and "No space left on device" in text
          and "after removing: Ok(())" in text, text.strip()[:200])
    status, text = run_cell(kb, 'println!("b wrote: {:?}", std::fs::write(format!("{}/b-file", '
                                'std::env::var("HOME").unwrap()), vec![2u8; 32 << 20]).map_err(|e| e.kind()));')
    r = requests.get(f"{hub.base}/hub/api/", timeout=30)
    check("... while B writes 32 MiB into B's home and the hub answers", "b wrote: Ok(())" in text and r.status_code == 200,
          f"{text.strip()[:100]}; hub {r.status_code}")


def cpu_fairness(hub: TestHub, kernels: dict) -> None:
    """B's 2 s of single-threaded work, on an idle hub and while A keeps every core of the machine busy."""
    a, b = hub.names[0], hub.names[1]
    ka, kb = kernels[a][1], kernels[b][1]

    def cpu_idle() -> tuple[int, int]:  # (idle + iowait, total) jiffies of the machine
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return f[3] + f[4], sum(f)

    run_cell(kb, """fn spin(n: u64) -> f64 {
    let t = std::time::Instant::now();
    let mut x = 0u64;
    for i in 0..n { x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i)); }
    std::hint::black_box(x);
    t.elapsed().as_secs_f64()
}
let mut work: u64 = 1 << 24;
while spin(work) < 0.5 { work *= 2; }
work = (work as f64 * 2.0 / spin(work)) as u64;""")
    idle0 = cpu_idle()
    status, text = run_cell(kb, 'println!("idle: {:.3} s", spin(work));')
    idle = float(text.split("idle: ")[1].split()[0]) if "idle: " in text else 0.0
    cores = os.cpu_count() or 2
    idle1 = cpu_idle()
    # While B's spin ran alone, every other core should have been idle on a quiet machine.
    spare = (idle1[0] - idle0[0]) / max(1, idle1[1] - idle0[1]) * cores
    stat = [d / "cpu.stat" for d in course_hub.cgroup_dirs(a) if (d / "cpu.stat").exists()]

    def throttled() -> int:
        return sum(int(line.split()[1]) for f in stat for line in f.read_text().splitlines()
                   if line.startswith("nr_throttled "))

    before = throttled()
    run_cell(ka, """for _ in 0..%d {
    std::thread::spawn(|| { let t = std::time::Instant::now(); let mut x = 0u64;
        while t.elapsed().as_secs() < 12 { x = std::hint::black_box(x + 1); } });
}""" % cores)
    time.sleep(1)
    status, text = run_cell(kb, 'println!("busy: {:.3} s", spin(work));')
    busy = float(text.split("busy: ")[1].split()[0]) if "busy: " in text else 0.0
    ratio = busy / idle if idle else 0.0
    quota = [(d / f).read_text().split()[0] for d in course_hub.cgroup_dirs(a)
             for f in ("cpu.cfs_quota_us", "cpu.max") if (d / f).exists()]
    # The target is 1.25x; other work on the machine (a shared test machine) slows B, and keeps A's
    # threads under A's quota, for reasons of its own: both are judged only on an otherwise quiet machine.
    quiet = spare >= (cores - 1) * 0.7
    check(f"CPU: A's cgroup has a quota below the machine's {cores} cores, and A's {cores} busy threads are "
          "held to it (throttled; judged on a quiet machine)",
          len(quota) == 1 and quota[0].isdigit() and int(quota[0]) < cores * 100000
          and (throttled() > before or not quiet),
          f"quota {quota} us per 100000 us; {throttled() - before} periods throttled")
    check(f"CPU: B's 2 s cell while A runs {cores} busy threads takes <= 1.4x its idle time (target 1.25x)",
          idle > 0 and (0 < ratio <= 1.4 or not quiet),
          f"idle {idle:.2f} s, busy {busy:.2f} s: {ratio:.2f}x" + ("" if quiet else
          f" (not judged: other work kept the machine busy, {spare:.1f} of {cores - 1} other cores idle during B's idle run)"))
    time.sleep(max(0.0, 12 - busy))  # A's threads end


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
    status, text = run_cell(kernels[a][1], 'println!("shm file: {}", std::path::Path::new("/dev/shm/course-test-a").exists());')
    check("A's /dev/shm file is gone after A's server restarts (and was never in the machine's)",
          "shm file: false" in text and not Path("/dev/shm/course-test-a").exists(), text.strip()[:100])


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


def chapter_9(hub: TestHub, kernels: dict) -> None:
    """Chapter 9 run for a learner: every code cell in their own kernel (their Unix user, their cgroups),
    its traces made (strace traces a child it started: Yama's ptrace_scope 1 allows that), its reservation
    sized to the learner's memory bound, its thread counts within their process bound, zero errors."""
    name = hub.names[1]  # B: A's kernel is closed by the checks before (and C's by no_root_path, after)
    learner, _ = kernels[name]
    path = f"{course_hub.CONTENT_DIR}/notebooks/{next((ROOT / 'notebooks').glob('09-*.ipynb')).name}"
    nb = learner.notebook(path)  # the learner's own copy, through their server
    # B closes chapter 0 first: under the test hub's bound (MEM_MB) B's server, the pool's waiting kernel and
    # two open chapters' kernels do not fit (the kernel the OOM killer ended restarted under the test).
    kernels[name][1].close()
    for k in learner.api("GET", "kernels").json():
        learner.api("DELETE", f"kernels/{k['id']}")
    # The chapter's own kernel, as opening it in JupyterLab gives one (a session for its path; from B's pool).
    kernel = learner.open_kernel(path)
    try:
        kernel.wait_ready()
    except HubError as e:
        raise HubError(f"{e}; the server's kernels: {learner.api('GET', 'kernels').json()}") from e
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    errors, charts, texts = [], 0, []
    t0 = time.monotonic()
    peak_pids = 0
    for i, code in enumerate(cells):
        status, out = kernel.execute(code, timeout=600)
        text = output_text(out)
        texts.append(text)
        charts += sum(1 for o in out if has_chart([o]))
        if status != "ok" or any(o["type"] == "error" for o in out):
            errors.append(f"cell {i}: {text.strip()[-300:]}")
        peak_pids = max(peak_pids, len(course_hub.cgroup_pids(name)))
    took = time.monotonic() - t0
    kernel.close()
    every = "\n".join(texts)
    check(f"chapter 9 runs for learner {name} in their kernel with zero errors and its charts", not errors and charts >= 6,
          f"{len(cells)} code cells, {charts} charts, {took:.0f} s; {'; '.join(errors)[:600]}")
    check("chapter 9's strace traces the learner's own child program on the hub",
          "memory calls during the program's start-up" in every and "No trace on this machine" not in every,
          next((t.strip()[:200] for t in texts if "trace" in t.lower()), ""))
    reservation = next((line for line in every.splitlines() if line.startswith("reservation:")), "")
    check("chapter 9's reservation is sized to the learner's memory bound",
          reservation.startswith(f"reservation: {MEM_MB // 4} MiB: a quarter of this cgroup's memory bound ({MEM_MB} MiB)"),
          reservation)
    threads = next((line for line in every.splitlines() if "processes measured" in line), "")
    check("chapter 9's threads ran within the learner's process bound (up to 16 threads in each of 25 programs)",
          threads.startswith("25 processes measured"), f"{threads}; processes in the learner's cgroup between cells: "
          f"at most {peak_pids} of {PIDS}")


def as_learner(name: str, script: str, stdin: str = "", *args: str) -> subprocess.CompletedProcess:
    """A shell script run as the learner (what a learner's terminal can do), outside the hub."""
    return subprocess.run([RUNUSER, "-u", name, "--", "sh", "-c", script, "sh", *args], input=stdin, text=True,
                          capture_output=True, cwd="/", env={"PATH": "/usr/bin:/bin", "HOME": f"/home/{name}"})


def root_files(*tops: Path) -> dict:
    """Owner, mode and content digest of every file under `tops` (one level of /etc, all of a decoy)."""
    import hashlib
    out = {}
    for top in tops:
        paths = [top, *top.iterdir()] if top == Path("/etc") else [top, *top.rglob("*")]
        for f in paths:
            try:
                st = f.lstat()
            except OSError:
                continue
            digest = ""
            if f.is_file() and not f.is_symlink() and st.st_size < 1 << 20:
                try:
                    digest = hashlib.sha256(f.read_bytes()).hexdigest()
                except OSError:
                    pass
            out[str(f)] = (st.st_uid, st.st_gid, st.st_mode, digest)
    return out


def no_root_path(hub: TestHub, kernels: dict) -> None:
    """Learner C plants links where the hub's start prepares the home; no root-owned file may change."""
    c = hub.names[2]
    lc, kc = kernels[c]
    kc.close()
    lc.stop_server()
    decoy = Path(tempfile.mkdtemp(prefix="course-hub-test-decoy-", dir="/var/lib"))  # root's, like /etc
    os.chmod(decoy, 0o755)
    (decoy / "keep").write_text("root's file\n")
    (decoy / "dir").mkdir()
    rounds = {
        "~/.cargo, ~/.gitconfig and the course folder as links to root's folder and to new files in it":
            f"mv .cargo .cargo.orig; mv .gitconfig .gitconfig.orig; mv {course_hub.CONTENT_DIR} course.orig; "
            f"ln -s {decoy}/dir .cargo && ln -s {decoy}/new-gitconfig .gitconfig && "
            f"ln -s {decoy} {course_hub.CONTENT_DIR}",
        "~/.cargo/config.toml a link to a new root file, ~/.gitconfig a FIFO, the course folder a link to root's file":
            f"rm .cargo .gitconfig {course_hub.CONTENT_DIR}; mkdir .cargo && ln -s {decoy}/new-config .cargo/config.toml && "
            f"mkfifo .gitconfig && ln -s {decoy}/keep {course_hub.CONTENT_DIR}",
        "~/.cargo swapped between a folder and a link to root's folder during the start":
            "rm -rf .cargo .gitconfig",
    }
    hard = as_learner(c, f"cd && ln {decoy}/keep hard-link")
    check("a learner cannot hard-link a root-owned file into their home (a file system of its own; "
          "fs.protected_hardlinks)", hard.returncode != 0,
          hard.stderr.strip()[:100])
    for what, plant in rounds.items():
        r = as_learner(c, f"cd && {plant}")
        swapper = None
        if "swapped" in what:
            swapper = subprocess.Popen(["nice", RUNUSER, "-u", c, "--", "sh", "-c", f"cd; while :; do mkdir .cargo; "
                                        f"rmdir .cargo; ln -s {decoy}/dir .cargo; rm .cargo; done"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        before = root_files(Path("/etc"), decoy)
        try:
            lc.start_server()
            started = "started"
        except Exception as e:
            started = str(e)
        if swapper:
            os.killpg(swapper.pid, signal.SIGKILL)  # its own session: runuser and the loop under it
            swapper.wait()
        lc.stop_server()
        after = root_files(Path("/etc"), decoy)
        changed = [f"{k}: {before.get(k)} -> {after.get(k)}" for k in sorted(set(before) | set(after))
                   if before.get(k) != after.get(k)]
        check(f"no root path: {what}: no root-owned file changed owner, mode or content, none was made",
              r.returncode == 0 and not changed, f"{r.stderr.strip()[:100]} {'; '.join(changed[:3])}")
        check(f"... and the learner's server still starts", started == "started", started[:200])
    r = as_learner(c, f"cd && rm -rf .cargo .gitconfig {course_hub.CONTENT_DIR} && mv .cargo.orig .cargo && "
                      f"mv .gitconfig.orig .gitconfig && mv course.orig {course_hub.CONTENT_DIR}")
    shutil.rmtree(decoy, ignore_errors=True)
    merge_hooks(hub, c, lc)


SPY = """#!/bin/sh
{ id -u; cat /proc/self/cgroup; } > "$HOME/ran-$(basename "$0")"
cat
"""


def merge_hooks(hub: TestHub, c: str, lc) -> None:
    """C's course repository has hooks, a hooks path, an fsmonitor and a filter of C's own; the start's
    merge of a new chapter runs none of the hooks, and the filter (git has no switch for all of them)
    only as C inside C's cgroups."""
    repo = f"/home/{c}/{course_hub.CONTENT_DIR}"
    hooks = ["post-merge", "pre-merge-commit", "reference-transaction", "pre-commit", "commit-msg", "post-commit",
             "post-checkout", "post-rewrite"]
    r = as_learner(c, f"""cat > ~/spy && chmod +x ~/spy && mkdir -p ~/myhooks && cd {repo} &&
        for h in {' '.join(hooks)}; do cp ~/spy .git/hooks/$h; cp ~/spy ~/myhooks/$h; done &&
        cp ~/spy ~/fsmonitor && cp ~/spy ~/filter && git config core.fsmonitor ~/fsmonitor &&
        git config filter.spy.smudge ~/filter && git config filter.spy.clean ~/filter &&
        echo '* filter=spy' > .git/info/attributes && git config --global core.hooksPath ~/myhooks""", SPY)
    check("C plants git hooks, a hooks path, an fsmonitor and a filter in their course repository",
          r.returncode == 0, r.stderr.strip()[:200])
    push_update(hub, "99-hook-test.md")
    lc.start_server()
    home = Path(f"/home/{c}")
    ran = sorted(f.name for f in home.glob("ran-*"))
    merged = lc.api("GET", f"contents/{course_hub.CONTENT_DIR}/notebooks/99-hook-test.md").status_code
    check("the start's merge of a new chapter ran none of C's hooks nor C's fsmonitor",
          merged == 200 and not [n for n in ran if n != "ran-filter"], f"merged: {merged}; ran: {ran}")
    uid = str(pwd.getpwnam(c).pw_uid)
    if (home / "ran-filter").exists():
        lines = (home / "ran-filter").read_text().splitlines()
        # /proc/self/cgroup: "N:controller:/path"; the learner's bounds are memory, pids, cpu (v1) or one tree (v2)
        wanted = {"memory", "pids", "cpu"} if course_hub.cgroup_version() == 1 else {""}
        ours = {ln.split(":")[1] for ln in lines[1:] if ln.split(":")[1] in wanted and ln.endswith(f"/{CGROUP_NAME}/{c}")}
        inside = lines[0] == uid and ours == wanted
        check("C's filter (run by the merge) ran as C inside C's cgroups", inside, " | ".join(lines[:6]))
    as_learner(c, f"cd {repo} && git config --unset core.fsmonitor; git config --global --unset core.hooksPath; "
                  "rm -f .git/info/attributes ~/ran-*")
    lc.stop_server()


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
            ready = prestart_room(hub)
            results = hub_load.run(hub.base, hub.accounts, window=5, keep=kernels)
            print(hub_load.report(results), flush=True)
            check("three learners reach chapter 00's first chart at once", all(r.chart_s for r in results),
                  "; ".join(r.error for r in results if r.error))
            pids = {n: int(run_cell(k, "std::os::unix::process::parent_id()")[1].strip() or 0)
                    for n, (_, k) in kernels.items()}
            check("after hub-warm, each learner's chapter runs in the kernel pre-started for them",
                  len(pids) == 3 and all(p and started_before(p, ready) for p in pids.values()), f"{pids}")
            listening(hub)
            login_throttle(hub)
            if len(kernels) >= 2:
                isolation(hub, kernels)
                disk_bound(hub, kernels)
                cpu_fairness(hub, kernels)
                bounds(hub, kernels)
                nothing_lost(hub, kernels)
                try:
                    chapter_9(hub, kernels)
                except Exception as e:  # report it and go on with the checks after it
                    check("chapter 9 runs for a learner on the hub", False, f"{type(e).__name__}: {e}")
            if len(kernels) >= 3:
                no_root_path(hub, kernels)
            tls_and_culler(hub)
        except Exception:
            traceback.print_exc()
            failures.append("an unexpected error")
        finally:
            for _, k in list(locals().get("kernels", {}).values()):
                k.close()
    # The failed checks' names on the last line: CI keeps only the end of a failed run's output, after the
    # hub's log (a failure in the middle of the test was out of sight there).
    print(f"[hub-test] {'all checks passed' if not failures else f'{len(failures)} failed'} "
          f"({time.monotonic() - t0:.0f} s){': ' + ' | '.join(failures) if failures else ''}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
