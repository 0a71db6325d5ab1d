"""Soak test of the Gradio demo: many good and bad requests on localhost; does anything grow or break?

    python -m cats.benchmarks.gradio_soak [--quick] [--requests N] [--minutes M] [--model DIR] [--onnx DIR]
                                          [--cache-ttl S] [--seed S]

Starts ``python spaces_demo/app.py`` on a free 127.0.0.1 port (nothing else is contacted) with its
temp folder (TMPDIR) and Gradio cache (GRADIO_TEMP_DIR) in a fresh folder, so every file counted is
the app's. After one warm-up request per endpoint it records the server's RSS and the files and
bytes in both folders, then sends N requests (stopping early at the time limit) drawn at random
from generate / classify / restyle / blend, about a third of them bad (out-of-range numbers, 10**400,
huge strings, a weight without a breed, paths nobody uploaded, broken data: URLs, too few inputs).
A good request must succeed; a bad one must be refused with a message in the app's own words.
Then it records the same figures again at once, and after one cache clean-up period
(``--cache-ttl``, passed to the app), and prints failures, latency p50/p95 and the growth.
Also measured: the streaming overhead of /generate at the default settings against the model's
own time (goal: overhead <= 1.5 x the model), and the app's peak memory while it classifies and
restyles the largest picture the size limit accepts (``cats.images.MAX_SIDE`` square), next to
the answer to a 1 x 64,000,000 strip (refused from its header). The client's downloads are removed
after each request, so the benchmark leaves nothing behind either.

``--quick`` (40 requests, 4 s cache TTL) is what the test suite runs.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

from cats.benchmarks.gradio_startup import _free_port, _wait_http  # the same launch helpers as the start-up benchmark
from cats.images import MAX_SIDE
from cats.noise import MAX_SEED
from cats.paths import DEMO_APP

RSS_GOAL_MB = 50.0
STREAM_GOAL = 1.5  # streaming overhead / model time at the default settings
# Words of Gradio's or Python's own refusals: none may reach a visitor.
INTERNALS = ("pydantic", "object at 0x", "Traceback", "binascii", "int too large", "Wanted inputs",
             "gradio.components", "validation error", "Cannot move", "/proc", "/etc")


@dataclass
class Outcome:
    endpoint: str
    good: bool
    ok: bool
    seconds: float
    detail: str = ""


@dataclass
class Snapshot:
    rss_mb: float
    temp_files: int
    temp_bytes: int
    cache_files: int
    cache_bytes: int
    cache_dirs: int = 0
    cache_paths: frozenset = frozenset()  # relative paths, to name what stayed

    def line(self) -> str:
        return (f"RSS {self.rss_mb:.0f} MB · temp {self.temp_files} files / {self.temp_bytes / 1e6:.2f} MB · "
                f"cache {self.cache_files} files / {self.cache_bytes / 1e6:.2f} MB ({self.cache_dirs} folders)")


@dataclass
class Folders:
    temp: Path
    cache: Path
    pid: int

    def snapshot(self) -> Snapshot:
        rss_kb = next(int(line.split()[1]) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines()
                      if line.startswith("VmRSS:"))
        t_files, t_bytes, _ = _usage(self.temp, skip=self.cache)
        c_files, c_bytes, c_dirs = _usage(self.cache)
        paths = frozenset(str(p.relative_to(self.cache)) for p in self.cache.rglob("*") if p.is_file())
        return Snapshot(rss_kb / 1024, t_files, t_bytes, c_files, c_bytes, c_dirs, paths)


def _usage(root: Path, skip: Path | None = None) -> tuple[int, int, int]:
    files = size = dirs = 0
    for dirpath, dirnames, filenames in os.walk(root):
        if skip is not None and Path(dirpath) == skip.parent:
            dirnames[:] = [d for d in dirnames if Path(dirpath, d) != skip]
        dirs += len(dirnames)
        for name in filenames:
            try:
                size += os.lstat(os.path.join(dirpath, name)).st_size
                files += 1
            except FileNotFoundError:  # deleted by the app meanwhile
                continue
    return files, size, dirs


def _png_bytes(rng: random.Random, side: int = 48) -> bytes:
    img = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class Soaker:
    """Sends the requests through gradio_client (good ones, as a visitor would) and raw HTTP (hostile ones)."""

    def __init__(self, url: str, workdir: Path, seed: int) -> None:
        from gradio_client import Client  # imported here: the demo extra (gradio_client), not a core dependency

        self.url = url
        self.rng = random.Random(seed)
        self.workdir = workdir
        # Results are downloaded as gradio_client does by default (and a browser does): a streamed
        # update that carries files costs their download too.
        self.client = Client(url, verbose=False, download_files=str(workdir / "downloads"))
        info = self.client.view_api(print_info=False, return_format="dict")
        params = info["named_endpoints"]["/generate"]["parameters"]
        self.backend = next(p["parameter_default"] for p in params if p["parameter_name"] == "backend_label")
        self.steps = next(p["parameter_default"] for p in params if p["parameter_name"] == "steps")
        self.guidance = next(p["parameter_default"] for p in params if p["parameter_name"] == "guidance")
        self.uploads = 0

    def close(self) -> None:
        self.client.close()

    # ---- requests ------------------------------------------------------------------------------

    def _photo(self):
        from gradio_client import handle_file  # imported here: the demo extra (gradio_client), not a core dependency

        self.uploads += 1
        path = self.workdir / f"cat_{self.uploads}.png"  # a new picture each time: each is a new upload
        path.write_bytes(_png_bytes(self.rng))
        return handle_file(str(path)), path

    def good(self, endpoint: str):
        r, b = self.rng, self.backend
        breed = r.choice(["Siamese", "Bengal", "Sphynx", "Persian", "Maine Coon"])
        if endpoint == "generate":
            job = self.client.submit(breed, self.steps, self.guidance, r.choice(["euler", "heun"]),
                                     r.randint(0, MAX_SEED), r.choice([1, 1, 2]), b, api_name="/generate")
            final = job.result()
            assert final[1].startswith("**Done:**") and final[2], final[1]
        elif endpoint == "classify":
            photo, path = self._photo()
            verdict, _, probs = self.client.predict(photo, b, api_name="/classify")
            assert abs(sum(probs.values()) - 1) < 1e-4 and "data-verdict=" in verdict, verdict
            path.unlink()
        elif endpoint == "restyle":
            photo, path = self._photo()
            _, status, _ = self.client.predict(photo, breed, r.choice([0.3, 0.6, 0.9]), 8, self.guidance,
                                               r.randint(0, MAX_SEED), b, api_name="/restyle")
            assert "restyled as" in status, status
            path.unlink()
        else:
            third = r.choice([None, "Bombay"])
            _, status, _ = self.client.predict("Bengal", 0.5, breed, 0.5, third, 0.25 if third else 0.0,
                                               8, self.guidance, r.randint(0, MAX_SEED), b, api_name="/blend")
            assert status.startswith("**Done:**"), status
        self.clean_downloads()

    def clean_downloads(self) -> None:
        """Remove what the client downloaded (one folder per file): the soak keeps nothing it fetched."""
        shutil.rmtree(self.workdir / "downloads", ignore_errors=True)

    def largest_image(self, pid: int) -> dict:
        """The app's peak memory over classify + restyle of the largest accepted picture, and a strip's refusal."""
        from gradio_client import handle_file  # imported here: the demo extra (gradio_client), not a core dependency

        path = self.workdir / "largest.png"
        img = Image.new("RGB", (MAX_SIDE, MAX_SIDE), (200, 120, 60))
        ImageDraw.Draw(img).ellipse((1000, 1000, MAX_SIDE - 1000, MAX_SIDE - 1000), fill=(40, 40, 40))
        img.save(path)  # a few hundred KB: shapes compress well
        status = Path(f"/proc/{pid}/status")
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak RSS starts again from the current RSS
        before = _status_kb(status, "VmRSS")
        self.client.predict(handle_file(str(path)), self.backend, api_name="/classify")
        self.client.predict(handle_file(str(path)), "Siamese", 0.6, 4, self.guidance, 0, self.backend,
                            api_name="/restyle")
        peak = _status_kb(status, "VmHWM")
        strip = self.workdir / "strip.png"
        Image.new("1", (64_000_000, 1)).save(strip)
        kind, data = raw_call(self.url, "classify", [{"url": "data:image/png;base64,"
                                                      + base64.b64encode(strip.read_bytes()).decode()}, self.backend])
        self.clean_downloads()
        path.unlink()
        strip.unlink()
        return {"side": MAX_SIDE, "peak_rss_growth_mb": round((peak - before) / 1024, 1),
                "strip_refused": kind == "error" and "over the limit" in str(data), "strip_answer": str(data)[:200]}

    def bad(self, endpoint: str) -> str:
        """A hostile request as raw JSON -> the refusal's message (raises AssertionError if it was not refused)."""
        r, b = self.rng, self.backend
        huge = "Persian" * r.choice([1_000, 30_000])
        data_png = "data:image/png;base64," + base64.b64encode(_png_bytes(r, 8)).decode()
        # generate, restyle and blend take the guide (autoguidance scale) last, after the engine
        cases = {
            "generate": [["Bengal", 0, 3.0, "euler", 0, 1, b, 2.0], ["Bengal", 10**400, 3.0, "euler", 0, 1, b, 2.0],
                         ["Bengal", 4, 3.0, "euler", 10**400, 1, b, 2.0], [huge, 4, 3.0, "euler", 0, 1, b, 2.0],
                         ["Bengal", 4, 3.0, "ddim", 0, 9, b, 2.0], ["Bengal", 4]],
            "classify": [[{"path": "/etc/hostname"}, b], [{"path": "/proc/self/environ", "meta": {"_type": "gradio.FileData"}}, b],
                         [{"path": "file:///etc/passwd"}, b], ["", b], [123, b],
                         [{"url": "data:image/png;base64,@@@"}, b], [None]],
            "restyle": [[{"path": str(Path.home() / ".bashrc")}, "Siamese", 0.5, 4, 3.0, 0, b, 2.0],
                        [data_png, "Siamese", 7.0, 4, 3.0, 0, b, 2.0], [data_png, huge, 0.5, 4, 3.0, 0, b, 2.0]],
            "blend": [["Bengal", 0.5, "Sphynx", 0.5, None, 1.0, 4, 3.0, 0, b, 2.0],
                      ["Bengal", 0.5, "Sphynx", 0.5, "Persian", None, 4, 3.0, 0, b, 2.0],
                      ["Bengal", 0.0, "Sphynx", 0.0, None, 0.0, 4, 3.0, 0, b, 2.0]],
        }
        kind, payload = raw_call(self.url, endpoint, r.choice(cases[endpoint]))
        assert kind == "error", f"not refused: {kind} {str(payload)[:200]}"
        message = payload.get("error") if isinstance(payload, dict) else payload
        assert isinstance(message, str) and message, f"refused without a message: {payload!r}"[:300]
        leaked = [w for w in INTERNALS if w in message]
        assert not leaked and len(message) < 600, f"internals in the refusal ({leaked}): {message[:300]}"
        return message

    def one(self, endpoint: str, good: bool) -> Outcome:
        t0 = time.perf_counter()
        try:
            if good:
                self.good(endpoint)
                detail = ""
            else:
                detail = self.bad(endpoint)
            ok = True
        except Exception as exc:  # recorded as a failure of this request; the soak goes on
            ok, detail = False, f"{type(exc).__name__}: {exc}"[:300]
        return Outcome(endpoint, good, ok, time.perf_counter() - t0, detail)


