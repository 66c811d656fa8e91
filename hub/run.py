"""`make hub`: the course served to a room of learners from this machine (run as root).

  hub/run.py start --class class.txt [--teacher NAME] [--ip ADDR] [--port N] [--background]
                  [--cert FILE --key FILE | --self-signed]
      makes a Unix user for each learner on the class list and for the teacher (the hub's admin),
      prints each new user's generated password once, and starts JupyterHub; prints the address.
      With --cert/--key (the teacher's, PEM) or --self-signed (a pair made once in the hub's state
      folder, tls.crt; learners' browsers must be told to trust it) the hub serves https only.
  hub/run.py stop                   stops the hub, its proxy and every learner's server
  hub/run.py warm                   pre-starts every learner's server and warmed kernel (hub/prestart.py);
                                    refuses a class whose measured footprint does not fit in memory
  hub/run.py password NAME          a new password for NAME, printed once
  hub/run.py update                 the course's current chapters into content.git; prints the link
                                    that merges them into each learner's home (edits are kept)
The shared install (scripts/setup_shared.sh) must have run: `make hub` runs it first.
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import course_hub  # noqa: E402

PREFIX = course_hub.PREFIX
STATE = Path(os.environ.get("COURSE_HUB_STATE", PREFIX / "hub-state"))


def state_dir() -> Path:
    STATE.mkdir(parents=True, exist_ok=True)
    os.chmod(STATE, 0o700)
    for name in ("proxy_token", "service_token"):
        f = STATE / name
        if not f.exists():
            f.write_text(secrets.token_hex(32))
            os.chmod(f, 0o600)
    return STATE


def hub_env(args) -> dict[str, str]:
    st = state_dir()
    return {
        **os.environ,
        "COURSE_PREFIX": str(PREFIX),
        "COURSE_HUB_STATE": str(st),
        "COURSE_HUB_IP": args.ip,
        "COURSE_HUB_PORT": str(args.port),
        "COURSE_CLASS": str(Path(args.class_list).resolve()),
        "COURSE_TEACHER": args.teacher,
        # The proxy keeps running across a hub restart; the hub finds it again with the same token.
        "CONFIGPROXY_AUTH_TOKEN": (st / "proxy_token").read_text().strip(),
        "PATH": f"{PREFIX}/venv/bin:{PREFIX}/node/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    }


def tls_pair(args) -> tuple[str, str] | None:
    """The certificate and key the hub serves (the teacher's, or a self-signed pair made once)."""
    if args.cert or args.key:
        if not (args.cert and args.key and Path(args.cert).is_file() and Path(args.key).is_file()):
            raise SystemExit("[hub] error: --cert and --key need each other and must name files (PEM)")
        return str(Path(args.cert).resolve()), str(Path(args.key).resolve())
    if not args.self_signed:
        return None
    crt, key = STATE / "tls.crt", STATE / "tls.key"
    if not (crt.exists() and key.exists()):
        names = {"DNS:localhost", "IP:127.0.0.1"} | ({f"IP:{args.ip}"} if args.ip != "0.0.0.0" else set())
        names |= {f"DNS:{os.uname().nodename}"}
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365", "-subj",
                        "/CN=rust-alloc-course hub", "-addext", "subjectAltName=" + ",".join(sorted(names)),
                        "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
        os.chmod(key, 0o600)
    fingerprint = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(crt)],
                                 capture_output=True, text=True).stdout.strip().split("=")[-1]
    print(f"[hub] self-signed certificate {crt} (learners' browsers must trust it; SHA-256 {fingerprint})")
    return str(crt), str(key)


def pull_link(base: str) -> str:
    """The nbgitpuller link that merges the course's latest chapters into a learner's home."""
    from urllib.parse import urlencode
    q = urlencode({"repo": f"file://{course_hub.CONTENT_REPO}", "branch": "main", "targetpath": course_hub.CONTENT_DIR,
                   "urlpath": f"lab/tree/{course_hub.CONTENT_DIR}/notebooks/00-start-here.ipynb"})
    return f"{base}/hub/user-redirect/git-pull?{q}"


def wait_up(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            import ssl
            urllib.request.urlopen(url, timeout=2, context=ssl._create_unverified_context())  # only: is it up?
            return True
        except Exception:
            time.sleep(0.3)
    return False


def cmd_start(args) -> int:
    if os.geteuid() != 0:
        print("[hub] error: run as root (each learner is a Unix user the hub starts servers as)", file=sys.stderr)
        return 1
    if not (PREFIX / "venv/bin/jupyterhub").exists():
        print(f"[hub] error: no shared install in {PREFIX}: run scripts/setup_shared.sh (make hub does)", file=sys.stderr)
        return 1
    try:
        learners = course_hub.read_class_list(Path(args.class_list))
    except (OSError, course_hub.ClassListError) as e:
        print(f"[hub] error: {e}", file=sys.stderr)
        return 1
    if course_hub.cgroup_version() is None:
        print("[hub] warning: no cgroups here: learners' memory and processes are NOT bounded", file=sys.stderr)
    new = []
    for name in [args.teacher, *learners]:
        pw = course_hub.ensure_learner(name)
        if pw:
            new.append((name, pw))
    if new:
        print("[hub] new accounts (passwords shown once; `hub/run.py password NAME` makes a new one):")
        for name, pw in new:
            print(f"  {name:<24} {pw}{'   (teacher, admin)' if name == args.teacher else ''}")
    env = hub_env(args)
    tls = tls_pair(args)
    if tls:
        env["COURSE_HUB_CERT"], env["COURSE_HUB_KEY"] = tls
    (STATE / "class.txt").write_text("\n".join([args.teacher, *learners]) + "\n")
    (STATE / "learners.txt").write_text("".join(f"{n}\n" for n in learners))
    # Where root's own tools (hub/run.py warm) reach the hub's API on this machine.
    (STATE / "api_url").write_text(f"{'https' if tls else 'http'}://{'127.0.0.1' if args.ip == '0.0.0.0' else args.ip}:{args.port}\n")
    base = f"{'https' if tls else 'http'}://{'localhost' if args.ip in ('127.0.0.1', '0.0.0.0') else args.ip}:{args.port}"
    cmd = [str(PREFIX / "venv/bin/jupyterhub"), "-f", str(HERE / "jupyterhub_config.py")]
    if args.background:
        log = open(STATE / "hub.log", "ab")
        p = subprocess.Popen(cmd, env=env, cwd=STATE, stdout=log, stderr=log, start_new_session=True)
        ip = "127.0.0.1" if args.ip == "0.0.0.0" else args.ip
        if not wait_up(f"{'https' if tls else 'http'}://{ip}:{args.port}/hub/api/", 60):
            print(f"[hub] error: the hub did not answer within 60 s: see {STATE / 'hub.log'}", file=sys.stderr)
            return 1
        print(f"[hub] running (pid {p.pid}) at {base}/ for {len(learners)} learners; log: {STATE / 'hub.log'}")
    else:
        print(f"[hub] starting at {base}/ for {len(learners)} learners; each logs in with their name and password.")
        print(f"[hub] course updates: `hub/run.py update`, then share {pull_link(base)}")
        os.execve(cmd[0], cmd, env)
    return 0


def hub_api() -> tuple[str, str]:
    """Where root's own tools reach the running hub's API, and the course's service token (OSError when no
    hub was started from this state folder)."""
    return (STATE / "api_url").read_text().strip(), (STATE / "service_token").read_text().strip()


def running_servers(users) -> list[str]:
    """The names in a GET /users answer that have a server running or starting."""
    return [u["name"] for u in users if isinstance(u, dict) and u.get("servers")] if isinstance(users, list) else []


def stop_servers_through_hub(timeout: float = 60) -> None:
    """Asks the running hub to stop every learner's server (DELETE /users/NAME/server, the course's service
    token) and waits until it says none runs, at most `timeout` s: the hub then records them as stopped, and
    the next `make hub` does not wait on servers that no longer exist (a hub that finds a server in its
    database checks it for up to 120 s before giving up on it). Nothing to do without a hub."""
    import prestart

    try:
        base, token = hub_api()
        status, users = prestart.api(base, token, "GET", "/users")
    except (OSError, ValueError):
        return
    running = running_servers(users) if status == 200 else []
    for name in running:
        prestart.api(base, token, "DELETE", f"/users/{name}/server")
    deadline = time.monotonic() + timeout
    while running and time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            status, users = prestart.api(base, token, "GET", "/users")
        except OSError:
            break
        if status != 200:
            break
        running = running_servers(users)


def cmd_stop(args) -> int:
    """Stops this hub's learners' servers (through the hub, so it records them stopped), then the hub (its
    state folder's pid files), its proxy, and whatever of its learners' processes is left."""
    try:
        stop_servers_through_hub()
    except Exception as e:  # the hub may be half gone: what follows ends everything anyway
        print(f"[hub] the hub did not stop the servers itself ({e}); ending them directly", file=sys.stderr)
    for pid_file in ("jupyterhub.pid", "jupyterhub-proxy.pid"):
        try:
            pid = int((STATE / pid_file).read_text())
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.1)
        except (OSError, ValueError):
            pass
    stopped = 0
    # Learners' servers outlive the hub on purpose (a hub restart keeps them): stop them too.
    try:
        names = course_hub.read_class_list(STATE / "class.txt")
    except (OSError, course_hub.ClassListError):
        names = []
    for name in names:
        stopped += course_hub.kill_cgroup(name)
    print(f"[hub] stopped ({stopped} learner processes ended)")
    return 0