def raw_call(url: str, api: str, data) -> tuple[str, object]:
    """POST a raw JSON body to /gradio_api/call/<api> -> (last event: "complete" | "error" | "http", data)."""
    import httpx  # imported here: it comes with the demo extra (gradio_client)

    with httpx.Client(base_url=url, timeout=300) as http:
        r = http.post(f"gradio_api/call/{api}", content=json.dumps({"data": data}),
                      headers={"content-type": "application/json"})
        if r.status_code != 200:
            return "http", {"error": f"HTTP {r.status_code}: {r.text[:200]}"}
        text = http.get(f"gradio_api/call/{api}/{r.json()['event_id']}").text
    events = [line for line in text.split("\n\n") if line.startswith("event:") and "heartbeat" not in line]
    kind, _, payload = events[-1].partition("\ndata: ")
    return kind.removeprefix("event: ").strip(), json.loads(payload)


def _status_kb(status: Path, key: str) -> int:
    return next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith(key + ":"))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


@dataclass
class Report:
    requests: int
    seconds: float
    outcomes: list[Outcome] = field(default_factory=list)
    before: Snapshot | None = None
    after: Snapshot | None = None
    settled: Snapshot | None = None
    stream: dict | None = None

    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def as_dict(self) -> dict:
        good = [o.seconds for o in self.outcomes if o.good and o.ok]
        per = {}
        for ep in ("generate", "classify", "restyle", "blend"):
            t = [o.seconds for o in self.outcomes if o.endpoint == ep and o.good and o.ok]
            per[ep] = {"n": len(t), "p50_s": round(percentile(t, 0.5), 3), "p95_s": round(percentile(t, 0.95), 3)}
        return {
            "requests": self.requests, "seconds": round(self.seconds, 1),
            "good": sum(o.good for o in self.outcomes), "bad": sum(not o.good for o in self.outcomes),
            "good_failed": sum(o.good and not o.ok for o in self.outcomes),
            "bad_not_refused_cleanly": sum(not o.good and not o.ok for o in self.outcomes),
            "p50_s": round(percentile(good, 0.5), 3), "p95_s": round(percentile(good, 0.95), 3), "per_endpoint": per,
            "before": _public(self.before), "after": _public(self.after), "settled": _public(self.settled),
            "cache_files_stayed": sorted(self.settled.cache_paths - self.before.cache_paths)[:10],
            "rss_growth_mb": round(self.settled.rss_mb - self.before.rss_mb, 1),
            "cache_files_growth": self.settled.cache_files - self.before.cache_files,
            "cache_bytes_growth": self.settled.cache_bytes - self.before.cache_bytes,
            "temp_files_growth": self.settled.temp_files - self.before.temp_files,
            "temp_bytes_growth": self.settled.temp_bytes - self.before.temp_bytes,
            "stream": self.stream,
        }


def _public(snap: Snapshot) -> dict:
    return {k: v for k, v in vars(snap).items() if k != "cache_paths"}


def model_seconds(model: str | None, onnx: str | None, steps: int, guidance: float, runs: int) -> tuple[str, float]:
    """Median time of the app's default backend for one image at ``steps`` (no callback, no Gradio)."""
    sys.path.insert(0, str(DEMO_APP.parent))
    from backends import make_backends  # imported here: the demo's folder is on sys.path only now
    from sources import read_manifest, resolve_sources  # imported here: the demo's folder is on sys.path only now

    sources = resolve_sources(model, onnx)
    manifest = read_manifest(sources.onnx_dir) if sources.onnx_dir else None
    backends = make_backends(sources.model_dir, sources.onnx_dir, manifest)
    label, backend = next(iter(backends.items()))
    backend.generate("Siamese", steps, guidance, "euler", 0, 1)  # load + warm up
    times = []
    for seed in range(runs):
        t0 = time.perf_counter()
        backend.generate("Siamese", steps, guidance, "euler", seed, 1)
        times.append(time.perf_counter() - t0)
    return label, statistics.median(times)


def stream_overhead(soaker: Soaker, model: str | None, onnx: str | None, runs: int) -> dict:
    """Streamed /generate at the default settings (1 image, euler) vs the model alone, medians of ``runs``."""
    label, model_s = model_seconds(model, onnx, soaker.steps, soaker.guidance, runs)
    times, updates = [], 0
    for seed in range(runs):
        t0 = time.perf_counter()
        job = soaker.client.submit("Siamese", soaker.steps, soaker.guidance, "euler", seed, 1, soaker.backend,
                                   api_name="/generate")
        job.result()
        times.append(time.perf_counter() - t0)
        updates = len(job.outputs())
    streamed = statistics.median(times)
    overhead = (streamed - model_s) / model_s
    return {"backend": label, "steps": soaker.steps, "model_s": round(model_s, 3), "streamed_s": round(streamed, 3),
            "updates": updates, "overhead_x": round(overhead, 2), "goal_x": STREAM_GOAL, "goal_met": overhead <= STREAM_GOAL}