def cmd_warm(args) -> int:
    """Pre-starts the room: every learner's server and warmed kernel (hub/prestart.py)."""
    import prestart

    if os.geteuid() != 0:
        print("[hub-warm] error: run as root (it reads the learners' cgroups and the hub's service token)", file=sys.stderr)
        return 1
    try:
        base, token = hub_api()
        names = course_hub.read_class_list(STATE / "learners.txt")
    except (OSError, course_hub.ClassListError) as e:
        print(f"[hub-warm] error: no running hub in {STATE} ({e}): start it first (make hub CLASS=...)", file=sys.stderr)
        return 1
    status, _ = prestart.api(base, token, "GET", "/")
    if status != 200:
        print(f"[hub-warm] error: the hub at {base} does not answer (HTTP {status}): start it first", file=sys.stderr)
        return 1
    try:
        prestart.prestart(base, token, names)
    except prestart.PrestartError as e:
        print(f"[hub-warm] {e}", file=sys.stderr)
        return 1
    return 0


def cmd_password(args) -> int:
    if not course_hub.user_exists(args.name):
        print(f"[hub] error: no user {args.name!r}", file=sys.stderr)
        return 1
    print(f"  {args.name:<24} {course_hub.set_password(args.name)}")
    return 0


def cmd_update(args) -> int:
    r = subprocess.run([str(HERE.parent / "scripts/setup_shared.sh")])
    if r.returncode != 0:
        return r.returncode
    print(f"[hub] learners bring the new chapters in (their edits kept) by opening:\n  {pull_link(args.base)}")
    print("[hub] (every learner's server also merges them when it starts)")
    return 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start")
    s.add_argument("--class", dest="class_list", required=True, help="file of learner names, one per line")
    s.add_argument("--teacher", default="teacher")
    s.add_argument("--ip", default="127.0.0.1", help="address learners connect to (0.0.0.0: every interface)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--background", action="store_true")
    s.add_argument("--cert", help="TLS certificate (PEM) learners' browsers trust; with --key")
    s.add_argument("--key", help="its private key (PEM)")
    s.add_argument("--self-signed", action="store_true", help="serve https with a certificate made once here")
    s.set_defaults(fn=cmd_start)
    sub.add_parser("stop").set_defaults(fn=cmd_stop)
    sub.add_parser("warm").set_defaults(fn=cmd_warm)
    p = sub.add_parser("password")
    p.add_argument("name")
    p.set_defaults(fn=cmd_password)
    u = sub.add_parser("update")
    u.add_argument("--base", default="http://localhost:8000")
    u.set_defaults(fn=cmd_update)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