def run(quick: bool = False, requests: int | None = None, minutes: float | None = None,
        model: str | Path | None = None, onnx: str | Path | None = None, cache_ttl: int | None = None,
        seed: int = 0, bad_share: float = 0.35) -> dict:
    """Start the app, soak it, stop it. Prints the report and returns its figures."""
    requests = requests or (40 if quick else 500)
    minutes = minutes or (5.0 if quick else 60.0)
    # quick: a TTL short enough for the test suite, long enough that a file is still there when the client
    # fetches it on a saturated 2-core machine (4 s was not: one warm-up download came back 403)
    cache_ttl = cache_ttl or (10 if quick else 30)
    root = Path(tempfile.mkdtemp(prefix="tiny-cats-soak-"))
    temp, cache, work = root / "tmp", root / "tmp" / "gradio", root / "client"
    for d in (temp, cache, work):
        d.mkdir(parents=True)
    env = {**os.environ, "TMPDIR": str(temp), "GRADIO_TEMP_DIR": str(cache), "GRADIO_ANALYTICS_ENABLED": "False"}
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    flags = ["--host", "127.0.0.1", "--port", str(port), "--cache-ttl", str(cache_ttl)]
    flags += ["--model", str(model)] if model else []
    flags += ["--onnx", str(onnx)] if onnx else []
    log = root / "app.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([sys.executable, str(DEMO_APP), *flags], stdout=sink, stderr=subprocess.STDOUT, env=env)
    report = Report(requests=requests, seconds=0.0)
    soaker = None
    try:
        _wait_http(url, proc, log, 300 if quick else 900)  # a busy machine starts the app slowly
        folders = Folders(temp, cache, proc.pid)
        soaker = Soaker(url, work, seed)
        for ep in ("generate", "classify", "restyle", "blend"):  # warm-up: load the backend, fill caches
            warm = soaker.one(ep, good=True)
            if not warm.ok:
                raise RuntimeError(f"warm-up /{ep} failed: {warm.detail}\n{log.read_text()[-3000:]}")
        report.stream = stream_overhead(soaker, model and str(model), onnx and str(onnx), runs=3 if quick else 10)
        soaker.clean_downloads()
        largest = soaker.largest_image(proc.pid)
        time.sleep(cache_ttl * 1.5 + 1)  # let the warm-up's files age out, so "before" is the resting state
        report.before = folders.snapshot()
        endpoints = ["generate", "classify", "restyle", "blend"]
        t0 = time.perf_counter()
        deadline = t0 + 60 * minutes
        for n in range(requests):
            if time.perf_counter() > deadline:
                print(f"  time limit: stopped after {n} requests", flush=True)
                break
            report.outcomes.append(soaker.one(soaker.rng.choice(endpoints), good=soaker.rng.random() >= bad_share))
            if (n + 1) % 50 == 0 and not quick:
                print(f"  {n + 1} requests in {time.perf_counter() - t0:.0f} s", flush=True)
        report.seconds = time.perf_counter() - t0
        report.after = folders.snapshot()
        # One clean-up: files older than the TTL are deleted once a period (a quarter of the TTL), so a
        # file goes at most TTL + one period after its last write; deleting it touches its folder,
        # which is removed once it has been empty and untouched for a TTL (checked once a period):
        # 2 TTL + 2 periods in all, plus a period and a second of slack.
        period = max(1, cache_ttl // 4)
        time.sleep(2 * cache_ttl + 3 * period + 1)
        report.settled = folders.snapshot()
        if proc.poll() is not None:
            raise RuntimeError(f"the app died during the soak:\n{log.read_text()[-3000:]}")
        tracebacks = log.read_text(errors="replace").count("Traceback")
        client_left = sum(1 for _ in (work / "downloads").rglob("*")) if (work / "downloads").exists() else 0
    finally:
        if soaker is not None:
            soaker.close()
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        leftover = [p.name for p in temp.iterdir() if p.name != "gradio"] if temp.is_dir() else []
        if not os.environ.get("SOAK_KEEP"):
            shutil.rmtree(root, ignore_errors=True)
    result = report.as_dict()
    result["tracebacks_in_log"] = tracebacks
    result["temp_left_after_exit"] = leftover
    result["client_downloads_left"] = client_left
    result["largest_image"] = largest
    _print(result, report.failures())
    return result


def _print(r: dict, failures: list[Outcome]) -> None:
    s = r["stream"]
    print(f"gradio soak: {r['requests']} requests asked, {r['good'] + r['bad']} sent in {r['seconds']:.0f} s "
          f"({r['good']} good, {r['bad']} bad)")
    print(f"  failures: {r['good_failed']} good requests failed, {r['bad_not_refused_cleanly']} bad ones not refused cleanly")
    for o in failures[:10]:
        print(f"    /{o.endpoint} ({'good' if o.good else 'bad'}): {o.detail}")
    print(f"  latency of good requests: p50 {r['p50_s']:.3f} s, p95 {r['p95_s']:.3f} s; " + ", ".join(
        f"{ep} p50 {v['p50_s']:.3f} / p95 {v['p95_s']:.3f} s (n={v['n']})" for ep, v in r["per_endpoint"].items()))
    for name in ("before", "after", "settled"):
        snap = Snapshot(**r[name])
        label = {"before": "before", "after": "after", "settled": "after clean-up"}[name]
        print(f"  {label:>14}: {snap.line()}")
    print(f"  growth after clean-up: RSS {r['rss_growth_mb']:+.1f} MB (goal <= {RSS_GOAL_MB:.0f}), "
          f"cache {r['cache_files_growth']:+d} files / {r['cache_bytes_growth'] / 1e6:+.2f} MB, "
          f"temp {r['temp_files_growth']:+d} files / {r['temp_bytes_growth'] / 1e6:+.2f} MB; "
          f"tracebacks in the app log: {r['tracebacks_in_log']}; temp left after exit: {r['temp_left_after_exit'] or 'none'}")
    if r["cache_files_stayed"]:
        print(f"  cache files that stayed: {', '.join(r['cache_files_stayed'])}")
    big = r["largest_image"]
    print(f"  largest accepted picture ({big['side']} x {big['side']}): peak memory +{big['peak_rss_growth_mb']:.0f} MB "
          f"over classify + restyle; a 1 x 64,000,000 strip {'refused' if big['strip_refused'] else 'NOT refused'}; "
          f"client downloads left: {r['client_downloads_left']}")
    print(f"  streaming /generate ({s['backend']}, {s['steps']} steps, 1 image): model {s['model_s']:.3f} s, "
          f"streamed call {s['streamed_s']:.3f} s in {s['updates']} updates -> overhead {s['overhead_x']:.2f} x the "
          f"model (goal <= {s['goal_x']}: {'met' if s['goal_met'] else 'NOT met'})")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="40 requests, 4 s cache TTL (the test suite's run)")
    p.add_argument("--requests", type=int, default=None, help="requests to send (default 500, quick 40)")
    p.add_argument("--minutes", type=float, default=None, help="stop sending after this long (default 60, quick 5)")
    p.add_argument("--model", default=None, help="pipeline directory (default: the app's, the bundled weights)")
    p.add_argument("--onnx", default=None, help="ONNX export directory (default: the app's)")
    p.add_argument("--cache-ttl", type=int, default=None, help="the app's --cache-ttl (default 30, quick 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the request mix")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    # Stopped with SIGTERM (timeout, a CI runner): unwind, so the app it started is stopped too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    result = run(quick=args.quick, requests=args.requests, minutes=args.minutes, model=args.model, onnx=args.onnx,
                 cache_ttl=args.cache_ttl, seed=args.seed)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
